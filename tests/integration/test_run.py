"""Real containers through the dockyard CLI and a private daemon."""

import os


def out(result) -> str:
    return result.stdout.decode()


def test_echo_and_exit_codes(daemon):
    r = daemon.cli("run", "--rm", "busybox", "echo", "hello from dockyard")
    assert r.returncode == 0, r.stderr
    assert out(r) == "hello from dockyard\n"
    assert daemon.cli("run", "--rm", "busybox", "sh", "-c", "exit 3").returncode == 3


def test_killed_by_signal_reports_128_plus_n(daemon):
    import signal
    import time

    cid = out(daemon.cli("run", "-d", "busybox", "sleep", "60")).strip()
    pid = int(out(daemon.cli("inspect", "-f", "{{.State.Pid}}", cid)))
    os.kill(pid, signal.SIGKILL)  # PID 1 of a namespace only dies from SIGKILL sent from outside
    for _ in range(200):
        if out(daemon.cli("inspect", "-f", "{{.State.Status}}", cid)).strip() == "exited":
            break
        time.sleep(0.02)
    assert out(daemon.cli("inspect", "-f", "{{.State.ExitCode}}", cid)).strip() == "137"
    daemon.cli("rm", cid)


def test_stdout_and_stderr_stay_apart(daemon):
    r = daemon.cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert out(r) == "out\n" and r.stderr.decode() == "err\n"


def test_command_is_pid_1_and_hostname_is_short_id(daemon):
    r = daemon.cli("run", "--name", "pid1", "busybox", "sh", "-c", "echo $$; hostname; cat /etc/hostname")
    assert r.returncode == 0, r.stderr
    cid = out(daemon.cli("inspect", "-f", "{{.Id}}", "pid1")).strip()
    assert out(r).split() == ["1", cid[:12], cid[:12]]
    daemon.cli("rm", "pid1")


def test_container_sees_its_own_root(daemon, tmp_path):
    marker = f"/tmp/dockyard-host-marker-{os.getpid()}"
    open(marker, "w").close()
    try:
        r = daemon.cli("run", "--rm", "busybox", "sh", "-c", f"test -e {marker} && echo leaked || echo isolated; "
                                                          "ls /bin/busybox; ps -o pid= | wc -l")
        lines = out(r).split()
        assert lines[0] == "isolated" and lines[1] == "/bin/busybox"
        assert int(lines[2]) <= 3  # only sh, ps (and wc): the host's processes are not visible
    finally:
        os.unlink(marker)


def test_environment_user_and_workdir(daemon):
    r = daemon.cli("run", "--rm", "-e", "PATH=/bin", "-e", "FOO=bar", "-w", "/made/here", "-u", "nobody", "busybox",
                   "sh", "-c", "echo $PATH $FOO $HOSTNAME; pwd; id -u; id -g")
    lines = out(r).splitlines()
    assert lines[0].startswith("/bin bar ") and len(lines[0].split()[2]) == 12
    assert lines[1:] == ["/made/here", "65534", "65534"]
    r = daemon.cli("run", "--rm", "-u", "ghost", "busybox", "true")
    assert r.returncode != 0 and b"unable to find user ghost" in r.stderr


def test_default_capabilities_and_devices(daemon):
    r = daemon.cli("run", "--rm", "busybox", "sh", "-c", "grep CapEff /proc/self/status; ls /dev; "
                   "mount | grep ' /sys ' ; echo x > /dev/null && echo ok")
    text = out(r)
    assert "CapEff:\t00000000a80425fb" in text  # Docker's default set
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "fd"):
        assert node in text.split()
    assert "(ro," in text and text.endswith("ok\n")


def test_rm_leaves_nothing_behind(daemon):
    places = [os.path.join(daemon.data_root, "containers"), os.path.join(daemon.data_root, "overlay2", "snapshots"),
              os.path.join(daemon.exec_root, "containers")]
    before = [set(os.listdir(p)) for p in places]
    assert daemon.cli("run", "--rm", "--name", "gone", "busybox", "true").returncode == 0
    assert "gone" not in out(daemon.cli("ps", "-a"))
    assert [set(os.listdir(p)) for p in places] == before


def test_detached_logs_ps_and_rm(daemon):
    r = daemon.cli("run", "-d", "--name", "bg", "busybox", "sh", "-c", "echo started; sleep 60")
    cid = out(r).strip()
    assert len(cid) == 64
    ps = out(daemon.cli("ps"))
    assert "bg" in ps and "Up " in ps and '"sh -c \'echo start…"' not in ps
    for _ in range(100):
        if out(daemon.cli("logs", "bg")) == "started\n":
            break
    assert out(daemon.cli("logs", "bg")) == "started\n"
    log_file = os.path.join(daemon.data_root, "containers", cid, f"{cid}-json.log")
    assert '"stream": "stdout"' in open(log_file).read() or '"stream":"stdout"' in open(log_file).read()
    r = daemon.cli("rm", "bg")
    assert r.returncode == 1 and b"You cannot remove a running container" in r.stderr
    assert daemon.cli("rm", "-f", cid[:8]).returncode == 0
    assert "bg" not in out(daemon.cli("ps", "-a"))


def test_create_then_start_and_exited_status(daemon):
    cid = out(daemon.cli("create", "--name", "later", "busybox", "sh", "-c", "exit 7")).strip()
    assert "Created" in out(daemon.cli("ps", "-a", "--filter", "name=later"))
    assert daemon.cli("start", "later").returncode == 0
    for _ in range(100):
        if "Exited (7)" in out(daemon.cli("ps", "-a", "--filter", "name=later")):
            break
    assert "Exited (7)" in out(daemon.cli("ps", "-a", "--filter", "name=later"))
    assert out(daemon.cli("ps", "-aq", "--no-trunc", "--filter", "name=later")).strip() == cid
    daemon.cli("rm", "later")


def test_stdin_is_piped_with_interactive(daemon):
    r = daemon.cli("run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z", input=b"piped in\n")
    assert out(r) == "PIPED IN\n"


def test_tty_is_a_real_terminal_from_the_containers_devpts(daemon):
    cid = daemon.client.call("POST", "/containers/create",
                             body={"Image": "busybox", "Tty": True,
                                   "Cmd": ["sh", "-c", "sleep 0.3; tty; stty size; echo $TERM"]})["Id"]
    try:
        attach = daemon.client.send("POST", f"/containers/{cid}/attach", upgrade=True,
                                    query={"stream": 1, "stdout": 1, "stderr": 1})
        assert attach.headers["content-type"] == "application/vnd.docker.raw-stream"
        daemon.client.call("POST", f"/containers/{cid}/start")
        daemon.client.call("POST", f"/containers/{cid}/resize", query={"h": 33, "w": 101})
        output = attach.read().decode()
        assert output.split("\r\n")[:3] == ["/dev/pts/0", "33 101", "xterm"]  # raw stream: no frame headers
    finally:
        daemon.client.call("DELETE", f"/containers/{cid}", query={"force": True})
