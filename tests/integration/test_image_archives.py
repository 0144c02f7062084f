"""`save` and `load`: Docker's archive format both ways, OCI layouts, compressed input, all-or-nothing loads."""

import bz2
import gzip
import json
import lzma
import os
import signal
import socket
import time

import archives
import pytest


@pytest.fixture(scope="module")
def base_layer(busybox_tar) -> bytes:
    return busybox_tar.read_bytes()


def state(daemon) -> dict:
    """What a load may change: blobs, layers, images, references, and its staging directories."""
    data = daemon.data_root
    return {
        "blobs": sorted(os.listdir(os.path.join(data, "content", "blobs", "sha256"))),
        "ingest": sorted(os.listdir(os.path.join(data, "content", "ingest"))),
        "layers": sorted(os.listdir(os.path.join(data, "image", "layerdb"))),
        "images": sorted((i["Id"], tuple(i["RepoTags"])) for i in daemon.client.call("GET", "/images/json")),
    }


def load(daemon, data: bytes, *args: str):
    return daemon.cli("load", *args, input=data)


def image_id(daemon, name: str) -> str:
    return daemon.client.call("GET", f"/images/{name}/json")["Id"]


def two_layer_image(base_layer: bytes, tag: str, text: bytes, *more_tags: str) -> tuple[bytes, bytes]:
    """(config, archive) of busybox plus a layer holding /hello.txt."""
    top = archives.layer({"hello.txt": text})
    config = archives.config([archives.digest(base_layer), archives.digest(top)], cmd=["cat", "/hello.txt"])
    return config, archives.docker_archive([(config, [base_layer, top], [tag, *more_tags])])


def test_save_rmi_load_keeps_the_id_and_tags_and_runs(daemon, base_layer, tmp_path):
    config, archive = two_layer_image(base_layer, "arch/two:1", b"hello from layer two\n", "arch/two:extra")
    r = load(daemon, archive)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "Loaded image: arch/two:1\nLoaded image: arch/two:extra\n"
    original = image_id(daemon, "arch/two:1")
    assert original == archives.digest(config)
    saved = tmp_path / "two.tar"
    r = daemon.cli("save", "-o", str(saved), "arch/two")  # a repository alone: all its tags
    assert r.returncode == 0, r.stderr
    assert daemon.cli("rmi", "arch/two:1", "arch/two:extra").returncode == 0
    r = daemon.cli("load", "-i", str(saved))
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.decode().splitlines()) == ["Loaded image: arch/two:1", "Loaded image: arch/two:extra"]
    assert image_id(daemon, "arch/two:1") == original == image_id(daemon, "arch/two:extra")
    r = daemon.cli("run", "--rm", "arch/two:1")
    assert r.returncode == 0 and r.stdout == b"hello from layer two\n"
    daemon.cli("rmi", "arch/two:1", "arch/two:extra")


def test_saved_archive_layout_is_docker_and_oci_and_deterministic(daemon, base_layer):
    config, archive = two_layer_image(base_layer, "arch/layout:1", b"layout\n")
    assert load(daemon, archive).returncode == 0
    first = daemon.cli("save", "arch/layout:1").stdout
    assert first == daemon.cli("image", "save", "arch/layout:1").stdout  # byte for byte
    files = archives.members(first)
    manifest = json.loads(files["manifest.json"])
    diff_ids = json.loads(config)["rootfs"]["diff_ids"]
    assert manifest == [{"Config": f"blobs/sha256/{archives.digest(config)[7:]}", "RepoTags": ["arch/layout:1"],
                         "Layers": [f"blobs/sha256/{d[7:]}" for d in diff_ids]}]
    assert json.loads(files["repositories"]) == {"arch/layout": {"1": diff_ids[-1][7:]}}
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    [entry] = index["manifests"]
    assert entry["annotations"] == {"io.containerd.image.name": "docker.io/arch/layout:1",
                                    "org.opencontainers.image.ref.name": "1"}
    oci_manifest = json.loads(files[f"blobs/sha256/{entry['digest'][7:]}"])
    assert oci_manifest["config"]["digest"] == archives.digest(config)
    assert [layer["digest"] for layer in oci_manifest["layers"]] == diff_ids
    for name, data in files.items():
        if name.startswith("blobs/"):
            assert archives.digest(data)[7:] == name.rpartition("/")[2]
    daemon.cli("rmi", "arch/layout:1")


def test_several_images_in_one_archive_share_layers(daemon, base_layer):
    config_a, archive_a = two_layer_image(base_layer, "arch/a:1", b"a\n")
    config_b, archive_b = two_layer_image(base_layer, "arch/b:1", b"b\n")
    assert load(daemon, archive_a).returncode == 0 and load(daemon, archive_b).returncode == 0
    saved = daemon.cli("save", "arch/a:1", "arch/b:1").stdout
    files = archives.members(saved)
    manifest = json.loads(files["manifest.json"])
    assert [m["RepoTags"] for m in manifest] == [["arch/a:1"], ["arch/b:1"]]
    base = f"blobs/sha256/{archives.digest(base_layer)[7:]}"
    assert manifest[0]["Layers"][0] == manifest[1]["Layers"][0] == base
    assert len([n for n in files if n == base]) == 1
    assert daemon.cli("rmi", "arch/a:1", "arch/b:1").returncode == 0
    r = load(daemon, saved)
    assert r.stdout.decode() == "Loaded image: arch/a:1\nLoaded image: arch/b:1\n", r.stderr
    assert image_id(daemon, "arch/a:1") == archives.digest(config_a)
    assert image_id(daemon, "arch/b:1") == archives.digest(config_b)
    assert daemon.cli("run", "--rm", "arch/b:1").stdout == b"b\n"
    daemon.cli("rmi", "arch/a:1", "arch/b:1")


def test_docker_20_10_layout_with_a_linked_shared_layer(daemon, base_layer):
    top = archives.random_layer()
    one = archives.config([archives.digest(base_layer)], created="2024-01-01T00:00:00Z")
    two = archives.config([archives.digest(base_layer), archives.digest(top)])
    archive = archives.docker_archive([(one, [base_layer], ["arch/one:1"]), (two, [base_layer, top], ["arch/two:2"])])
    r = load(daemon, archive)
    assert r.returncode == 0, r.stderr
    assert image_id(daemon, "arch/one:1") == archives.digest(one)
    assert image_id(daemon, "arch/two:2") == archives.digest(two)
    daemon.cli("rmi", "arch/one:1", "arch/two:2")


def test_wrong_diff_id_is_refused_and_nothing_is_stored(daemon, base_layer):
    good, bad = archives.random_layer("good.bin"), archives.random_layer("bad.bin")
    config = archives.config([archives.digest(base_layer), archives.digest(good), archives.digest(bad)])
    tampered = archives.random_layer("tampered.bin")  # in the archive where `bad` should be
    archive = archives.docker_archive([(config, [base_layer, good, tampered], ["arch/bad:1"])])
    before = state(daemon)
    r = load(daemon, archive)
    assert r.returncode == 1
    message = r.stderr.decode()
    assert "invalid diffID for layer 2" in message and archives.digest(bad) in message
    assert archives.digest(tampered) in message and "nothing was loaded" in message
    assert state(daemon) == before


def test_a_layer_that_is_not_a_tar_is_undone(daemon, base_layer):
    good, junk = archives.random_layer("fine.bin"), os.urandom(3000)
    config = archives.config([archives.digest(good), archives.digest(junk)])
    before = state(daemon)
    r = load(daemon, archives.docker_archive([(config, [good, junk], ["arch/junk:1"])]))
    assert r.returncode == 1 and b"could not be applied" in r.stderr, r.stderr
    assert state(daemon) == before


@pytest.mark.parametrize("archive, message", [
    (b"", "the input is empty"),
    (b"this is not a tar archive" * 40, "not a readable tar archive"),
    (archives.layer({"hello": b"x"}), "no manifest.json or index.json"),
    (archives.layer({"manifest.json": b"{}"}), "manifest.json must be a list"),
    (archives.layer({"manifest.json": b'[{"Config": "c.json", "Layers": []}]'}), "image config 'c.json' is missing"),
    (archives.layer({"manifest.json": b'[{"Config": "c.json", "Layers": ["l.tar"]}]',
                     "c.json": archives.config([archives.digest(b"x")])}), "layer 'l.tar' of image"),
    (archives.layer({"manifest.json": b'[{"Config": "c.json", "Layers": [], "RepoTags": ["Bad Tag"]}]'}),
     "invalid tag 'Bad Tag'"),
    (archives.layer({"manifest.json": b'[{"Config": "c.json", "Layers": []}]',
                     "c.json": json.dumps({"os": "windows", "rootfs": {"diff_ids": []}}).encode()}),
     "cannot load windows image on linux"),
    (archives.layer({"manifest.json": b'[{"Config": "../../etc/passwd", "Layers": []}]'}), "is missing"),
    (archives.layer({"repositories": b"{}"}), "Docker before 1.10"),
])
def test_bad_archives_are_refused_clearly_and_change_nothing(daemon, archive, message):
    before = state(daemon)
    r = load(daemon, archive)
    assert r.returncode == 1
    assert message in r.stderr.decode(), r.stderr
    assert state(daemon) == before
    # As Docker: 200, and the stream's one message is the error (docker-py raises ImageLoadError).
    response = daemon.client.send("POST", "/images/load", query={"quiet": "1"}, body=archive)
    assert response.status == 200
    messages = list(response.json_lines())
    assert len(messages) == 1 and message in messages[0]["errorDetail"]["message"], messages
    assert messages[0]["error"] == messages[0]["errorDetail"]["message"]


def test_oci_layout_with_nested_index_and_gzip_layers(daemon, base_layer):
    top = archives.layer({"hello.txt": b"from an OCI layout\n"})
    config = archives.config([archives.digest(base_layer), archives.digest(top)], cmd=["cat", "/hello.txt"])
    r = load(daemon, archives.oci_layout(config, [base_layer, top], "docker.io/arch/oci:7"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Loaded image: arch/oci:7\n"
    assert image_id(daemon, "arch/oci:7") == archives.digest(config)
    assert daemon.cli("run", "--rm", "arch/oci:7").stdout == b"from an OCI layout\n"
    daemon.cli("rmi", "arch/oci:7")


def test_oci_layout_with_a_wrong_diff_id_is_refused(daemon, base_layer):
    top = archives.random_layer()
    config = archives.config([archives.digest(base_layer), archives.digest(archives.random_layer())])
    before = state(daemon)
    r = load(daemon, archives.oci_layout(config, [base_layer, top], "arch/ocibad:1", nested=False))
    assert r.returncode == 1 and b"invalid diffID for layer 1" in r.stderr, r.stderr
    assert state(daemon) == before


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress], ids=["gzip", "bzip2", "xz"])
def test_compressed_archives_load(daemon, base_layer, compress):
    config, archive = two_layer_image(base_layer, f"arch/packed:{compress.__module__}", b"packed\n")
    r = load(daemon, compress(archive))
    assert r.returncode == 0, r.stderr
    assert image_id(daemon, f"arch/packed:{compress.__module__}") == archives.digest(config)
    daemon.cli("rmi", f"arch/packed:{compress.__module__}")


def test_untagged_images_and_moved_tags(daemon, base_layer):
    config, archive = two_layer_image(base_layer, "arch/moved:1", b"first\n")
    assert load(daemon, archive).returncode == 0
    first = image_id(daemon, "arch/moved:1")
    by_id = daemon.cli("save", first[7:19]).stdout  # by ID: no tags in the archive
    assert json.loads(archives.members(by_id)["manifest.json"])[0]["RepoTags"] is None
    assert "repositories" not in archives.members(by_id)
    _, other = two_layer_image(base_layer, "arch/moved:1", b"second\n")
    r = load(daemon, other)
    second = image_id(daemon, "arch/moved:1")
    assert r.stdout.decode() == (f"The image arch/moved:1 already exists, renaming the old one with ID {first} to "
                                 "empty string\nLoaded image: arch/moved:1\n")
    assert second != first
    r = load(daemon, by_id)
    assert r.stdout.decode() == f"Loaded image ID: {first}\n"
    daemon.cli("rmi", first, "arch/moved:1")


def test_save_errors_and_events(daemon, base_layer):
    r = daemon.cli("save", "arch/nosuch:1")
    assert r.returncode == 1 and b"No such image: arch/nosuch:1" in r.stderr
    r = daemon.cli("save", "-o", "/nonexistent/dir/out.tar", "busybox")
    assert r.returncode == 1 and b'directory "/nonexistent/dir" does not exist' in r.stderr
    since = time.time()
    config, archive = two_layer_image(base_layer, "arch/events:1", b"e\n")
    assert load(daemon, archive).returncode == 0
    assert daemon.cli("save", "arch/events:1").returncode == 0
    stream = daemon.client.send("GET", "/events", query={
        "since": f"{since:.6f}", "until": f"{time.time() + 0.3:.6f}", "filters": json.dumps({"type": ["image"]})})
    events = [(e["Action"], e["Actor"]["ID"]) for e in stream.json_lines()]
    assert ("load", archives.digest(config)) in events and ("save", archives.digest(config)) in events
    daemon.cli("rmi", "arch/events:1")


def test_load_progress_stream_and_quiet(daemon):
    layer = archives.random_layer(size=100_000)
    config = archives.config([archives.digest(layer)])
    archive = archives.docker_archive([(config, [layer], ["arch/progress:1"])])
    response = daemon.client.send("POST", "/images/load", body=archive)
    messages = list(response.json_lines())
    assert messages[0] == {"status": "Loading layer", "id": archives.digest(layer)[7:19],
                           "progressDetail": {"current": 0, "total": len(layer)}}
    assert messages[1]["progressDetail"] == {"current": len(layer), "total": len(layer)}
    assert messages[-1] == {"stream": "Loaded image: arch/progress:1\n"}
    response = daemon.client.send("POST", "/images/load", query={"quiet": "1"}, body=archive)
    assert list(response.json_lines()) == [{"stream": "Loaded image: arch/progress:1\n"}]
    daemon.cli("rmi", "arch/progress:1")


def test_a_daemon_killed_mid_load_leaves_nothing_behind(fresh_daemon):
    d = fresh_daemon
    layer = archives.random_layer(size=3 << 20)
    archive = archives.docker_archive([(archives.config([archives.digest(layer)]), [layer], ["arch/crash:1"])])
    before = state(d)
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(d.socket)
    sock.sendall(b"POST /v1.41/images/load?quiet=1 HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(archive) + archive[: len(archive) // 2])
    ingest = os.path.join(d.data_root, "content", "ingest")
    deadline = time.monotonic() + 10
    while not os.listdir(ingest) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert os.listdir(ingest), "the load never started staging"
    os.kill(d.proc.pid, signal.SIGKILL)
    d.proc.wait()
    sock.close()
    d.start()
    assert state(d) == before
    assert load(d, archive).returncode == 0
