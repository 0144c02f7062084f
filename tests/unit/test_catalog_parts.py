"""The catalog's pure parts: recipe lookup and digests, the layer filter, busybox's rootfs and the
load archive."""

import io
import json
import os
import shutil
import tarfile

import pytest

from dockyard.catalog import recipes
from dockyard.catalog.bootstrap import Layer, command, copy_layer, remove_abandoned
from dockyard.catalog.busybox import make_layer
from dockyard.catalog.cache import PackageCache
from dockyard.catalog.image import ArchiveReader, config_bytes


def test_find_by_name_tag_and_alias():
    assert recipes.find("nginx") is recipes.NGINX
    assert recipes.find("docker.io/library/nginx:latest") is recipes.NGINX
    assert recipes.find("debian:12-slim") is recipes.DEBIAN_SLIM
    assert recipes.find("registry:2") is recipes.REGISTRY
    with pytest.raises(LookupError, match="debian is available as debian:bookworm, debian:12"):
        recipes.find("debian:sid")


def test_digest_covers_the_inputs():
    base = recipes.recipe_digest(recipes.NGINX, 100, "b")
    assert base == recipes.recipe_digest(recipes.NGINX, 100, "b")
    assert base != recipes.recipe_digest(recipes.NGINX, 101, "b")
    assert base != recipes.recipe_digest(recipes.NGINX, 100, "c")
    assert base != recipes.recipe_digest(recipes.REDIS, 100, "b")


def _tar(entries: list[tarfile.TarInfo], data: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info in entries:
            tar.addfile(info, io.BytesIO(data[info.name]) if info.name in data else None)
    buf.seek(0)
    return buf


def _copy(source: io.BytesIO, transform) -> list[tarfile.TarInfo]:
    out = io.BytesIO()
    with tarfile.open(fileobj=source, mode="r|") as tar_in, tarfile.open(fileobj=out, mode="w|") as tar_out:
        transform(tar_in, tar_out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        return tar.getmembers()


def test_layer_drops_device_nodes_and_names():
    def entry(name, kind=tarfile.DIRTYPE, **kw):
        info = tarfile.TarInfo(name)
        info.type, info.uname, info.gname = kind, "someone", "staff"
        info.pax_headers = {"atime": "123.5"}
        for key, value in kw.items():
            setattr(info, key, value)
        return info

    source = _tar([entry("./"), entry("./dev/"), entry("./dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
                   entry("./etc/"), entry("./etc/motd", tarfile.REGTYPE, size=2),
                   entry("./etc/motd2", tarfile.LNKTYPE, linkname="./etc/motd")], {"./etc/motd": b"hi"})
    members = _copy(source, copy_layer)
    assert [m.name for m in members] == ["dev", "etc", "etc/motd", "etc/motd2"]
    assert members[3].linkname == "etc/motd"
    assert all(m.uname == "" and "atime" not in m.pax_headers for m in members)


@pytest.mark.skipif(not shutil.which("busybox"), reason="busybox-static is installed by make")
def test_busybox_rootfs_is_the_same_every_time():
    binary = open(shutil.which("busybox"), "rb").read()
    info = tarfile.TarInfo("./bin/busybox")
    info.size = len(binary)

    def build():
        return _copy(_tar([info], {"./bin/busybox": binary}), make_layer(42))

    first, second = build(), build()
    assert [(m.name, m.type, m.linkname) for m in first] == [(m.name, m.type, m.linkname) for m in second]
    names = {m.name: m for m in first}
    assert names["bin/sh"].islnk() and names["bin/sh"].linkname == "bin/busybox"
    assert names["tmp"].mode == 0o1777 and "etc/passwd" in names
    assert {m.mtime for m in first} == {42}


def test_archive_is_a_loadable_docker_archive(tmp_path):
    layer_path = tmp_path / "layer.tar"
    layer_path.write_bytes(b"x" * 1500)
    layer = Layer(layer_path, "sha256:" + "ab" * 32, 1500)
    config = config_bytes(recipes.NGINX, layer, "sha256:d", 1747699200)
    document = json.loads(config)
    assert document["created"] == "2025-05-20T00:00:00Z"
    assert document["config"]["Entrypoint"] == ["/docker-entrypoint.sh"]
    assert document["config"]["ExposedPorts"] == {"80/tcp": {}}
    assert document["config"]["StopSignal"] == "SIGQUIT"
    assert document["config"]["Labels"] == {recipes.LABEL: "sha256:d"}
    reader = ArchiveReader(recipes.NGINX, [layer], config)
    data = b""
    while chunk := reader.read(700):
        data += chunk
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        assert manifest[0]["RepoTags"] == ["nginx:latest"]
        assert tar.extractfile(manifest[0]["Layers"][0]).read() == b"x" * 1500
        assert tar.extractfile(manifest[0]["Config"]).read() == config


def test_command_reuses_the_cache_and_skips_update_when_asked(tmp_path, monkeypatch):
    monkeypatch.setattr("dockyard.catalog.bootstrap.mmdebstrap_binary", lambda: "mmdebstrap")
    monkeypatch.setattr("dockyard.catalog.bootstrap.host_sources", lambda: ["/etc/apt/sources.list.d/x.sources"])
    cache = PackageCache(tmp_path / "cache")
    argv = command(recipes.NGINX, cache, tmp_path, update=False)
    assert "--skip=update" in argv and "--include=nginx,gettext-base" in argv and "--variant=minbase" in argv
    assert argv[-3:] == ["bookworm", "-", "/etc/apt/sources.list.d/x.sources"]
    assert str(cache.debs) in (tmp_path / "fill.sh").read_text()
    assert "--skip=update" not in command(recipes.BUSYBOX, cache, tmp_path, update=True)


def test_work_of_dead_builds_is_removed(tmp_path):
    cache = PackageCache(tmp_path / "cache")
    cache.prepare()
    dead = 2 ** 22 + 12345  # above the kernel's pid_max default: no such process
    (cache.tmp / f"build-nginx-latest-{dead}" / "tmp").mkdir(parents=True)
    (cache.tmp / f"build-nginx-latest-{dead}.layer.tar").write_bytes(b"")
    (cache.tmp / f"build-redis-latest-{os.getpid()}").mkdir()
    remove_abandoned(cache)
    assert sorted(os.listdir(cache.tmp)) == [f"build-redis-latest-{os.getpid()}"]


def test_image_cache_keeps_the_last_build_per_image(tmp_path):
    cache = PackageCache(tmp_path / "cache")
    cache.prepare()
    first = tmp_path / "one.tar"
    first.write_bytes(b"one")
    kept = cache.keep_built("nginx:latest", "k1", first, b"{}")
    assert kept.read_bytes() == b"one" and not first.exists()
    second = tmp_path / "two.tar"
    second.write_bytes(b"two")
    cache.keep_built("nginx:latest", "k2", second, b"{2}")
    assert cache.built("nginx:latest", "k1") is None
    path, config = cache.built("nginx:latest", "k2")
    assert path.read_bytes() == b"two" and config == b"{2}"
    before = cache.lists_digest()
    (cache.lists / "x_Packages").write_text("Package: a\n")
    assert cache.lists_digest() != before


def test_an_image_on_a_base_lists_the_base_layers_and_history_first(tmp_path):
    base_layer = Layer(tmp_path / "base.tar", "sha256:" + "aa" * 32, 10)
    base = config_bytes(recipes.DEBIAN_SLIM, base_layer, "sha256:b", 1747699200)
    layer = Layer(tmp_path / "nginx.tar", "sha256:" + "bb" * 32, 10)
    document = json.loads(config_bytes(recipes.NGINX, layer, "sha256:n", 1747699200, base))
    assert document["rootfs"]["diff_ids"] == [base_layer.diff_id, layer.diff_id]
    assert [h["created_by"] for h in document["history"]] == [
        "dockyard catalog build debian:bookworm-slim: mmdebstrap --variant=minbase",
        "dockyard catalog build nginx:latest: on debian:bookworm-slim, apt-get install nginx gettext-base"]
    assert document["config"]["StopSignal"] == "SIGQUIT"  # the image's own config, not the base's


def test_a_build_beside_another_never_loses_the_layers_it_reads(tmp_path):
    """Two builds share the image cache (a test suite's --rebuild beside a user's build): the same
    key is kept once and left in place, and a pinned layer outlives its entry being replaced."""
    cache = PackageCache(tmp_path / "cache")
    cache.prepare()
    first = tmp_path / "one.tar"
    first.write_bytes(b"one")
    kept = cache.keep_built("debian:bookworm-slim", "k1", first, b"{1}")
    inode = kept.stat().st_ino
    pinned = cache.pin(kept)
    again = tmp_path / "again.tar"
    again.write_bytes(b"one")
    assert cache.keep_built("debian:bookworm-slim", "k1", again, b"{1}") == kept
    assert kept.stat().st_ino == inode and not again.exists()  # left in place, the new copy dropped
    newer = tmp_path / "newer.tar"
    newer.write_bytes(b"newer")
    cache.keep_built("debian:bookworm-slim", "k2", newer, b"{2}")  # other lists: the old entry goes
    assert not kept.exists() and pinned.read_bytes() == b"one"
    assert pinned.name.endswith(f"-{os.getpid()}.layer.tar")  # removed with the process if left behind
    pinned.unlink()
