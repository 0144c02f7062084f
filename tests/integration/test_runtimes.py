"""The same isolation, seen from inside, with the OCI runtimes Dockyard drives (runc, crun)."""

import json
import shutil
import time

import pytest

from dockyard.runtime.linux.capabilities import DOCKER_DEFAULT, mask

RUNTIMES = [pytest.param(name, marks=pytest.mark.skipif(not shutil.which(name), reason=f"{name} not installed"))
            for name in ("runc", "crun")]


def out(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def err(result) -> str:
    assert result.returncode != 0, result.stdout.decode()
    return result.stderr.decode()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_isolation_matches_the_builtin_runtime(daemon, runtime):
    script = ("grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; ulimit -n; cat /proc/sys/kernel/shmmax; "
              "df -k /dev/shm | tail -1; cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
              "/sys/fs/cgroup/pids/pids.max 2>/dev/null || true; id -u; hostname")
    text = out(daemon.cli("run", "--rm", "--runtime", runtime, "--cap-drop", "NET_RAW", "--ulimit", "nofile=100:200",
                          "--sysctl", "kernel.shmmax=1048576", "--shm-size", "1m", "-m", "32m", "--pids-limit", "50",
                          "--security-opt", "no-new-privileges", "--hostname", "rt-host",
                          "busybox", "sh", "-c", script))
    lines = text.splitlines()
    caps = int(lines[0].split()[1], 16)
    assert caps == mask([c for c in DOCKER_DEFAULT if c != "CAP_NET_RAW"])
    assert lines[1].split()[1] == "1" and lines[2].split()[1] == "2"  # NoNewPrivs, Seccomp filter mode
    assert lines[3] == "100" and lines[4] == "1048576" and lines[5].split()[1] == "1024"
    assert "rt-host" in lines[-1] and lines[-2] == "0"
    cid_inspect = daemon.cli("run", "--rm", "--runtime", runtime, "busybox", "true")
    assert cid_inspect.returncode == 0


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_lifecycle_exec_and_escape_attempts(daemon, runtime):
    cid = out(daemon.cli("run", "-d", "--runtime", runtime, "-v", "rt-vol:/data", "busybox", "sh", "-c",
                         "trap 'exit 7' TERM; echo ready > /data/f; while true; do sleep 0.1; done")).strip()
    try:
        assert json.loads(out(daemon.cli("inspect", "-f", "{{json .HostConfig.Runtime}}", cid))) == runtime
        for _ in range(100):
            if daemon.cli("exec", cid, "cat", "/data/f").stdout == b"ready\n":
                break
            time.sleep(0.02)
        script = ("mkdir -p /m; mount -t tmpfs t /m 2>/dev/null && echo ESCAPE-mount; "
                  "echo h > /proc/sysrq-trigger 2>/dev/null && echo ESCAPE-sysrq; "
                  "mknod /tmp/lc c 10 237 && head -c 0 /tmp/lc 2>/dev/null && echo ESCAPE-device; "
                  "ps -o pid | wc -l")
        text = out(daemon.cli("exec", cid, "sh", "-c", script))
        assert "ESCAPE" not in text and int(text.split()[-1]) <= 6
        out(daemon.cli("pause", cid))
        assert out(daemon.cli("inspect", "-f", "{{.State.Status}}", cid)).strip() == "paused"
        out(daemon.cli("unpause", cid))
        out(daemon.cli("stop", "-t", "5", cid))
        assert out(daemon.cli("inspect", "-f", "{{.State.ExitCode}}", cid)).strip() == "7"
        out(daemon.cli("start", cid))  # and it starts again
        assert out(daemon.cli("inspect", "-f", "{{.State.Running}}", cid)).strip() == "true"
    finally:
        daemon.cli("rm", "-f", "-v", cid)
        daemon.cli("volume", "rm", "rt-vol")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_stdin_tty_oom_and_start_errors(daemon, runtime):
    assert out(daemon.cli("run", "--rm", "-i", "--runtime", runtime, "busybox", "cat", input=b"piped\n")) == \
        "piped\n"
    assert out(daemon.cli("run", "--rm", "-t", "--runtime", runtime, "busybox", "tty")).strip() == "/dev/pts/0"
    cid = out(daemon.cli("run", "-d", "--runtime", runtime, "-m", "16m", "--memory-swap", "16m", "busybox", "sh",
                         "-c", "head -c 200m /dev/zero | tail")).strip()
    assert out(daemon.cli("wait", cid)).strip() == "137"
    assert out(daemon.cli("inspect", "-f", "{{.State.OOMKilled}}", cid)).strip() == "true"
    out(daemon.cli("rm", cid))
    r = daemon.cli("run", "--rm", "--runtime", runtime, "busybox", "no-such-command")
    # the docker CLI's rule: "executable file not found" means 127; crun words it differently, so 125
    assert "no-such-command" in err(r) and r.returncode == (127 if runtime == "runc" else 125)


def test_unknown_runtime(daemon):
    assert "unknown or invalid runtime name: bogus" in err(daemon.cli("create", "--runtime", "bogus", "busybox"))


def test_docker_cli_runtime_flag(daemon):
    if not shutil.which("runc"):
        pytest.skip("runc not installed")
    assert out(daemon.docker("run", "--rm", "--runtime", "runc", "busybox", "echo", "via docker")) == "via docker\n"
    info = json.loads(out(daemon.docker("info", "--format", "{{json .Runtimes}}")))
    assert "runc" in info and "dockyard" in info
