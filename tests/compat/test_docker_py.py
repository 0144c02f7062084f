"""docker-py (the `docker` package) driving dockyardd: the SDK Compose and many tools are built on."""

import io
import tarfile

import pytest

docker = pytest.importorskip("docker")


@pytest.fixture
def sdk(daemon):
    client = docker.DockerClient(base_url=daemon.host, version="auto", timeout=60)
    yield client
    client.close()


def test_version_images_and_a_first_container(sdk):
    assert sdk.ping() is True
    assert sdk.version()["ApiVersion"] == "1.41"
    assert "busybox:latest" in sdk.images.get("busybox").tags
    assert sdk.containers.run("busybox", ["echo", "hello from docker-py"], remove=True) == b"hello from docker-py\n"


def test_container_lifecycle_exec_logs_archives(sdk):
    c = sdk.containers.run("busybox", ["sh", "-c", "echo started; trap 'exit 3' TERM; while true; do sleep 0.1; done"],
                           detach=True, name="pyctr", labels={"made-by": "docker-py"})
    try:
        c.reload()
        assert c.status == "running" and c.labels["made-by"] == "docker-py"
        code, output = c.exec_run(["sh", "-c", "echo $((6*7))"])
        assert code == 0 and output == b"42\n"
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            payload = b"put by docker-py\n"
            info = tarfile.TarInfo("note.txt")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        assert c.put_archive("/tmp", data.getvalue())
        chunks, stat = c.get_archive("/tmp/note.txt")
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
            assert tar.extractfile("note.txt").read() == b"put by docker-py\n"
        assert stat["name"] == "note.txt"
        c.stop(timeout=5)
        assert c.wait()["StatusCode"] == 3
        assert b"started" in c.logs()
        image = c.commit(repository="pycommit", tag="v1")
        assert "pycommit:v1" in image.tags
    finally:
        c.remove(force=True)
    sdk.images.remove("pycommit:v1")


def test_volumes_networks_build_save_load(sdk):
    volume = sdk.volumes.create("pyvol", labels={"k": "v"})
    network = sdk.networks.create("pynet", driver="bridge")
    try:
        server = sdk.containers.run("busybox", ["sleep", "30"], detach=True, name="pyserver", network="pynet")
        try:
            out = sdk.containers.run("busybox", ["sh", "-c", "ping -c1 -W1 pyserver >/dev/null && echo reach > "
                                                 "/data/f && cat /data/f"],
                                     network="pynet", volumes={"pyvol": {"bind": "/data", "mode": "rw"}}, remove=True)
            assert out == b"reach\n"
        finally:
            server.remove(force=True)
        assert sdk.volumes.get("pyvol").attrs["Labels"] == {"k": "v"}
    finally:
        network.remove()
        volume.remove()
    dockerfile = b"FROM busybox\nRUN echo built-by-sdk > /msg\nCMD [\"cat\", \"/msg\"]\n"
    image, logs = sdk.images.build(fileobj=io.BytesIO(dockerfile), tag="pybuilt:1", rm=True)
    assert any("Successfully built" in (line.get("stream") or "") for line in logs)
    assert sdk.containers.run("pybuilt:1", remove=True) == b"built-by-sdk\n"
    saved = b"".join(image.save(named=True))
    sdk.images.remove("pybuilt:1")
    loaded = sdk.images.load(saved)
    assert loaded[0].id == image.id and "pybuilt:1" in loaded[0].tags
    sdk.images.remove("pybuilt:1")
