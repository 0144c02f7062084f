"""A task's secrets and configs on real containers made through the engine's cluster backend: the
files appear at their targets with their owner and mode, read-only, from a tmpfs of the
container's own; their bytes are on no disk; the tmpfs goes when the container stops."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_secrets import files_holding

from dockyard.util import syscalls as sc

DRIVER = Path(__file__).with_name("backend_driver.py")
SECRET = b"hunter2 is not a password\n"
CONFIG = b"worker_processes 2;\n"


def _mounts_under(path: str) -> list[tuple[str, str, str]]:
    """(mount point, type, options) of the mounts below `path`."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _source, point, kind, options = line.split()[:4]
        if point.startswith(path.rstrip("/") + "/"):
            found.append((point, kind, options))
    return found


def _drive(d, *args: str) -> dict:
    done = subprocess.run([sys.executable, str(DRIVER), d.data_root, d.exec_root, *args], capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


@pytest.fixture
def stopped_daemon(busybox_tar):
    """A daemon's data and exec roots with busybox imported, the daemon itself stopped: the driver
    runs the engine on them in its own process."""
    from conftest import PrivateDaemon

    d = PrivateDaemon(busybox_tar).start()
    try:
        d.import_busybox()
        d.stop()
        yield d
    finally:
        for point, _kind, _options in reversed(_mounts_under(d.dir)):  # a failed test's tmpfs, if any
            sc.umount2(point, sc.MNT_DETACH)
        d.cleanup()


def test_a_tasks_files_are_in_memory_with_their_owner_and_mode_and_go_with_it(stopped_daemon) -> None:
    d = stopped_daemon
    files = [
        {"name": "db_password", "data": base64.b64encode(SECRET).decode(), "uid": 1000, "gid": 1001, "mode": 0o400},
        {"name": "api", "data": base64.b64encode(b"token").decode(), "target": "/etc/api.token", "mode": 0o440},
        {"name": "nginx.conf", "data": base64.b64encode(CONFIG).decode(), "kind": "config"},
        {"name": "site", "data": base64.b64encode(b"server {}").decode(), "kind": "config",
         "target": "conf.d/site.conf", "uid": 33, "gid": 33, "mode": 0o644},
    ]
    run = _drive(d, "run", json.dumps(files))
    assert run["exit_code"] == 0, run["output"]
    blocks = {block.split("\n", 1)[0]: block.split("\n", 1)[1] for block in run["output"].split("== ")[1:]}
    assert blocks == {
        "/run/secrets/db_password 1000 1001 400 tmpfs": SECRET.decode() + "\n",
        "/etc/api.token 0 0 440 tmpfs": "token\n",
        "/nginx.conf 0 0 444 tmpfs": CONFIG.decode() + "\n",
        "/conf.d/site.conf 33 33 644 tmpfs": "server {}\n",
    }, run["output"]  # and no "is writable" line: every file is read-only in the container

    # While the container ran its files were in one read-only tmpfs of its own.
    [(point, kind, options)] = run["mounts_running"]
    assert (kind, options.split(",")[0]) == ("tmpfs", "ro") and "nosuid" in options and "noexec" in options
    assert all(source.startswith(point + "/") for source in run["sources"])
    assert base64.b64decode(run["first_file"]) == SECRET

    # Its end took them (moby unmounts a container's secrets at its exit), and they are on no disk.
    assert not [m for m in _mounts_under(d.dir) if m[0].endswith("/task-files")]
    assert not os.path.exists(point)
    for needle in (SECRET, CONFIG):
        assert files_holding(d.dir, needle) == []
    refused = _drive(d, "start", run["id"])
    assert "its secrets and configs went when it stopped" in refused["error"]

    _drive(d, "remove", run["id"])
    assert not os.path.exists(point)
