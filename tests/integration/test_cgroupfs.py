"""The OCI `cgroup` mount on a pure cgroup v2 host, exercised on this host's v2 tree: a forked child
in a mount namespace of its own, in a cgroup of its own, sees that cgroup at the mount point (a bind
without a cgroup namespace, cgroup2 mounted afresh with one). The v1 view is tested through real
containers (tests/compat/test_docker_behave.py)."""

import json
import os
import tempfile

import pytest

from dockyard.runtime.linux import cgroupfs
from dockyard.util import syscalls as sc


def _v2_mount() -> str | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    return None


def _view(target: str) -> dict:
    with open(os.path.join(target, "cgroup.procs")) as f:
        procs = f.read().split()
    return {"procs": procs, "dirs": sorted(e for e in os.listdir(target) if os.path.isdir(os.path.join(target, e)))}


def _child(v2: str, group: str, bound: str, fresh: str, report: int) -> None:
    result: dict = {}
    try:
        sc.unshare(sc.CLONE_NEWNS)
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
        with open(os.path.join(group, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        cgroupfs.hierarchy = lambda: ({}, v2)  # as on a host without v1 hierarchies
        flags = sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
        cgroupfs.mount_cgroups(bound, flags, own_namespace=False)
        result["bound"] = _view(bound)
        sc.unshare(sc.CLONE_NEWCGROUP)
        cgroupfs.mount_cgroups(fresh, flags, own_namespace=True)
        result["fresh"] = _view(fresh)
        try:
            os.mkdir(os.path.join(fresh, "sub"))
            result["writable"] = True
        except OSError:
            result["writable"] = False
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        result["error"] = repr(exc)
    os.write(report, json.dumps(result).encode())
    os._exit(0)


def test_v2_cgroup_mount_shows_the_processes_own_cgroup():
    v2 = _v2_mount()
    if v2 is None:
        pytest.skip("no cgroup2 hierarchy mounted on this host")
    group = os.path.join(v2, f"dockyard-test-cgroupfs-{os.getpid()}")
    os.mkdir(group)
    os.mkdir(os.path.join(group, "inner"))  # a child cgroup, seen as a directory in the view
    read, write = os.pipe()
    points = tempfile.TemporaryDirectory(prefix="dockyard-test-cgroupfs-")  # the child's mounts die with it
    bound, fresh = os.path.join(points.name, "bound"), os.path.join(points.name, "fresh")
    os.mkdir(bound)
    os.mkdir(fresh)
    try:
        pid = os.fork()
        if pid == 0:
            os.close(read)
            _child(v2, group, bound, fresh, write)
        os.close(write)
        data = b""
        while chunk := os.read(read, 65536):
            data += chunk
        os.waitpid(pid, 0)
    finally:
        os.close(read)
        os.rmdir(os.path.join(group, "inner"))
        os.rmdir(group)
        points.cleanup()
    result = json.loads(data)
    assert "error" not in result, result
    for view in ("bound", "fresh"):
        assert result[view] == {"procs": [str(pid)], "dirs": ["inner"]}, (view, result)
    assert result["writable"] is False  # read-only, as the spec's mount options say
