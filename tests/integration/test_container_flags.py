"""run/create flags: --cidfile, --env-file, --label-file, --restart, --stop-signal/--stop-timeout;
top and container prune."""

import json


def test_cidfile_is_written_and_an_existing_one_refused(daemon, tmp_path):
    cidfile = tmp_path / "cid"
    r = daemon.cli("run", "--cidfile", str(cidfile), "--name", "cid-1", "busybox", "true")
    assert r.returncode == 0
    cid = daemon.client.call("GET", "/containers/cid-1/json")["Id"]
    assert cidfile.read_text() == cid
    before = daemon.cli("ps", "-aq").stdout
    r = daemon.cli("run", "--cidfile", str(cidfile), "--name", "cid-2", "busybox", "true")
    assert r.returncode == 125 and b"container ID file found" in r.stderr
    assert daemon.cli("ps", "-aq").stdout == before  # nothing created
    daemon.cli("rm", "cid-1")


def test_env_file_and_label_file(daemon, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nA=1\n\nB=two words\nFROM_HOST\n")
    labels = tmp_path / "labels"
    labels.write_text("team=blue\ntier=web\n")
    r = daemon.cli("run", "--rm", "--env-file", str(env_file), "--label-file", str(labels), "-e", "A=override",
                   "busybox", "sh", "-c", 'echo "$A|$B|${FROM_HOST:-unset}"')
    assert r.stdout == b"override|two words|unset\n"
    r = daemon.cli("create", "--name", "labelled", "--label-file", str(labels), "busybox", "true")
    assert daemon.client.call("GET", "/containers/labelled/json")["Config"]["Labels"] == {"team": "blue",
                                                                                          "tier": "web"}
    daemon.cli("rm", "labelled")
    bad = tmp_path / "bad"
    bad.write_text("BAD KEY=1\n")
    r = daemon.cli("run", "--rm", "--env-file", str(bad), "busybox", "true")
    assert r.returncode == 125 and b"contains whitespaces" in r.stderr


def test_restart_and_stop_flags_reach_the_config(daemon):
    daemon.cli("create", "--name", "flagged", "--restart", "on-failure:2", "--stop-signal", "SIGUSR2",
               "--stop-timeout", "3", "busybox", "true")
    info = daemon.client.call("GET", "/containers/flagged/json")
    assert info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert info["Config"]["StopSignal"] == "SIGUSR2" and info["Config"]["StopTimeout"] == 3
    daemon.cli("rm", "flagged")
    r = daemon.cli("run", "--rm", "--restart", "always:3", "busybox", "true")
    assert r.returncode == 125 and b"maximum retry count can only be used with 'on-failure'" in r.stderr


def test_top_lists_the_containers_processes_with_host_pids(daemon):
    import time

    daemon.cli("run", "-d", "--name", "topped", "busybox", "sh", "-c", "sleep 300 & sleep 301; true")
    try:
        pid = daemon.client.call("GET", "/containers/topped/json")["State"]["Pid"]
        deadline = time.time() + 5
        while True:
            result = daemon.client.call("GET", "/containers/topped/top")
            if len(result["Processes"]) == 3 or time.time() > deadline:
                break
            time.sleep(0.05)
        assert "PID" in result["Titles"] and "CMD" in result["Titles"]
        pids = {int(row[result["Titles"].index("PID")]) for row in result["Processes"]}
        assert pid in pids and len(pids) == 3
        r = daemon.cli("top", "topped", "-o", "pid,comm")
        lines = r.stdout.decode().splitlines()
        assert lines[0].split() == ["PID", "COMMAND"] and len(lines) == 4
        assert {line.split()[1] for line in lines[1:]} == {"sh", "sleep"}
    finally:
        daemon.cli("rm", "-f", "topped")
    r = daemon.cli("top", "topped")
    assert r.returncode == 1


def test_container_prune_removes_only_stopped_matching_containers(daemon):
    daemon.cli("create", "--name", "prune-a", "--label", "prune=yes", "busybox", "true")
    daemon.cli("create", "--name", "prune-b", "--label", "prune=no", "busybox", "true")
    daemon.cli("run", "-d", "--name", "prune-running", "--label", "prune=yes", "busybox", "sleep", "300")
    try:
        result = daemon.client.call("POST", "/containers/prune",
                                    query={"filters": json.dumps({"label": ["prune=yes"]})})
        a = daemon.cli("inspect", "-f", "{{.Id}}", "prune-a")
        assert a.returncode == 1  # gone
        assert len(result["ContainersDeleted"]) == 1 and result["SpaceReclaimed"] >= 0
        assert daemon.cli("inspect", "prune-b").returncode == 0
        assert daemon.cli("inspect", "prune-running").returncode == 0
        r = daemon.cli("container", "prune", "-f", "--filter", "label=prune=no")
        assert b"Deleted Containers:" in r.stdout and b"Total reclaimed space:" in r.stdout
        assert daemon.cli("inspect", "prune-b").returncode == 1
    finally:
        daemon.cli("rm", "-f", "prune-a", "prune-b", "prune-running")


def test_ps_images_and_inspect_formats(daemon):
    daemon.cli("run", "-d", "--name", "fmt-me", "--label", "tier=web", "busybox", "sleep", "300")
    try:
        r = daemon.cli("ps", "--filter", "name=fmt-me", "--format", "table {{.Names}}\t{{.Labels}}\t{{.Command}}")
        assert r.stdout.decode().splitlines() == ["NAMES     LABELS     COMMAND",
                                                  'fmt-me    tier=web   "sleep 300"']
        r = daemon.cli("ps", "--filter", "name=fmt-me", "--format", "{{.ID}} {{.State}}")
        cid = daemon.client.call("GET", "/containers/fmt-me/json")["Id"]
        assert r.stdout.decode() == f"{cid[:12]} running\n"
        r = daemon.cli("images", "--format", "{{.Repository}}:{{.Tag}}", "busybox")
        assert r.stdout.decode() == "busybox:latest\n"
        r = daemon.cli("inspect", "-f", "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}} "
                       "{{if .State.Running}}up{{end}} {{join .Config.Cmd \",\"}}", "fmt-me")
        assert r.stdout.decode() == "tier=web up sleep,300\n"
        r = daemon.cli("inspect", "-f", "{{range .Mounts}}", "fmt-me")
        assert r.returncode == 125 and b"missing {{end}}" in r.stderr
    finally:
        daemon.cli("rm", "-f", "fmt-me")


def test_stats_from_the_containers_cgroups(daemon):
    daemon.cli("run", "-d", "--name", "busy", "busybox", "sh", "-c", "while true; do :; done")
    daemon.cli("run", "-d", "--name", "idle", "busybox", "sleep", "300")
    try:
        one = daemon.client.call("GET", "/containers/busy/stats", query={"stream": "0"})
        assert one["id"] == daemon.client.call("GET", "/containers/busy/json")["Id"] and one["name"] == "/busy"
        assert one["precpu_stats"]["cpu_usage"]["total_usage"] > 0  # a single sample spans the last second
        cpu_delta = one["cpu_stats"]["cpu_usage"]["total_usage"] - one["precpu_stats"]["cpu_usage"]["total_usage"]
        assert cpu_delta > 0  # the spinning shell was charged CPU time (how much depends on host load)
        assert one["memory_stats"]["usage"] > 0 and one["memory_stats"]["limit"] > 0
        assert one["pids_stats"]["current"] == 1
        r = daemon.cli("stats", "--no-stream", "busy", "idle")
        lines = r.stdout.decode().splitlines()
        assert lines[0].split()[:4] == ["CONTAINER", "ID", "NAME", "CPU"]
        rows = {line.split()[1]: line.split() for line in lines[1:]}
        assert float(rows["busy"][2].rstrip("%")) > float(rows["idle"][2].rstrip("%"))
        r = daemon.cli("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "idle")
        assert r.stdout == b"idle 1\n"
    finally:
        daemon.cli("rm", "-f", "busy", "idle")


DIFF_SCRIPT = "echo x > /tmp/new; rm /bin/vi; echo y >> /etc/passwd; mkdir -p /a/b"
DIFF_EXPECTED = ["A /a", "A /a/b", "C /bin", "D /bin/vi", "C /etc", "C /etc/passwd", "C /tmp", "A /tmp/new"]


def test_diff_shows_added_changed_and_deleted_paths(daemon):
    daemon.cli("run", "--name", "differ", "busybox", "sh", "-c", DIFF_SCRIPT)
    try:
        assert daemon.cli("diff", "differ").stdout.decode().splitlines() == DIFF_EXPECTED
        # the runtime's mount points (/etc/hostname, /etc/hosts, ...) live in the init layer, not in the diff
        daemon.cli("run", "--name", "untouched", "busybox", "true")
        assert daemon.client.call("GET", "/containers/untouched/changes") is None
    finally:
        daemon.cli("rm", "-f", "differ", "untouched")
