"""`dockyard registry serve` driven by real clients: dockyard, the docker CLI through dockyardd and
through a private dockerd, docker-py and skopeo; auth (htpasswd over TLS, tokens, silly), garbage
collection under concurrent pushes, notifications, the pull-through cache and crash safety."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest
from registryserver import DOCKYARD, DockyardRegistry


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


# -- authentication -------------------------------------------------------------------------------

def test_htpasswd_over_tls_with_docker_login(daemon, tmp_path):
    reg = DockyardRegistry(users={"carol": "s3cret"}, tls=True).start()
    try:
        name = f"{reg.host}/private/busybox"
        import_as(daemon, name)
        env_home = tmp_path / "home"
        env_home.mkdir()
        wrong = daemon.docker("login", "-u", "carol", "--password-stdin", reg.host, input=b"nope\n")
        assert wrong.returncode == 1 and "401 Unauthorized" in wrong.stderr.decode()
        ok(daemon.docker("login", "-u", "carol", "--password-stdin", reg.host, input=b"s3cret\n"))
        ok(daemon.docker("push", name))
        daemon.client.call("DELETE", f"/images/{name}", query={"force": True})
        ok(daemon.docker("pull", name))
        ok(daemon.docker("logout", reg.host))
        # Without credentials: a Basic challenge and Docker's error body.
        with pytest.raises(urllib.error.HTTPError) as info:
            reg.get_json("/v2/private/busybox/tags/list")
        assert info.value.code == 401
        assert info.value.headers["WWW-Authenticate"] == 'Basic realm="basic-realm"'
        assert json.loads(info.value.read())["errors"][0]["code"] == "UNAUTHORIZED"
        assert reg.get_json("/v2/private/busybox/tags/list", auth=("carol", "s3cret"))["tags"] == ["latest"]
    finally:
        reg.stop()


@pytest.fixture
def token_server(tmp_path):
    key, cert = tmp_path / "token.key", tmp_path / "token.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=token signer"],
                   check=True, capture_output=True)
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-B", "-b", "-c", str(htpasswd), "dave", "pa55"], check=True, capture_output=True)
    from registry import free_port

    port = free_port()
    proc = subprocess.Popen([str(DOCKYARD), "registry", "token-server", "--addr", f"127.0.0.1:{port}",
                             "--key", str(key), "--cert", str(cert), "--issuer", "dockyard-issuer",
                             "--service", "dockyard-registry", "--htpasswd", str(htpasswd)],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "token.log", "wb"),
                            start_new_session=True)
    import socket
    import time

    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                pytest.fail("token server did not start: " + (tmp_path / "token.log").read_text())
            time.sleep(0.05)
    yield {"realm": f"http://127.0.0.1:{port}/token", "service": "dockyard-registry", "issuer": "dockyard-issuer",
           "rootcertbundle": str(cert)}
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("server", ["dockyard", "docker-registry"])
def test_token_server_issues_tokens_docker_login_and_push_work(daemon, token_server, server):
    from registry import Registry

    kind = DockyardRegistry if server == "dockyard" else Registry
    reg = kind(token=token_server).start()
    try:
        name = f"{reg.host}/tok/busybox"
        import_as(daemon, name)
        denied = daemon.docker("push", name)
        assert denied.returncode == 1
        wrong = daemon.docker("login", "-u", "dave", "--password-stdin", reg.host, input=b"nope\n")
        assert wrong.returncode == 1
        ok(daemon.docker("login", "-u", "dave", "--password-stdin", reg.host, input=b"pa55\n"))
        ok(daemon.docker("push", name))
        daemon.client.call("DELETE", f"/images/{name}", query={"force": True})
        ok(daemon.docker("pull", name))
        ok(daemon.docker("logout", reg.host))
        # The challenge names the scope the request needs.
        with pytest.raises(urllib.error.HTTPError) as info:
            reg.get_json("/v2/tok/busybox/tags/list")
        challenge = info.value.headers["WWW-Authenticate"]
        assert challenge.startswith(f'Bearer realm="{token_server["realm"]}",service="dockyard-registry"')
        assert 'scope="repository:tok/busybox:pull"' in challenge
    finally:
        reg.stop()


def test_silly_auth_wants_any_authorization_header():
    reg = DockyardRegistry(extra="auth:\n  silly:\n    realm: http://127.0.0.1:1/token\n    service: silly\n")
    reg.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            reg.get_json("/v2/")
        assert info.value.code == 401
        assert info.value.headers["WWW-Authenticate"] == 'Bearer realm="http://127.0.0.1:1/token",service="silly"'
        request = urllib.request.Request(reg.url + "/v2/", headers={"Authorization": "Bearer anything"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    finally:
        reg.stop()
