"""cp (both directions, running and stopped containers), the archive API's stat header, export."""

import base64
import io
import json
import os
import tarfile


def test_cp_out_of_and_into_a_stopped_container(daemon, tmp_path):
    daemon.cli("run", "--name", "cp-stopped", "busybox", "sh", "-c",
               "mkdir -p /data/sub; echo hello > /data/f; echo deep > /data/sub/g; ln -s /etc/passwd /data/link")
    try:
        assert daemon.cli("cp", "cp-stopped:/data/f", str(tmp_path / "f")).returncode == 0
        assert (tmp_path / "f").read_text() == "hello\n"
        assert daemon.cli("cp", "cp-stopped:/data", str(tmp_path)).returncode == 0
        assert (tmp_path / "data" / "sub" / "g").read_text() == "deep\n"
        assert os.readlink(tmp_path / "data" / "link") == "/etc/passwd"  # the link is copied, not followed
        (tmp_path / "in.txt").write_text("from host\n")
        assert daemon.cli("cp", str(tmp_path / "in.txt"), "cp-stopped:/data/").returncode == 0
        assert daemon.cli("cp", str(tmp_path / "in.txt"), "cp-stopped:/data/renamed.txt").returncode == 0
        r = daemon.cli("start", "-a", "cp-stopped")  # runs the same command again: the files are there
        changes = {c["Path"] for c in daemon.client.call("GET", "/containers/cp-stopped/changes")}
        assert {"/data/in.txt", "/data/renamed.txt"} <= changes
        r = daemon.cli("cp", "cp-stopped:/nope", str(tmp_path))
        assert r.returncode == 1 and b"Could not find the file /nope in container cp-stopped" in r.stderr
    finally:
        daemon.cli("rm", "-f", "cp-stopped")


def test_cp_with_a_running_container_and_the_stat_header(daemon, tmp_path):
    daemon.cli("run", "-d", "--name", "cp-running", "busybox", "sleep", "300")
    try:
        (tmp_path / "x").write_text("into running\n")
        assert daemon.cli("cp", str(tmp_path / "x"), "cp-running:/tmp/").returncode == 0
        assert daemon.cli("exec", "cp-running", "cat", "/tmp/x").stdout == b"into running\n"
        response = daemon.client.send("GET", "/containers/cp-running/archive", query={"path": "/etc/hostname"})
        stat = json.loads(base64.b64decode(response.headers["x-docker-container-path-stat"]))
        assert stat["name"] == "hostname" and stat["mode"] & 0o777 == 0o644 and stat["size"] == 13
        with tarfile.open(fileobj=io.BytesIO(response.read())) as tar:
            names = tar.getnames()
            content = tar.extractfile("hostname").read()
        cid = daemon.client.call("GET", "/containers/cp-running/json")["Id"]
        assert names == ["hostname"] and content == cid[:12].encode() + b"\n"  # the bind-mounted file
        r = daemon.cli("cp", "cp-running:/etc/hostname", "-")
        assert tarfile.open(fileobj=io.BytesIO(r.stdout)).getnames() == ["hostname"]
    finally:
        daemon.cli("rm", "-f", "cp-running")


def test_export_is_the_root_filesystem_without_runtime_mounts(daemon, tmp_path):
    daemon.cli("run", "--name", "exported", "busybox", "sh", "-c", "echo mark > /marker")
    try:
        out = tmp_path / "root.tar"
        assert daemon.cli("export", "-o", str(out), "exported").returncode == 0
        with tarfile.open(out) as tar:
            names = set(tar.getnames())
            assert tar.extractfile("marker").read() == b"mark\n"
        assert {"bin/busybox", "etc/passwd", "marker"} <= names
        assert not any(n.startswith("proc/") and n != "proc/" for n in names)
        # and it imports back as an image
        with open(out, "rb") as f:
            daemon.client.call("POST", "/images/create", query={"fromSrc": "-", "repo": "exported", "tag": "v1"},
                               body=f)
        assert daemon.cli("run", "--rm", "exported:v1", "cat", "/marker").stdout == b"mark\n"
    finally:
        daemon.cli("rm", "-f", "exported")
        daemon.cli("rmi", "exported:v1")
