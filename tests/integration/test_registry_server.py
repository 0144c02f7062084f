"""`dockyard registry serve` driven by real clients: dockyard, the docker CLI through dockyardd and
through a private dockerd, docker-py and skopeo; auth (htpasswd over TLS, tokens, silly), garbage
collection under concurrent pushes, notifications, the pull-through cache and crash safety."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest
from registryserver import DockyardRegistry


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")
    return result.stdout.decode()


def import_as(daemon, name: str, *changes: str) -> str:
    with open(daemon.busybox_tar, "rb") as f:
        out = daemon.client.call("POST", "/images/create", query={"fromSrc": "-", "repo": name, "tag": "latest",
                                                                  "changes": ['CMD ["sh"]', *changes]}, body=f)
    return out["status"] if isinstance(out, dict) else json.loads(out.decode().splitlines()[-1])["status"]


def blob_files(reg: DockyardRegistry) -> dict[str, int]:
    """Every blob the store holds, with its size."""
    top = reg.data / "docker/registry/v2/blobs"
    out = {}
    for path in top.glob("*/*/*/data"):
        out[f"{path.parent.parent.parent.name}:{path.parent.name}"] = path.stat().st_size
    return out


@pytest.fixture(scope="module")
def reg():
    r = DockyardRegistry().start()
    yield r
    r.stop()


def test_dockyard_and_docker_cli_push_and_pull_through_dockyardd(daemon, reg):
    name = f"{reg.host}/dy/busybox"
    image_id = import_as(daemon, name, "ENV FROM=dockyard")
    out = ok(daemon.cli("push", name))
    assert f"The push refers to repository [{name}]" in out and "latest: digest: sha256:" in out
    # Every blob on disk is exactly its digest.
    for digest, _size in blob_files(reg).items():
        algorithm, hexpart = digest.split(":")
        data = (reg.data / f"docker/registry/v2/blobs/{algorithm}/{hexpart[:2]}/{hexpart}/data").read_bytes()
        assert hashlib.new(algorithm, data).hexdigest() == hexpart
    daemon.client.call("DELETE", f"/images/{image_id}", query={"force": True})
    pulled = ok(daemon.docker("pull", name))
    assert f"Status: Downloaded newer image for {name}:latest" in pulled
    assert daemon.client.call("GET", f"/images/{name}/json")["Id"] == image_id
    run = daemon.cli("run", "--rm", name, "sh", "-c", "echo $FROM")
    assert run.stdout == b"dockyard\n", run.stderr.decode()
    again = ok(daemon.docker("push", name))
    assert "Layer already exists" in again
    tags = reg.get_json("/v2/dy/busybox/tags/list")
    assert tags == {"name": "dy/busybox", "tags": ["latest"]}


def test_docker_py_pushes_and_pulls(daemon, reg):
    import docker

    client = docker.DockerClient(base_url=daemon.host, version="auto")
    name = f"{reg.host}/py/busybox"
    import_as(daemon, name)
    lines = list(client.images.push(name, tag="latest", stream=True, decode=True))
    assert not [line for line in lines if "error" in line], lines
    assert any("latest: digest: sha256:" in line.get("status", "") for line in lines), lines
    client.images.remove(name, force=True)
    image = client.images.pull(name, tag="latest")
    assert f"{name}:latest" in image.tags
    client.close()


def test_skopeo_copies_in_and_out_as_oci(daemon, reg, tmp_path):
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.fail("skopeo is not installed: `make test-packages` installs it")
    name = f"{reg.host}/sk/busybox"
    import_as(daemon, name)
    ok(daemon.cli("push", name))
    flags = ["--src-tls-verify=false", "--dest-tls-verify=false"]
    run = lambda *a: subprocess.run([skopeo, *a], capture_output=True, timeout=120)  # noqa: E731
    ok(run("copy", *flags, f"docker://{name}:latest", f"oci:{tmp_path}/layout:v1"))
    # Back as an OCI manifest into another repository; the layers are mounted or re-sent.
    ok(run("copy", *flags, f"oci:{tmp_path}/layout:v1", f"docker://{reg.host}/sk/oci:v1"))
    inspected = json.loads(ok(run("inspect", "--tls-verify=false", "--raw", f"docker://{reg.host}/sk/oci:v1")))
    assert inspected["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    tags = json.loads(ok(run("list-tags", "--tls-verify=false", f"docker://{reg.host}/sk/oci")))
    assert tags["Tags"] == ["v1"]
    ok(daemon.cli("pull", f"{reg.host}/sk/oci:v1"))
    run_out = daemon.cli("run", "--rm", f"{reg.host}/sk/oci:v1", "echo", "oci")
    assert run_out.stdout == b"oci\n", run_out.stderr.decode()


def test_a_private_dockerd_pushes_and_pulls(real_docker, daemon, reg):
    name = f"{reg.host}/real/busybox"
    with open(daemon.busybox_tar, "rb") as f:
        ok(real_docker.docker("import", "-c", 'CMD ["sh"]', "-c", "ENV FROM=docker", "-", name, input=f.read()))
    out = ok(real_docker.docker("push", name))
    assert "latest: digest: sha256:" in out
    docker_id = json.loads(ok(real_docker.docker("image", "inspect", name)))[0]["Id"]
    ok(daemon.cli("pull", name))
    assert daemon.client.call("GET", f"/images/{name}/json")["Id"] == docker_id
    ok(real_docker.docker("rmi", name))
    ok(real_docker.docker("pull", name))
    run = real_docker.docker("run", "--rm", "--network", "none", name, "sh", "-c", "echo $FROM")
    assert run.stdout == b"docker\n", run.stderr.decode()
