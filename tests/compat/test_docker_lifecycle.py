"""The lifecycle scenarios of tests/integration, driven by the real docker CLI."""

import io
import json
import tarfile
import time

import pytest
from waiting import until


def run(daemon, *args, input=None):
    r = daemon.docker(*args, input=input)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


@pytest.fixture
def names(daemon):
    made = []
    yield made
    for name in made:
        daemon.docker("rm", "-f", name)


TRAP = "trap 'echo bye; exit 0' TERM; echo ready; while true; do sleep 0.1; done"


def test_stop_kill_restart_rename_wait(daemon, names):
    names += ["dk-life", "dk-life2"]
    assert run(daemon, "run", "-d", "--name", "dk-life", "busybox", "sh", "-c", TRAP)[0] == 0
    assert until(lambda: "ready" in run(daemon, "logs", "dk-life")[1])
    code, out, _ = run(daemon, "stop", "dk-life")
    assert code == 0 and out == "dk-life\n"
    assert run(daemon, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "dk-life")[1] == "exited 0\n"
    assert run(daemon, "start", "dk-life")[0] == 0
    assert until(lambda: run(daemon, "logs", "dk-life")[1].count("ready") == 2)
    assert run(daemon, "kill", "-s", "KILL", "dk-life")[0] == 0
    assert run(daemon, "wait", "dk-life")[1] == "137\n"
    assert run(daemon, "restart", "-t", "1", "dk-life")[0] == 0
    assert run(daemon, "inspect", "-f", "{{.State.Running}}", "dk-life")[1] == "true\n"
    assert run(daemon, "rename", "dk-life", "dk-life2")[0] == 0
    assert run(daemon, "inspect", "-f", "{{.Name}}", "dk-life2")[1] == "/dk-life2\n"
    code, _, err = run(daemon, "kill", "-s", "NOPE", "dk-life2")
    assert code != 0 and "Invalid signal: NOPE" in err


def test_pause_exec_top_stats_update(daemon, names):
    names.append("dk-busy")
    assert run(daemon, "run", "-d", "--name", "dk-busy", "busybox", "sleep", "300")[0] == 0
    code, out, _ = run(daemon, "exec", "-e", "X=1", "-w", "/tmp", "-u", "nobody", "dk-busy", "sh", "-c",
                       "echo $X $(pwd) $(id -u); exit 4")
    assert code == 4 and out == "1 /tmp 65534\n"
    assert run(daemon, "exec", "-i", "dk-busy", "cat", input=b"piped\n")[1] == "piped\n"
    code, out, _ = run(daemon, "top", "dk-busy")
    assert code == 0 and "sleep 300" in out and out.splitlines()[0].split()[:2] == ["UID", "PID"]
    assert run(daemon, "pause", "dk-busy")[0] == 0
    assert "(Paused)" in run(daemon, "ps", "--filter", "name=dk-busy")[1]
    code, _, err = run(daemon, "exec", "dk-busy", "true")
    assert code != 0 and "is paused" in err
    assert run(daemon, "unpause", "dk-busy")[0] == 0
    code, out, _ = run(daemon, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "dk-busy")
    assert code == 0 and out == "dk-busy 1\n"
    assert run(daemon, "update", "--memory", "64m", "--memory-swap", "128m", "--restart", "always", "dk-busy")[0] == 0
    host = json.loads(run(daemon, "inspect", "-f", "{{json .HostConfig}}", "dk-busy")[1])
    assert host["Memory"] == 64 * 1024 * 1024 and host["RestartPolicy"]["Name"] == "always"


def test_cp_diff_export(daemon, names, tmp_path):
    names.append("dk-files")
    assert run(daemon, "run", "--name", "dk-files", "busybox", "sh", "-c", "echo data > /made; rm /bin/vi")[0] == 0
    assert run(daemon, "cp", "dk-files:/made", str(tmp_path / "made"))[0] == 0
    assert (tmp_path / "made").read_text() == "data\n"
    (tmp_path / "back").write_text("back in\n")
    assert run(daemon, "cp", str(tmp_path / "back"), "dk-files:/tmp/")[0] == 0
    assert run(daemon, "diff", "dk-files")[1].splitlines() == ["C /bin", "D /bin/vi", "A /made", "C /tmp",
                                                                "A /tmp/back"]
    exported = daemon.docker("export", "dk-files").stdout
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        names_in = set(tar.getnames())
    assert "made" in names_in and "tmp/back" in names_in and "bin/vi" not in names_in


def test_logs_options_ps_filters_and_format(daemon, names):
    names += ["dk-logs", "dk-other"]
    run(daemon, "run", "--name", "dk-logs", "--label", "suite=compat", "busybox", "sh", "-c",
        "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three")
    run(daemon, "create", "--name", "dk-other", "busybox", "true")
    assert run(daemon, "logs", "--tail", "1", "dk-logs")[1] == "three\n"
    code, out, err = run(daemon, "logs", "-t", "dk-logs")
    assert out.splitlines()[0].endswith("Z one") and err.strip().endswith("Z two")
    assert run(daemon, "ps", "-a", "--filter", "label=suite=compat", "--format", "{{.Names}}")[1] == "dk-logs\n"
    assert run(daemon, "ps", "-a", "--filter", "status=created", "--filter", "name=dk-other",
               "--format", "{{.Names}} {{.Status}}")[1] == "dk-other Created\n"
    assert run(daemon, "ps", "-a", "--filter", "exited=0", "--filter", "name=dk-logs", "-q")[1].strip()


def test_events_health_init_and_prune(daemon, names):
    names += ["dk-health", "dk-init", "dk-prune"]
    since = str(int(time.time()) - 1)
    run(daemon, "run", "-d", "--name", "dk-health", "--health-cmd", "true", "--health-interval", "100ms",
        "busybox", "sleep", "300")
    assert until(lambda: "(healthy)" in run(daemon, "ps", "--filter", "name=dk-health")[1])
    out = run(daemon, "events", "--since", since, "--until", str(int(time.time()) + 1), "--filter",
              "container=dk-health", "--format", "{{.Action}}")[1].splitlines()
    assert "create" in out and "start" in out and "health_status: healthy" in out
    code, out, _ = run(daemon, "run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '")
    assert code == 0 and out.startswith("/sbin/docker-init -- sh")
    run(daemon, "create", "--name", "dk-prune", "--label", "prune=me", "busybox", "true")
    code, out, _ = run(daemon, "container", "prune", "-f", "--filter", "label=prune=me")
    assert code == 0 and "Total reclaimed space" in out
    assert run(daemon, "inspect", "dk-prune")[0] != 0


def test_restart_policy_and_cidfile(daemon, names, tmp_path):
    names.append("dk-flaky")
    cidfile = tmp_path / "cid"
    assert run(daemon, "run", "-d", "--name", "dk-flaky", "--cidfile", str(cidfile), "--restart", "on-failure:2",
               "busybox", "sh", "-c", "exit 1")[0] == 0
    assert until(lambda: run(daemon, "inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "dk-flaky")[1]
                 == "2 exited\n")
    assert cidfile.read_text() == run(daemon, "inspect", "-f", "{{.Id}}", "dk-flaky")[1].strip()
    code, _, err = run(daemon, "run", "--cidfile", str(cidfile), "busybox", "true")
    assert code != 0 and "container ID file found" in err
