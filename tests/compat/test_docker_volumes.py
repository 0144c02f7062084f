"""The real docker CLI on volumes and mounts."""

import json
import os
import shutil
import tempfile


def out(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def test_docker_volume_lifecycle(daemon):
    out(daemon.docker("volume", "create", "--label", "k=v", "dvol"))
    assert "dvol" in out(daemon.docker("volume", "ls", "-q"))
    view = json.loads(out(daemon.docker("volume", "inspect", "dvol")))[0]
    assert view["Labels"] == {"k": "v"} and view["Mountpoint"].endswith("/dvol/_data")
    out(daemon.docker("run", "--rm", "-v", "dvol:/data", "busybox", "sh", "-c", "echo v > /data/f"))
    assert out(daemon.docker("run", "--rm", "--mount", "source=dvol,target=/data,readonly", "busybox",
                             "cat", "/data/f")) == "v\n"
    cid = out(daemon.docker("create", "-v", "dvol:/data", "busybox", "true")).strip()
    r = daemon.docker("volume", "rm", "dvol")
    assert r.returncode == 1 and f"volume is in use - [{cid}]" in r.stderr.decode()
    mounts = json.loads(out(daemon.docker("inspect", "-f", "{{json .Mounts}}", cid)))
    assert mounts[0]["Name"] == "dvol" and mounts[0]["Destination"] == "/data" and mounts[0]["RW"] is True
    out(daemon.docker("rm", cid))
    assert out(daemon.docker("volume", "rm", "dvol")) == "dvol\n"


def test_docker_binds_tmpfs_volumes_from_read_only(daemon):
    host = tempfile.mkdtemp(prefix="dockyard-compat-", dir="/tmp")
    try:
        out(daemon.docker("run", "--name", "vc", "-v", f"{host}/made:/made", "-v", "/anon", "busybox",
                          "sh", "-c", "echo hi > /made/f && echo a > /anon/a"))
        assert os.path.exists(f"{host}/made/f")
        r = daemon.docker("run", "--rm", "--read-only", "--tmpfs", "/tmp", "--volumes-from", "vc", "busybox",
                          "sh", "-c", "cat /made/f /anon/a && touch /tmp/ok && touch /nope")
        assert r.stdout.decode() == "hi\na\n" and "Read-only file system" in r.stderr.decode()
        out(daemon.docker("rm", "-v", "vc"))
        before = out(daemon.docker("ps", "-aq"))
        r = daemon.docker("run", "--rm", "-v", "::", "busybox", "true")
        assert r.returncode == 125 and "'::' mount path must be absolute" in r.stderr.decode()
        assert out(daemon.docker("ps", "-aq")) == before
    finally:
        shutil.rmtree(host, ignore_errors=True)
