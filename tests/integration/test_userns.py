"""`dockyardd --userns-remap`: root in a container is a range of unprivileged host IDs."""

import os
import pwd
import subprocess

import pytest
from conftest import PrivateDaemon

USER = f"dyremap{os.getpid()}"  # per run: suites may run side by side
SIZE = 65536


def out(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def _taken() -> list[tuple[int, int]]:
    ranges = []
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            with open(path) as f:
                for line in f:
                    parts = line.strip().split(":")
                    if len(parts) == 3 and parts[1].isdigit():
                        ranges.append((int(parts[1]), int(parts[2])))
        except FileNotFoundError:
            pass
    return ranges


def _free_base() -> int:
    import random

    taken = _taken()
    while True:
        base = random.randrange(400_000, 4_000_000, SIZE)
        if not any(base < s + n and s < base + SIZE for s, n in taken):
            return base


BASE = _free_base()


@pytest.fixture(scope="module")
def remapped(busybox_tar):
    """A test user with subordinate IDs (removed again with `userdel`, which drops its ranges too) and
    a daemon remapping containers to them."""
    try:
        pwd.getpwnam(USER)
        created = False
    except KeyError:
        subprocess.run(["useradd", "--system", "--shell", "/bin/false", USER], check=True)
        created = True
    span = f"{BASE}-{BASE + SIZE - 1}"
    subprocess.run(["usermod", "--add-subuids", span, "--add-subgids", span, USER], check=True)
    d = PrivateDaemon(busybox_tar, ["--userns-remap", USER])
    try:
        d.start()
        d.import_busybox()
        yield d
    finally:
        d.cleanup()
        if created:
            subprocess.run(["userdel", USER], check=True)


def test_container_root_is_an_unprivileged_host_user(remapped):
    cid = out(remapped.cli("run", "-d", "-v", "/scratch", "busybox", "sh", "-c",
                           "id -u; touch /made-by-root /scratch/f; echo $$; sleep 30")).strip()
    try:
        pid = int(out(remapped.cli("inspect", "-f", "{{.State.Pid}}", cid)))
        with open(f"/proc/{pid}/status") as f:
            uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
        assert uids == [str(BASE)] * 4  # root inside, BASE on the host
        with open(f"/proc/{pid}/uid_map") as f:
            assert f.read().split() == ["0", str(BASE), str(SIZE)]
        for _ in range(100):
            logs = out(remapped.cli("logs", cid)).split()
            if len(logs) >= 2:
                break
        assert logs[0] == "0" and logs[1] == "1"  # root, and PID 1 of its own PID namespace
        upper = out(remapped.cli("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", cid)).strip()
        st = os.stat(os.path.join(upper, "made-by-root"))
        assert (st.st_uid, st.st_gid) == (BASE, BASE)
        source = out(remapped.cli("inspect", "-f", "{{range .Mounts}}{{.Source}}{{end}}", cid)).strip()
        assert os.stat(os.path.join(source, "f")).st_uid == BASE
        # image files belong to the container's root too: they were unpacked in the remapped range
        assert out(remapped.cli("exec", cid, "stat", "-c", "%u", "/bin/busybox")).strip() == "0"
        assert out(remapped.cli("exec", cid, "id", "-u")).strip() == "0"
    finally:
        remapped.cli("rm", "-f", "-v", cid)


def test_remapped_root_cannot_reach_the_host(remapped):
    script = ("hostname; mkdir -p /m; mount -t tmpfs t /m 2>/dev/null && echo ESCAPE-mount; "
              "echo h > /proc/sysrq-trigger 2>/dev/null && echo ESCAPE-sysrq; "
              "cat /proc/self/uid_map")
    text = out(remapped.cli("run", "--rm", "--hostname", "inside", "busybox", "sh", "-c", script))
    assert "ESCAPE" not in text and text.splitlines()[0] == "inside"
    assert text.split()[-3:] == ["0", str(BASE), str(SIZE)]
    r = remapped.cli("run", "--rm", "--privileged", "busybox", "true")
    assert r.returncode == 125 and "incompatible with user namespaces" in r.stderr.decode()
    assert out(remapped.cli("run", "--rm", "--userns", "host", "busybox", "sh", "-c",
                            "cat /proc/self/uid_map")).split() == ["0", "0", "4294967295"]


def test_commit_of_a_remapped_container_stores_container_ids(remapped):
    cid = out(remapped.cli("run", "-d", "busybox", "sh", "-c", "echo x > /owned-by-root")).strip()
    out(remapped.cli("wait", cid))
    out(remapped.cli("commit", cid, "remapped:1"))
    saved = subprocess.run([str(remapped_bin()), "-H", remapped.host, "save", "remapped:1"], capture_output=True)
    assert saved.returncode == 0
    import io
    import tarfile

    archive = tarfile.open(fileobj=io.BytesIO(saved.stdout))
    owners = set()
    for member in archive.getmembers():
        if member.name.startswith("blobs/sha256/") and member.size < 10_000:
            inner = archive.extractfile(member).read()
            try:
                layer = tarfile.open(fileobj=io.BytesIO(inner))
            except tarfile.TarError:
                continue
            owners |= {(m.uid, m.gid) for m in layer.getmembers() if m.name.endswith("owned-by-root")}
    assert owners == {(0, 0)}
    remapped.cli("rm", cid)
    remapped.cli("rmi", "remapped:1")


def test_remapped_container_sees_its_own_cgroup(remapped):
    """In a user namespace too, /sys/fs/cgroup holds the container's own cgroups, its network
    namespace has Docker's sysctls and HOME comes from its passwd file."""
    text = out(remapped.cli("run", "--rm", "-m", "64m", "--pids-limit", "33", "busybox", "sh", "-c",
                            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
                            "/proc/sys/net/ipv4/ip_unprivileged_port_start; echo $HOME"))
    assert text.split() == ["67108864", "33", "0", "/root"]


def remapped_bin():
    import sys
    from pathlib import Path

    return Path(sys.executable).parent / "dockyard"
