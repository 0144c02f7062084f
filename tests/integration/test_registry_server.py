"""`dockyard registry serve` driven by real clients: dockyard, the docker CLI through dockyardd and
through a private dockerd, docker-py and skopeo; auth (htpasswd over TLS, tokens, silly), garbage
collection under concurrent pushes, notifications, the pull-through cache and crash safety."""

from __future__ import annotations

import hashlib
import json
import os
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


@pytest.mark.parametrize("auth", ["htpasswd-tls", "token"])
def test_dockyard_docker_py_and_skopeo_log_in_push_and_pull(daemon, token_server, tmp_path, auth):
    """The clients the docker CLI tests above leave out, against both secured set-ups."""
    import docker

    if auth == "htpasswd-tls":
        reg, user, password = DockyardRegistry(users={"frank": "pw2"}, tls=True).start(), "frank", "pw2"
    else:
        reg, user, password = DockyardRegistry(token=token_server).start(), "dave", "pa55"
    client = docker.DockerClient(base_url=daemon.host, version="auto")
    try:
        # dockyard's own CLI, its login kept in a config directory of the test's own
        env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "dockyard-config")}
        dockyard = lambda *a, **kw: subprocess.run([DOCKYARD, "-H", daemon.host, *a], capture_output=True,  # noqa: E731
                                                   timeout=120, env=env, **kw)
        name = f"{reg.host}/clients/dockyard"
        import_as(daemon, name)
        denied = dockyard("push", name)
        # Docker's words: Basic gets "no basic auth credentials", a token service "unauthorized"
        assert denied.returncode == 1, denied.stderr
        assert b"no basic auth credentials" in denied.stderr or b"unauthorized" in denied.stderr.lower(), denied.stderr
        assert dockyard("login", "-u", user, "--password-stdin", reg.host, input=b"wrong\n").returncode == 1
        assert "Login Succeeded" in ok(dockyard("login", "-u", user, "--password-stdin", reg.host,
                                                 input=password.encode() + b"\n"))
        assert "latest: digest: sha256:" in ok(dockyard("push", name))
        ok(dockyard("rmi", name))
        ok(dockyard("pull", name))
        ok(dockyard("logout", reg.host))
        # docker-py: credentials in the request (X-Registry-Auth), no config file
        name = f"{reg.host}/clients/docker-py"
        import_as(daemon, name)
        credentials = {"username": user, "password": password}
        assert client.login(username=user, password=password, registry=reg.host)["Status"] == "Login Succeeded"
        lines = list(client.images.push(name, tag="latest", stream=True, decode=True, auth_config=credentials))
        assert not [line for line in lines if "error" in line], lines
        client.images.remove(name, force=True)
        assert f"{name}:latest" in client.images.pull(name, tag="latest", auth_config=credentials).tags
        # skopeo: out to an OCI layout and back into another repository, trusting the registry's CA
        skopeo = shutil.which("skopeo")
        if skopeo is None:
            pytest.fail("skopeo is not installed: `make test-packages` installs it")
        tls = [f"--src-cert-dir={reg.certs_dir(tmp_path / 'certs')}/{reg.host}"] if reg.tls else \
            ["--src-tls-verify=false"]
        dest_tls = [f"--dest-cert-dir={tmp_path / 'certs'}/{reg.host}"] if reg.tls else ["--dest-tls-verify=false"]
        run = lambda *a: subprocess.run([skopeo, *a], capture_output=True, timeout=120)  # noqa: E731
        assert run("copy", *tls, f"docker://{name}:latest", f"oci:{tmp_path}/layout:v1").returncode != 0
        ok(run("copy", *tls, f"--src-creds={user}:{password}", f"docker://{name}:latest",
               f"oci:{tmp_path}/layout:v1"))
        ok(run("copy", *dest_tls, f"--dest-creds={user}:{password}", f"oci:{tmp_path}/layout:v1",
               f"docker://{reg.host}/clients/skopeo:v1"))
        ok(daemon.docker("login", "-u", user, "--password-stdin", reg.host, input=password.encode() + b"\n"))
        ok(daemon.docker("pull", f"{reg.host}/clients/skopeo:v1"))
        assert daemon.cli("run", "--rm", f"{reg.host}/clients/skopeo:v1", "echo", "back").stdout == b"back\n"
        ok(daemon.docker("logout", reg.host))
    finally:
        client.close()
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


# -- content pushed over HTTP -----------------------------------------------------------------------

def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_image(reg, repo: str, tag: str, layers: list[bytes], shared: list[str] = ()) -> tuple[str, list[str]]:
    """Upload ``layers`` and a config, then the manifest (layers in ``shared`` are only checked with
    HEAD, as docker push does for a layer the registry has); returns (manifest digest, blob digests)."""
    digests = [reg.put_blob(repo, data) for data in layers]
    for digest in shared:
        with reg._request("HEAD", f"/v2/{repo}/blobs/{digest}"):
            pass
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    config_digest = reg.put_blob(repo, config)
    all_layers = [*digests, *shared]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                           "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": 1}
                           for d in all_layers]}
    digest = reg.put_manifest(repo, tag, manifest, "application/vnd.oci.image.manifest.v1+json")
    return digest, [config_digest, *all_layers]


def assert_complete(reg, repo: str, tag: str, digest: str, blobs: list[str]) -> None:
    with reg._request("GET", f"/v2/{repo}/manifests/{tag}",
                      headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}) as r:
        assert r.headers["Docker-Content-Digest"] == digest
    for blob in blobs:
        with reg._request("GET", f"/v2/{repo}/blobs/{blob}") as r:
            assert sha256(r.read()) == blob


def in_threads(function, count: int) -> None:
    """function(0) ... function(count - 1), all at once; returns when all are done."""
    import threading

    threads = [threading.Thread(target=function, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def gc_runs(reg) -> int:
    return reg.log().count("garbage collection:")


def test_online_gc_while_pushing_loses_no_blob_and_removes_garbage():
    reg = DockyardRegistry(storage_extra="  gc:\n    enabled: true\n    interval: 50ms\n    grace: 5s\n",
                           log_level="info").start()
    try:
        # Garbage from long ago (written before this server's time) and garbage uploaded now.
        old = []
        for i in range(3):
            data = os.urandom(1000) + bytes([i])
            hexpart = hashlib.sha256(data).hexdigest()
            path = reg.data / f"docker/registry/v2/blobs/sha256/{hexpart[:2]}/{hexpart}/data"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.utime(path, (1, 1))
            old.append("sha256:" + hexpart)
        fresh_garbage = reg.put_blob("gc/garbage", os.urandom(2000))
        shared = reg.put_blob("gc/app", os.urandom(4096))
        start_runs = gc_runs(reg)
        pushed: list[tuple[str, str, str, list[str]]] = []
        failures: list[BaseException] = []

        def pusher(worker: int) -> None:
            try:
                for i in range(200):
                    repo = f"gc/app{worker}"
                    reg.put_blob(repo, b"")  # the empty layer many images share
                    mount = f"/v2/{repo}/blobs/uploads/?mount={shared}&from=gc/app"
                    with reg._request("POST", mount, b""):
                        pass
                    tag = f"v{i}"
                    digest, blobs = push_image(reg, repo, tag, [os.urandom(32 * 1024) for _ in range(2)], [shared])
                    pushed.append((repo, tag, digest, blobs))
                    if i >= 5 and gc_runs(reg) >= start_runs + 4:
                        return
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

        in_threads(pusher, 4)
        assert not failures, failures
        assert gc_runs(reg) >= start_runs + 4  # the collector ran while the pushes went on
        for repo, tag, digest, blobs in pushed:
            assert_complete(reg, repo, tag, digest, blobs)
        # Old garbage went at once; today's garbage goes once its grace period is over.
        on_disk = blob_files(reg)
        assert not [d for d in old if d in on_disk]
        import time

        deadline = time.monotonic() + 30
        while fresh_garbage in blob_files(reg) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert fresh_garbage not in blob_files(reg)
        for repo, tag, digest, blobs in pushed:
            assert_complete(reg, repo, tag, digest, blobs)
    finally:
        reg.stop()


def test_garbage_collect_command_dry_run_and_delete_untagged():
    reg = DockyardRegistry().start()
    try:
        kept, kept_blobs = push_image(reg, "cmd/app", "v1", [b"layer-one"])
        untagged, untagged_blobs = push_image(reg, "cmd/app", "v2", [b"layer-two"])
        # Retag v2 to v1's manifest: v2's manifest is left without a tag.
        manifest = reg._request("GET", "/v2/cmd/app/manifests/v1",
                                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).read()
        reg.put_manifest("cmd/app", "v2", json.loads(manifest), "application/vnd.oci.image.manifest.v1+json")
        garbage = reg.put_blob("cmd/app", b"unreferenced")
        config = str(reg.dir / "config.yml")
        before = blob_files(reg)
        dry = subprocess.run([DOCKYARD, "registry", "garbage-collect", "--dry-run", "--grace", "0s", config],
                             capture_output=True, text=True)
        assert dry.returncode == 0, dry.stderr
        assert f"blob eligible for deletion: {garbage}" in dry.stdout
        assert blob_files(reg) == before  # a dry run deletes nothing
        plain = subprocess.run([DOCKYARD, "registry", "garbage-collect", "--grace", "0s", config],
                               capture_output=True, text=True)
        assert plain.returncode == 0, plain.stderr
        after = blob_files(reg)
        assert garbage not in after and all(b in after for b in kept_blobs + untagged_blobs)
        untag = subprocess.run([DOCKYARD, "registry", "garbage-collect", "--delete-untagged", "--grace", "0s",
                                config], capture_output=True, text=True)
        assert untag.returncode == 0, untag.stderr
        assert f"cmd/app: manifest deleted: {untagged}" in untag.stdout
        after = blob_files(reg)
        assert untagged not in after and sha256(b"layer-two") not in after
        assert all(b in after for b in kept_blobs) and kept in after
        assert_complete(reg, "cmd/app", "v1", kept, kept_blobs)
        with pytest.raises(urllib.error.HTTPError) as info:
            reg._request("GET", f"/v2/cmd/app/manifests/{untagged}")
        assert info.value.code == 404
    finally:
        reg.stop()


# -- notifications ----------------------------------------------------------------------------------

class Webhook:
    """A receiver that refuses its first ``fail`` deliveries with 503, then records envelopes."""

    def __init__(self, fail: int) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.fail = fail
        self.attempts = 0
        self.envelopes: list[dict] = []
        self.headers: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.attempts += 1
                if hook.attempts <= hook.fail:
                    self.send_response(503)
                else:
                    hook.envelopes.append(json.loads(body))
                    hook.headers.append(dict(self.headers))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [event for envelope in self.envelopes for event in envelope["events"]]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_notifications_are_queued_retried_and_never_block_a_push():
    import time

    from registry import free_port

    hook = Webhook(fail=2)
    dead = free_port()  # nothing listens there: its queue waits, the other endpoint's does not
    extra = ("notifications:\n  endpoints:\n"
             f"    - name: hook\n      url: http://127.0.0.1:{hook.port}/events\n      timeout: 2s\n"
             "      threshold: 3\n      backoff: 50ms\n      headers:\n        X-Hook-Secret: [s3cret]\n"
             f"    - name: dead\n      url: http://127.0.0.1:{dead}/\n      timeout: 200ms\n      backoff: 1s\n")
    reg = DockyardRegistry(extra=extra).start()
    try:
        digest, blobs = push_image(reg, "hooked/app", "v1", [b"layer"])
        with reg._request("GET", "/v2/hooked/app/manifests/v1",
                          headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}):
            pass
        with reg._request("DELETE", "/v2/hooked/app/manifests/v1"):
            pass
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(e["action"] == "delete" for e in hook.events()):
            time.sleep(0.05)
        events = hook.events()
        manifest_events = [e for e in events if e["target"]["mediaType"].endswith("manifest.v1+json")]
        assert [e["action"] for e in manifest_events] == ["push", "pull"]
        push = manifest_events[0]
        assert push["target"]["repository"] == "hooked/app" and push["target"]["tag"] == "v1"
        assert push["target"]["digest"] == digest and push["target"]["url"].endswith(f"/v2/hooked/app/manifests/"
                                                                                     f"{digest}")
        assert {"id", "timestamp", "request", "actor", "source"} <= set(push)
        assert push["request"]["method"] == "PUT"
        blob_pushes = {e["target"]["digest"] for e in events if e["action"] == "push"
                       and e["target"]["mediaType"] == "application/octet-stream"}
        assert set(blobs) <= blob_pushes
        delete = [e for e in events if e["action"] == "delete"]
        assert delete[0]["target"]["tag"] == "v1" and delete[0]["target"]["digest"] == digest
        assert len({e["id"] for e in events}) == len(events)  # each delivered once, after the retries
        assert hook.attempts == len(hook.envelopes) + 2
        assert all(h["X-Hook-Secret"] == "s3cret" for h in hook.headers)
        assert all(h["Content-Type"] == "application/vnd.docker.distribution.events.v1+json" for h in hook.headers)
    finally:
        reg.stop()
        hook.stop()


# -- pull-through cache -----------------------------------------------------------------------------

def test_pull_through_cache_serves_its_copy_when_upstreams_fail(daemon):
    from registry import Registry

    upstream = Registry(users={"up": "stream"}).start()
    cache = None
    try:
        name = f"{upstream.host}/library/cached"
        import_as(daemon, name, "ENV FROM=upstream")
        ok(daemon.docker("login", "-u", "up", "--password-stdin", upstream.host, input=b"stream\n"))
        ok(daemon.docker("push", name))
        from registry import free_port

        dead = f"http://127.0.0.1:{free_port()}"  # the first upstream is down: the second answers
        cache = DockyardRegistry(extra=f"proxy:\n  - remoteurl: {dead}\n  - remoteurl: {upstream.url}\n"
                                       "    username: up\n    password: stream\n").start()
        through = f"{cache.host}/library/cached"
        ok(daemon.docker("pull", through))
        upstream.stop()  # the upstream goes away; the cache answers alone
        daemon.client.call("DELETE", f"/images/{through}", query={"force": True})
        out = ok(daemon.docker("pull", through))
        assert f"Downloaded newer image for {through}:latest" in out
        run = daemon.cli("run", "--rm", through, "sh", "-c", "echo $FROM")
        assert run.stdout == b"upstream\n", run.stderr.decode()
        # Local repositories are still pushed to and pulled from the cache registry.
        local = f"{cache.host}/team/local"
        import_as(daemon, local, "ENV FROM=local")
        ok(daemon.docker("push", local))
        daemon.client.call("DELETE", f"/images/{local}", query={"force": True})
        ok(daemon.docker("pull", local))
        missing = daemon.docker("pull", f"{cache.host}/library/never-seen")
        assert missing.returncode == 1
    finally:
        daemon.docker("logout", upstream.host)
        upstream.stop()
        if cache is not None:
            cache.stop()


# -- faults -----------------------------------------------------------------------------------------

def _raw(reg, head: bytes, body: bytes = b"", *, close_after: bool = False) -> bytes:
    import socket

    s = socket.create_connection(("127.0.0.1", reg.port), timeout=30)
    s.sendall(head + body)
    if close_after:
        s.close()
        return b""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    s.close()
    return data


def _upload_location(reg, repo: str) -> str:
    with reg._request("POST", f"/v2/{repo}/blobs/uploads/", b"") as r:
        return r.headers["Location"].split(reg.host, 1)[1]


def test_a_client_dropping_mid_upload_leaves_a_resumable_upload():
    import time

    reg = DockyardRegistry().start()
    try:
        blob = os.urandom(3 << 20)
        digest = sha256(blob)
        path = _upload_location(reg, "faults/drop")
        head = (f"PATCH {path} HTTP/1.1\r\nHost: {reg.host}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {len(blob)}\r\n\r\n").encode()
        _raw(reg, head, blob[: 1 << 20], close_after=True)
        deadline = time.monotonic() + 10
        offset = 0
        while time.monotonic() < deadline:
            with reg._request("GET", path) as r:
                assert r.status == 204
                offset = int(r.headers["Range"].split("-")[1]) + 1
            if offset == 1 << 20:
                break
            time.sleep(0.05)
        assert offset == 1 << 20
        with pytest.raises(urllib.error.HTTPError) as info:
            reg._request("HEAD", f"/v2/faults/drop/blobs/{digest}")
        assert info.value.code == 404
        # Resume from the offset: a chunk that does not start there is refused with 416.
        with pytest.raises(urllib.error.HTTPError) as info:
            reg._request("PATCH", path, blob[5:10], {"Content-Range": "5-9",
                                                     "Content-Type": "application/octet-stream"})
        assert info.value.code == 416
        rest = blob[offset:]
        with reg._request("PATCH", path, rest, {"Content-Range": f"{offset}-{len(blob) - 1}",
                                                "Content-Type": "application/octet-stream"}) as r:
            assert r.status == 202 and r.headers["Range"] == f"0-{len(blob) - 1}"
        with reg._request("PUT", f"{path}?digest={digest}", b"") as r:
            assert r.status == 201
        with reg._request("GET", f"/v2/faults/drop/blobs/{digest}") as r:
            assert r.read() == blob
    finally:
        reg.stop()


def test_concurrent_pushes_of_the_same_blob_all_succeed():
    reg = DockyardRegistry().start()
    try:
        blob = os.urandom(2 << 20)
        results: list[object] = []

        def push(i: int) -> None:
            try:
                results.append(reg.put_blob(f"same/r{i % 3}", blob))
            except Exception as exc:  # noqa: BLE001 - reported below
                results.append(exc)

        in_threads(push, 8)
        assert results == [sha256(blob)] * 8
        assert blob_files(reg) == {sha256(blob): len(blob)}
        for i in range(3):
            with reg._request("GET", f"/v2/same/r{i}/blobs/{sha256(blob)}") as r:
                assert r.read() == blob
        uploads = list((reg.data / "docker/registry/v2/repositories").glob("same/*/_uploads/*"))
        assert uploads == []
    finally:
        reg.stop()


def test_a_server_killed_mid_push_leaves_only_complete_content():
    import time

    reg = DockyardRegistry().start()
    try:
        digest, blobs = push_image(reg, "crash/app", "v1", [os.urandom(100_000)])
        big = os.urandom(8 << 20)
        path = _upload_location(reg, "crash/app")
        head = (f"PUT {path}?digest={sha256(big)} HTTP/1.1\r\nHost: {reg.host}\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {len(big)}\r\n\r\n").encode()
        import socket

        s = socket.create_connection(("127.0.0.1", reg.port), timeout=30)
        s.sendall(head + big[: 4 << 20])
        upload_data = next((reg.data / "docker/registry/v2/repositories/crash/app/_uploads").glob("*/data"))
        deadline = time.monotonic() + 10
        while upload_data.stat().st_size < (1 << 20) and time.monotonic() < deadline:
            time.sleep(0.02)
        reg.kill()  # mid-body: SIGKILL, nothing flushed on purpose
        s.close()
        reg.start()  # same data directory
        for blob, size in blob_files(reg).items():
            algorithm, hexpart = blob.split(":")
            data = (reg.data / f"docker/registry/v2/blobs/{algorithm}/{hexpart[:2]}/{hexpart}/data").read_bytes()
            assert len(data) == size and hashlib.new(algorithm, data).hexdigest() == hexpart
        assert sha256(big) not in blob_files(reg)
        assert_complete(reg, "crash/app", "v1", digest, blobs)
        assert reg.put_blob("crash/app", big) == sha256(big)
    finally:
        reg.stop()


# -- configuration ------------------------------------------------------------------------------------

def test_serve_from_environment_only_and_bad_configs_are_refused(tmp_path):
    import time

    from registry import free_port

    port = free_port()
    env = {**os.environ, "REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}",
           "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(tmp_path / "data"), "REGISTRY_LOG_LEVEL": "error",
           "REGISTRY_HTTP_HEADERS_X-Served-By": "[dockyard]"}
    proc = subprocess.Popen([DOCKYARD, "registry", "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=5) as r:
                    assert r.status == 200 and r.headers["X-Served-By"] == "dockyard"
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
                time.sleep(0.05)
        assert (tmp_path / "data/docker/registry/v2/repositories").is_dir()
    finally:
        proc.terminate()
        proc.wait(10)
    (tmp_path / "bad.yml").write_text("version: 0.1\nstorage:\n  s3:\n    bucket: b\n")
    bad = subprocess.run([DOCKYARD, "registry", "serve", str(tmp_path / "bad.yml")], capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr == "configuration error: storage driver 's3' is not supported (filesystem is)\n"
    missing = subprocess.run([DOCKYARD, "registry", "serve", str(tmp_path / "none.yml")], capture_output=True,
                             text=True)
    assert missing.returncode == 1 and "none.yml" in missing.stderr


def test_bad_requests_get_docker_errors_and_the_server_lives():
    reg = DockyardRegistry().start()
    try:
        cases = [
            ("GET", "/v2/a/blobs/sha256:zz", None, {}, 400, "DIGEST_INVALID"),
            ("GET", "/v2/a/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", None, {}, 400, "DIGEST_INVALID"),
            ("PUT", "/v2/a/manifests/v1", b"{not json", {"Content-Type": "application/json"}, 400, "MANIFEST_INVALID"),
            ("PUT", "/v2/a/manifests/v1", b'{"schemaVersion": 1}', {}, 400, "MANIFEST_INVALID"),
            ("PUT", "/v2/a/manifests/v1", b'{"schemaVersion": 2, "mediaType": "text/plain"}', {}, 400,
             "MANIFEST_INVALID"),
            ("PUT", "/v2/a/manifests/bad%20tag", b"{}", {}, 400, "TAG_INVALID"),
            ("PATCH", "/v2/a/blobs/uploads/not-a-uuid", b"x", {}, 404, "BLOB_UPLOAD_UNKNOWN"),
            ("PUT", "/v2/a/blobs/uploads/00000000-0000-0000-0000-000000000000?digest=sha256:" + "0" * 64, b"", {},
             404, "BLOB_UPLOAD_UNKNOWN"),
            ("GET", "/v2/a/tags/list?n=-1", None, {}, 400, "PAGINATION_NUMBER_INVALID"),
            ("POST", "/v2/a/manifests/v1", b"", {}, 405, "UNSUPPORTED"),
            ("GET", "/v2/Bad/tags/list", None, {}, 400, "NAME_INVALID"),
            ("GET", "/v2/a/referrers/sha256:short", None, {}, 400, "DIGEST_INVALID"),
        ]
        for method, path, body, headers, status, error in cases:
            with pytest.raises(urllib.error.HTTPError) as info:
                reg._request(method, path, body, headers)
            assert info.value.code == status, (method, path)
            assert json.loads(info.value.read())["errors"][0]["code"] == error, (method, path)
        # A body that says it is longer than it is, then a hang-up: the server stays up.
        _raw(reg, f"PUT /v2/a/manifests/v1 HTTP/1.1\r\nHost: {reg.host}\r\nContent-Length: 100\r\n\r\n{{".encode(),
             close_after=True)
        assert reg.get_json("/v2/") == {}
        assert "Traceback" not in reg.log()
    finally:
        reg.stop()


def test_a_private_dockerd_logs_in_over_tls_and_with_tokens(real_docker, daemon, token_server):
    basic = DockyardRegistry(users={"erin": "pw1"}, tls=True).start()
    tokens = DockyardRegistry(token=token_server).start()
    try:
        with open(daemon.busybox_tar, "rb") as f:
            tar = f.read()
        for reg, user, password in ((basic, "erin", b"pw1\n"), (tokens, "dave", b"pa55\n")):
            name = f"{reg.host}/real/secured"
            ok(real_docker.docker("import", "-c", 'CMD ["sh"]', "-", name, input=tar))
            assert real_docker.docker("push", name).returncode == 1  # not logged in
            ok(real_docker.docker("login", "-u", user, "--password-stdin", reg.host, input=password))
            assert "latest: digest: sha256:" in ok(real_docker.docker("push", name))
            ok(real_docker.docker("rmi", name))
            ok(real_docker.docker("pull", name))
            ok(real_docker.docker("logout", reg.host))
    finally:
        basic.stop()
        tokens.stop()
