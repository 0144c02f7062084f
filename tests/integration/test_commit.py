"""commit: the writable layer (with whiteouts) becomes an image; config changes, pause, history."""

import json
import os
import time

import pytest

# A valid VFS_CAP_REVISION_2 value: effective, cap_net_raw permitted.
CAP_NET_RAW = b"\x01\x00\x00\x02" + (1 << 13).to_bytes(4, "little") + bytes(12)


def _image_config(daemon, image_id: str) -> dict:
    """The stored image config, history included."""
    with open(os.path.join(daemon.data_root, "content", "blobs", "sha256", image_id.removeprefix("sha256:"))) as f:
        return json.load(f)


def _events(daemon, since: float, container: str) -> list[str]:
    stream = daemon.client.send("GET", "/events", query={
        "since": f"{since:.6f}", "until": f"{time.time() + 0.3:.6f}",
        "filters": json.dumps({"container": [container]})})
    return [e["Action"] for e in stream.json_lines()]


def _snapshot_fs(daemon, key: str) -> str:
    for driver in ("overlay2", "vfs"):
        path = os.path.join(daemon.data_root, driver, "snapshots", key, "fs")
        if os.path.isdir(path):
            return path
    raise AssertionError(f"no snapshot {key}")


def test_commit_keeps_writes_and_hides_deleted_files(daemon):
    r = daemon.cli("run", "--name", "cm-files", "busybox", "sh", "-c",
                   "echo hi > /hello; rm /bin/ls /etc/group; rm -rf /var; mkdir -p /var/fresh; "
                   "ln /hello /hello-link; mkfifo /fifo; chown 1000:2000 /hello; chmod 4750 /hello")
    assert r.returncode == 0, r.stderr
    busybox = daemon.client.call("GET", "/images/busybox/json")
    cid = daemon.client.call("GET", "/containers/cm-files/json")["Id"]
    try:
        r = daemon.cli("commit", "-a", "Ann <ann@example.com>", "-m", "files changed", "cm-files", "committed:files")
        assert r.returncode == 0, r.stderr
        image_id = r.stdout.decode().strip()
        assert image_id.startswith("sha256:") and len(image_id) == 71
        script = ("cat /hello; stat -c '%u:%g %a %h' /hello; [ -p /fifo ] && echo fifo; ls /var; "
                  "ls /bin/ls /etc/group 2>&1; true")
        out = daemon.cli("run", "--rm", "committed:files", "sh", "-c", script).stdout.decode().splitlines()
        assert out[:4] == ["hi", "1000:2000 4750 2", "fifo", "fresh"]
        assert "No such file" in out[4] and "No such file" in out[5]  # whiteouts hide the lower files
        image = daemon.client.call("GET", "/images/committed:files/json")
        assert image["Id"] == image_id and image["Parent"] == busybox["Id"]
        assert image["Author"] == "Ann <ann@example.com>" and image["Comment"] == "files changed"
        assert image["Container"] == cid and image["ContainerConfig"]["Cmd"][0] == "sh"
        assert image["RootFS"]["Layers"][:-1] == busybox["RootFS"]["Layers"]
        assert len(image["RootFS"]["Layers"]) == len(busybox["RootFS"]["Layers"]) + 1
        assert image["Size"] >= busybox["Size"]  # deleting never shrinks an image
        history = _image_config(daemon, image_id)["history"]
        assert history[:-1] == _image_config(daemon, busybox["Id"])["history"]
        assert history[-1]["author"] == "Ann <ann@example.com>" and history[-1]["comment"] == "files changed"
        assert history[-1]["created_by"].startswith("sh -c echo hi") and "empty_layer" not in history[-1]
    finally:
        daemon.cli("rm", "-f", "cm-files")
        daemon.cli("rmi", "committed:files")


def test_commit_changes_and_the_containers_config(daemon):
    r = daemon.cli("run", "--name", "cm-config", "-e", "FROM_RUN=1", "-w", "/tmp", "busybox", "sh", "-c",
                   "echo data > /srv-file")
    assert r.returncode == 0, r.stderr
    try:
        r = daemon.cli("commit", "-c", 'CMD ["cat", "/srv-file"]', "-c", "ENV GREETING=hello", "-c", "EXPOSE 8080",
                       "-c", "LABEL team=blue", "-c", "VOLUME /data", "cm-config", "committed:config")
        assert r.returncode == 0, r.stderr
        config = daemon.client.call("GET", "/images/committed:config/json")["Config"]
        assert config["Cmd"] == ["cat", "/srv-file"]
        assert "GREETING=hello" in config["Env"] and "FROM_RUN=1" in config["Env"]
        assert config["ExposedPorts"] == {"8080/tcp": {}} and config["Labels"] == {"team": "blue"}
        assert config["Volumes"] == {"/data": {}} and config["WorkingDir"] == "/tmp"
        r = daemon.cli("run", "--rm", "committed:config")
        assert r.stdout == b"data\n"
        r = daemon.cli("run", "--rm", "committed:config", "sh", "-c", "echo $GREETING $FROM_RUN; pwd")
        assert r.stdout == b"hello 1\n/tmp\n"
        # A bad change is refused before anything is made.
        before = len(daemon.client.call("GET", "/images/json", query={"all": True}))
        r = daemon.cli("commit", "-c", "FROM busybox", "cm-config", "committed:bad")
        assert r.returncode == 1 and b"FROM is not a valid change command" in r.stderr
        assert len(daemon.client.call("GET", "/images/json", query={"all": True})) == before
    finally:
        daemon.cli("rm", "-f", "cm-config")
        daemon.cli("rmi", "committed:config")


def test_commit_pauses_a_running_container_unless_told_not_to(daemon):
    daemon.cli("run", "-d", "--name", "cm-running", "busybox", "sh", "-c", "echo up > /state; sleep 300")
    try:
        for _ in range(100):
            if b"up" in daemon.cli("exec", "cm-running", "cat", "/state").stdout:
                break
            time.sleep(0.05)
        since = time.time()
        r = daemon.cli("commit", "cm-running", "committed:running")
        assert r.returncode == 0, r.stderr
        assert _events(daemon, since, "cm-running") == ["pause", "commit", "unpause"]
        assert daemon.client.call("GET", "/containers/cm-running/json")["State"]["Status"] == "running"
        since = time.time()
        r = daemon.cli("commit", "--pause=false", "cm-running", "committed:running2")
        assert r.returncode == 0, r.stderr
        assert _events(daemon, since, "cm-running") == ["commit"]
        assert daemon.cli("run", "--rm", "committed:running", "cat", "/state").stdout == b"up\n"
        # Already paused: committed as it is, and left paused.
        daemon.cli("pause", "cm-running")
        assert daemon.cli("commit", "cm-running").returncode == 0
        assert daemon.client.call("GET", "/containers/cm-running/json")["State"]["Status"] == "paused"
    finally:
        daemon.cli("rm", "-f", "cm-running")
        daemon.cli("rmi", "committed:running", "committed:running2")


def test_committing_nothing_adds_an_empty_history_row_and_no_layer(daemon):
    daemon.cli("run", "--name", "cm-empty", "busybox", "true")
    try:
        r = daemon.client.call("POST", "/commit", query={"container": "cm-empty", "repo": "committed",
                                                         "tag": "empty", "comment": "nothing"})
        image = daemon.client.call("GET", "/images/committed:empty/json")
        assert r["Id"] == image["Id"]
        busybox = daemon.client.call("GET", "/images/busybox/json")
        assert image["RootFS"]["Layers"] == busybox["RootFS"]["Layers"]
        row = _image_config(daemon, image["Id"])["history"][-1]
        assert row["empty_layer"] is True and row["comment"] == "nothing" and row["created_by"] == "true"
        # --init's mount point lives in the init layer too: it is not the container's change.
        daemon.cli("run", "--init", "--name", "cm-empty-init", "busybox", "true")
        assert daemon.cli("diff", "cm-empty-init").stdout == b""
        r = daemon.client.call("POST", "/commit", query={"container": "cm-empty-init"})
        assert daemon.client.call("GET", f"/images/{r['Id']}/json")["RootFS"] == image["RootFS"]
    finally:
        daemon.cli("rm", "-f", "cm-empty", "cm-empty-init")
        daemon.cli("rmi", "committed:empty")


def test_file_capabilities_survive_commit_and_run(daemon):
    daemon.cli("run", "--name", "cm-caps", "busybox", "sh", "-c", "mkdir /cap && cp /bin/busybox /cap/busybox")
    cid = daemon.client.call("GET", "/containers/cm-caps/json")["Id"]
    try:
        os.setxattr(os.path.join(_snapshot_fs(daemon, cid), "cap", "busybox"), "security.capability", CAP_NET_RAW)
        assert daemon.cli("commit", "cm-caps", "committed:caps").returncode == 0
        image = daemon.client.call("GET", "/images/committed:caps/json")
        layer = image["GraphDriver"]["Data"]["UpperDir"]
        assert os.getxattr(os.path.join(layer, "cap", "busybox"), "security.capability") == CAP_NET_RAW
        # The kernel honours it: a non-root process started from that file gets cap_net_raw.
        r = daemon.cli("run", "--rm", "-u", "1000", "committed:caps", "/cap/busybox", "grep", "CapEff",
                       "/proc/self/status")
        assert int(r.stdout.split()[1], 16) == 1 << 13, r.stdout + r.stderr
    finally:
        daemon.cli("rm", "-f", "cm-caps")
        daemon.cli("rmi", "committed:caps")


@pytest.mark.parametrize("args, message", [
    (["no-such-container"], b"No such container: no-such-container"),
    (["cm-errors", "Bad:Name"], b"invalid reference format"),
    (["cm-errors", "ok@sha256:" + "a" * 64], b"refusing to create a tag with a digest reference"),
])
def test_commit_errors(daemon, args, message):
    daemon.cli("create", "--name", "cm-errors", "busybox")
    try:
        r = daemon.cli("commit", *args)
        assert r.returncode != 0 and message in r.stderr, r.stderr
    finally:
        daemon.cli("rm", "-f", "cm-errors")


def test_commit_with_the_copy_snapshotter(busybox_tar):
    """The vfs driver keeps no diff: the layer comes from comparing the container's tree with its image."""
    from conftest import PrivateDaemon

    d = PrivateDaemon(busybox_tar, ["--storage-driver", "vfs"]).start()
    try:
        d.import_busybox()
        r = d.cli("run", "--name", "vfs-commit", "busybox", "sh", "-c",
                  "echo v > /etc/added; rm /etc/group /bin/ls; rm -rf /var; mkdir -p /var/fresh; chmod 700 /tmp")
        assert r.returncode == 0, r.stderr
        assert d.cli("commit", "vfs-commit", "vfs:committed").returncode == 0
        script = "cat /etc/added; ls /var; stat -c %a /tmp; ls /etc/group /bin/ls 2>&1; ls /etc/hosts /etc/passwd"
        out = d.cli("run", "--rm", "vfs:committed", "sh", "-c", script).stdout.decode().splitlines()
        assert out[:3] == ["v", "fresh", "700"] and all("No such file" in line for line in out[3:5])
        assert out[5:] == ["/etc/hosts", "/etc/passwd"]
        # Only what the container changed is in the layer: not the image, not the runtime's mount points.
        d.cli("run", "--name", "vfs-nothing", "busybox", "true")
        r = d.client.call("POST", "/commit", query={"container": "vfs-nothing"})
        layers = d.client.call("GET", f"/images/{r['Id']}/json")["RootFS"]["Layers"]
        assert layers == d.client.call("GET", "/images/busybox/json")["RootFS"]["Layers"]
    finally:
        d.cleanup()


def test_commit_api_body_config_is_merged_with_the_containers(daemon):
    daemon.cli("run", "--name", "cm-body", "-e", "KEEP=1", "busybox", "true")
    try:
        r = daemon.client.call("POST", "/commit", query={"container": "cm-body", "repo": "committed", "tag": "body"},
                               body={"Cmd": ["echo", "from body"], "Env": ["X=2"], "HostConfig": {}})
        config = daemon.client.call("GET", f"/images/{r['Id']}/json")["Config"]
        assert config["Cmd"] == ["echo", "from body"] and config["Env"][0] == "X=2" and "KEEP=1" in config["Env"]
        assert daemon.cli("run", "--rm", "committed:body").stdout == b"from body\n"
        r = daemon.client.call("POST", "/commit", query={"container": "cm-body"}, body=b"null")  # as docker-py sends
        assert daemon.client.call("GET", f"/images/{r['Id']}/json")["Config"]["Cmd"] == ["true"]
    finally:
        daemon.cli("rm", "-f", "cm-body")
        daemon.cli("rmi", "committed:body")
