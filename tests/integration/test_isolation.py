"""Isolation seen from inside real containers: capabilities, privileged mode, namespace sharing,
devices, ulimits, sysctls, /dev/shm, OOM kills, cgroup limits, and an escape suite."""

import json
import os
import socket
import time

import pytest

from dockyard.runtime.linux.capabilities import DOCKER_DEFAULT, NAMES, all_capabilities, last_cap, mask


def out(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def err(result) -> str:
    assert result.returncode != 0, result.stdout.decode()
    return result.stderr.decode()


def cap_eff(daemon, *args: str) -> int:
    text = out(daemon.cli("run", "--rm", *args, "busybox", "grep", "CapEff", "/proc/self/status"))
    return int(text.split()[1], 16)


def test_default_capabilities_are_dockers(daemon):
    assert cap_eff(daemon) == mask(DOCKER_DEFAULT)
    # a non-root user holds none
    text = out(daemon.cli("run", "--rm", "-u", "1000", "busybox", "grep", "CapEff", "/proc/self/status"))
    assert int(text.split()[1], 16) == 0


def test_cap_add_and_drop(daemon):
    assert cap_eff(daemon, "--cap-drop", "NET_RAW") == mask([c for c in DOCKER_DEFAULT if c != "CAP_NET_RAW"])
    assert cap_eff(daemon, "--cap-add", "cap_sys_admin") == mask(DOCKER_DEFAULT + ["CAP_SYS_ADMIN"])
    assert cap_eff(daemon, "--cap-drop", "ALL", "--cap-add", "CHOWN") == mask(["CAP_CHOWN"])
    # ping needs NET_RAW: refused without it
    r = daemon.cli("run", "--rm", "--cap-drop", "NET_RAW", "busybox", "ping", "-c", "1", "127.0.0.1")
    assert "permission denied" in err(r).lower()
    assert "1 packets received" in out(daemon.cli("run", "--rm", "busybox", "ping", "-c", "1", "127.0.0.1"))


def test_cap_add_all_grants_what_the_host_allows_and_warns(daemon):
    r = daemon.cli("run", "--rm", "--cap-add", "ALL", "busybox", "grep", "CapEff", "/proc/self/status")
    assert int(out(r).split()[1], 16) == mask(all_capabilities())
    unavailable = [c for c in NAMES[: last_cap() + 1] if c not in all_capabilities()]
    for name in unavailable:  # these machines lack CAP_SYS_RESOURCE: a warning names it
        assert "WARNING" in r.stderr.decode() and name in r.stderr.decode()


def test_unknown_capability_is_refused_before_create(daemon):
    before = out(daemon.cli("ps", "-aq"))
    assert 'unknown capability: "CAP_BOGUS"' in err(daemon.cli("create", "--cap-add", "bogus", "busybox"))
    assert out(daemon.cli("ps", "-aq")) == before


def test_privileged(daemon):
    text = out(daemon.cli("run", "--rm", "--privileged", "busybox", "sh", "-c",
                          "grep CapEff /proc/self/status; mkdir -p /m && mount -t tmpfs t /m && echo mounted; "
                          "ls /dev | grep -c . ; grep -c . /proc/keys >/dev/null && echo keys-readable"))
    lines = text.splitlines()
    assert int(lines[0].split()[1], 16) == mask(all_capabilities())
    assert "mounted" in lines and "keys-readable" in lines
    assert int(lines[2]) > 15  # the host's devices


def test_escape_attempts_fail(daemon):
    script = "; ".join([
        "mkdir -p /m; mount -t tmpfs t /m 2>/dev/null && echo ESCAPE-mount",
        "echo h > /proc/sysrq-trigger 2>/dev/null && echo ESCAPE-sysrq",
        "hostname evil 2>/dev/null && echo ESCAPE-hostname",
        "date -s 2000-01-01 2>&1 | grep -q \"can't set date\" || echo ESCAPE-date",
        "mkdir /sys/fs/cgroup/x 2>/dev/null && echo ESCAPE-cgroup",
        "echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null && echo ESCAPE-cgroup-write",
        "mknod /tmp/disk b 254 0 && head -c 1 /tmp/disk >/dev/null 2>&1 && echo ESCAPE-device",
        "insmod /nothing.ko 2>/dev/null && echo ESCAPE-module",
        "cat /proc/kcore >/dev/null 2>&1 && head -c1 /proc/kcore | grep -q . && echo ESCAPE-kcore",
        "unshare -m true 2>/dev/null && echo ESCAPE-unshare",
        "ps -o pid | wc -l",
    ])
    text = out(daemon.cli("run", "--rm", "busybox", "sh", "-c", script))
    assert "ESCAPE" not in text, text
    assert int(text.split()[-1]) <= 4  # header, sh, ps, wc: no host processes


def test_pid_uts_ipc_sharing(daemon):
    host_name = socket.gethostname()
    assert out(daemon.cli("run", "--rm", "--uts", "host", "busybox", "hostname")).strip() == host_name
    assert out(daemon.cli("run", "--rm", "--pid", "host", "busybox", "sh", "-c",
                          "test -d /proc/1 && cat /proc/1/comm")).strip() != "sh"
    a = out(daemon.cli("run", "-d", "--ipc", "shareable", "busybox", "sh", "-c",
                       "echo shared > /dev/shm/token; sleep 30")).strip()
    try:
        for _ in range(100):
            if daemon.cli("exec", a, "test", "-f", "/dev/shm/token").returncode == 0:
                break
            time.sleep(0.02)
        assert out(daemon.cli("run", "--rm", f"--ipc=container:{a}", "busybox", "cat", "/dev/shm/token")) == \
            "shared\n"
        assert daemon.cli("run", "--rm", "busybox", "test", "-f", "/dev/shm/token").returncode == 1
        procs = out(daemon.cli("run", "--rm", f"--pid=container:{a}", "busybox", "ps", "-o", "comm"))
        assert "sleep" in procs
        ns = out(daemon.cli("run", "--rm", f"--ipc=container:{a}", "busybox", "readlink", "/proc/self/ns/ipc"))
        pid = out(daemon.cli("inspect", "-f", "{{.State.Pid}}", a)).strip()
        assert ns.strip() == os.readlink(f"/proc/{pid}/ns/ipc")
    finally:
        out(daemon.cli("rm", "-f", a))
    stopped = out(daemon.cli("create", "busybox", "true")).strip()
    assert "cannot join IPC of a non running container" in err(
        daemon.cli("run", "--rm", f"--ipc=container:{stopped}", "busybox", "true"))
    out(daemon.cli("rm", stopped))
    private = out(daemon.cli("run", "-d", "busybox", "sleep", "30")).strip()
    assert "non-shareable IPC" in err(daemon.cli("run", "--rm", f"--ipc=container:{private}", "busybox", "true"))
    out(daemon.cli("rm", "-f", private))


def test_devices_and_device_rules(daemon):
    text = out(daemon.cli("run", "--rm", "--device", "/dev/null:/dev/mynull:rw", "busybox", "sh", "-c",
                          "echo x > /dev/mynull && ls -l /dev/mynull"))
    assert text.startswith("crw")
    assert "error gathering device information" in err(daemon.cli("create", "--device", "/dev/nope", "busybox"))
    # a node the default rules do not allow can be made but not opened; a rule opens it
    script = "mknod /tmp/lc c 10 237 && head -c 0 /tmp/lc >/dev/null && echo opened"
    assert "Operation not permitted" in err(daemon.cli("run", "--rm", "busybox", "sh", "-c", script))
    assert "opened" in out(daemon.cli("run", "--rm", "--device-cgroup-rule", "c 10:237 r", "busybox", "sh", "-c",
                                      script))


def test_ulimit_sysctl_shm_oom_score_group_add(daemon):
    text = out(daemon.cli("run", "--rm", "--ulimit", "nofile=100:200", "--sysctl", "kernel.shmmax=1048576",
                          "--shm-size", "1m", "--oom-score-adj", "500", "--group-add", "10", "--group-add", "audio",
                          "busybox", "sh", "-c",
                          "ulimit -n; ulimit -Hn; cat /proc/sys/kernel/shmmax; df -k /dev/shm | tail -1; "
                          "cat /proc/self/oom_score_adj; id -G"))
    lines = text.splitlines()
    assert lines[0] == "100" and lines[1] == "200" and lines[2] == "1048576"
    assert lines[3].split()[1] == "1024" and lines[4] == "500"
    assert set(lines[5].split()) >= {"0", "10", "12"}  # 12 is busybox's audio group
    assert "not allowed" in err(daemon.cli("create", "--sysctl", "vm.swappiness=1", "busybox"))
    assert "soft limit must be less than or equal to hard limit" in err(
        daemon.cli("create", "--ulimit", "nofile=300:200", "busybox"))
    assert "Unable to find group nosuchgroup" in err(
        daemon.cli("run", "--rm", "--group-add", "nosuchgroup", "busybox", "true"))


def test_memory_hog_is_oom_killed(daemon):
    cid = out(daemon.cli("run", "-d", "-m", "16m", "--memory-swap", "16m", "busybox", "sh", "-c",
                         "head -c 200m /dev/zero | tail")).strip()
    assert out(daemon.cli("wait", cid)).strip() == "137"
    state = json.loads(out(daemon.cli("inspect", "-f", "{{json .State}}", cid)))
    assert state["OOMKilled"] is True and state["ExitCode"] == 137
    events = out(daemon.cli("events", "--since", "0", "--until", str(int(time.time()) + 1), "--filter",
                            f"container={cid}", "--format", "{{.Action}}")).split()
    assert "oom" in events and events.index("oom") < events.index("die")
    out(daemon.cli("rm", cid))


def test_cpuset_pids_limit_and_cgroup_parent(daemon):
    assert out(daemon.cli("run", "--rm", "--cpuset-cpus", "0", "busybox", "nproc")).strip() == "1"
    bomb = "for i in $(seq 30); do sleep 5 & done 2>&1 | head -1; echo done"
    text = out(daemon.cli("run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c", bomb))
    assert "can't fork" in text or "Resource temporarily unavailable" in text
    cid = out(daemon.cli("run", "-d", "--cgroup-parent", "/dockyard-test-parent", "busybox", "sleep", "30")).strip()
    try:
        cgroup = out(daemon.cli("exec", cid, "cat", "/proc/self/cgroup"))
        assert f"/dockyard-test-parent/{cid}" in cgroup
    finally:
        out(daemon.cli("rm", "-f", cid))
        for controller in os.listdir("/sys/fs/cgroup"):
            path = f"/sys/fs/cgroup/{controller}/dockyard-test-parent"
            if os.path.isdir(path):
                os.rmdir(path)


@pytest.mark.parametrize("args,message", [
    (["--memory", "1x"], "invalid size"),
    (["--cpuset-cpus", "99"], "Requested CPUs are not available - requested 99"),
    (["--cap-add", "NOPE"], "unknown capability"),
    (["--oom-score-adj", "5000"], "range for oom score adj is [-1000, 1000]"),
    (["--pid", "bogus"], "invalid --pid: bogus"),
    (["--ulimit", "nofile"], "invalid ulimit argument"),
    (["--device-cgroup-rule", "x 1:1 r"], "invalid device cgroup rule format"),
])
def test_bad_values_are_refused_before_anything_exists(daemon, args, message):
    before = out(daemon.cli("ps", "-aq"))
    assert message in err(daemon.cli("create", *args, "busybox", "true"))
    assert out(daemon.cli("ps", "-aq")) == before


def test_systempaths_unconfined_unmasks_proc(daemon):
    script = "grep -c ' /proc/timer_list ' /proc/self/mountinfo; grep -c ' /proc/sys ' /proc/self/mountinfo"
    assert out(daemon.cli("run", "--rm", "busybox", "sh", "-c", script)).split() == ["1", "1"]
    r = daemon.cli("run", "--rm", "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c", script)
    assert r.stdout.decode().split() == ["0", "0"]  # grep -c exits 1 on no match
    r = daemon.docker("run", "--rm", "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c", script)
    assert r.stdout.decode().split() == ["0", "0"]


def test_blkio_throttle_oom_kill_disable_and_cgroupns(daemon):
    disk = next((f"/dev/{name}" for name in ("vda", "sda", "nvme0n1", "xvda") if os.path.exists(f"/dev/{name}")),
                None)
    if disk is None:
        pytest.skip("no block device to throttle")
    st = os.stat(disk)
    cid = out(daemon.cli("run", "-d", "-m", "64m", "--oom-kill-disable", "--device-read-bps", f"{disk}:1mb",
                         "--device-write-iops", f"{disk}:100", "--cgroupns", "private", "busybox",
                         "sleep", "30")).strip()
    try:
        blkio, memory = f"/sys/fs/cgroup/blkio/dockyard/{cid}", f"/sys/fs/cgroup/memory/dockyard/{cid}"
        if not os.path.isdir(blkio):
            pytest.skip("no cgroup v1 blkio hierarchy here")
        numbers = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        assert f"{numbers} 1048576" in open(f"{blkio}/blkio.throttle.read_bps_device").read()
        assert f"{numbers} 100" in open(f"{blkio}/blkio.throttle.write_iops_device").read()
        assert "oom_kill_disable 1" in open(f"{memory}/memory.oom_control").read()
        # a private cgroup namespace roots the container's view at its own cgroup
        assert out(daemon.cli("exec", cid, "cat", "/proc/self/cgroup")).splitlines()[0].endswith(":/")
    finally:
        out(daemon.cli("rm", "-f", cid))
    host_view = out(daemon.cli("run", "--rm", "busybox", "cat", "/proc/self/cgroup"))
    assert "/dockyard/" in host_view  # the default on a v1 host: the host's cgroup namespace


def test_kernel_memory_is_accepted_with_a_warning(daemon):
    r = daemon.cli("run", "--rm", "--kernel-memory", "50m", "busybox", "true")
    assert r.returncode == 0 and "WARNING: Kernel memory limits" in r.stderr.decode()
