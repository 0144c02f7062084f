"""Image archives with real Docker: the docker CLI against Dockyard, and archives moving between a
real Docker daemon (docker.io 20.10) and Dockyard in both directions, keeping image IDs."""

import json

import archives


def ok(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def test_docker_cli_save_and_load_against_dockyard(daemon, busybox_tar, tmp_path):
    base = busybox_tar.read_bytes()
    top = archives.layer({"hello.txt": b"via the docker CLI\n"})
    config = archives.config([archives.digest(base), archives.digest(top)], cmd=["cat", "/hello.txt"])
    ok(daemon.docker("load", input=archives.docker_archive([(config, [base, top], ["compat/archive:1"])])))
    saved = tmp_path / "saved.tar"
    ok(daemon.docker("save", "-o", str(saved), "compat/archive:1"))
    assert saved.read_bytes() == daemon.cli("save", "compat/archive:1").stdout
    ok(daemon.docker("rmi", "compat/archive:1"))
    assert ok(daemon.docker("load", "-i", str(saved))) == "Loaded image: compat/archive:1\n"
    assert ok(daemon.docker("image", "load", "-q", "-i", str(saved))) == "Loaded image: compat/archive:1\n"
    assert ok(daemon.docker("image", "inspect", "-f", "{{.Id}}", "compat/archive:1")).strip() == \
        archives.digest(config)
    assert daemon.docker("image", "save", "compat/archive:1").stdout == saved.read_bytes()
    r = daemon.docker("load", input=b"not an archive at all" * 30)
    assert r.returncode == 1 and b"not a readable tar archive" in r.stderr
    ok(daemon.docker("rmi", "compat/archive:1"))


def test_docker_saved_image_loads_in_dockyard_with_its_id_and_runs(real_docker, daemon, busybox_tar, tmp_path):
    ok(real_docker.docker("import", "-c", 'CMD ["sh"]', str(busybox_tar), "interop/base:1"))
    ok(real_docker.docker("run", "--name", "maker", "--network", "none", "interop/base:1", "sh", "-c",
                          "echo made by docker > /made.txt && rm /bin/true"))
    ok(real_docker.docker("commit", "-c", 'CMD ["cat", "/made.txt"]', "maker", "interop/committed:2"))
    ok(real_docker.docker("rm", "maker"))
    saved = tmp_path / "from-docker.tar"
    ok(real_docker.docker("save", "-o", str(saved), "interop/base:1", "interop/committed:2"))
    ids = {name: ok(real_docker.docker("image", "inspect", "-f", "{{.Id}}", name)).strip()
           for name in ("interop/base:1", "interop/committed:2")}
    r = daemon.cli("load", "-i", str(saved))
    assert sorted(ok(r).splitlines()) == ["Loaded image: interop/base:1", "Loaded image: interop/committed:2"]
    for name, image_id in ids.items():
        assert daemon.client.call("GET", f"/images/{name}/json")["Id"] == image_id
    r = daemon.cli("run", "--rm", "interop/committed:2")
    assert ok(r) == "made by docker\n"
    r = daemon.cli("run", "--rm", "interop/committed:2", "ls", "/bin/true")  # Docker's whiteout hides it
    assert r.returncode != 0
    daemon.cli("rmi", "interop/base:1", "interop/committed:2")


def test_dockyard_saved_image_loads_in_docker_with_its_id_and_runs(real_docker, daemon, busybox_tar, tmp_path):
    base = busybox_tar.read_bytes()
    top = archives.layer({"hello.txt": b"made by dockyard\n"})
    config = archives.config([archives.digest(base), archives.digest(top)], cmd=["cat", "/hello.txt"])
    ok(daemon.cli("load", input=archives.docker_archive([(config, [base, top], ["interop/dockyard:3"])])))
    saved = tmp_path / "from-dockyard.tar"
    ok(daemon.cli("save", "-o", str(saved), "interop/dockyard:3", "busybox"))
    assert ok(real_docker.docker("load", "-i", str(saved))).splitlines() == [
        "Loaded image: interop/dockyard:3", "Loaded image: busybox:latest"]
    inspected = json.loads(ok(real_docker.docker("image", "inspect", "interop/dockyard:3")))[0]
    assert inspected["Id"] == archives.digest(config)
    assert inspected["RootFS"]["Layers"] == json.loads(config)["rootfs"]["diff_ids"]
    assert ok(real_docker.docker("run", "--rm", "--network", "none", "interop/dockyard:3")) == "made by dockyard\n"
    busybox_id = daemon.client.call("GET", "/images/busybox/json")["Id"]
    assert ok(real_docker.docker("image", "inspect", "-f", "{{.Id}}", "busybox")).strip() == busybox_id
    daemon.cli("rmi", "interop/dockyard:3")
