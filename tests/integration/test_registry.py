"""Pull, push, login, logout and search against a real registry (Debian's docker-registry) on loopback."""

import base64
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard
from conftest import BIN, PrivateDaemon
from registry import Registry
from tokenserver import TokenServer


@pytest.fixture(scope="module")
def registry():
    reg = Registry().start()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def puller(busybox_tar):
    """A daemon with no images at all, so pulls download every layer."""
    d = PrivateDaemon(busybox_tar).start()
    yield d
    d.cleanup()


def import_as(daemon, name: str, tag: str = "latest") -> str:
    with open(daemon.busybox_tar, "rb") as f:
        out = daemon.client.call("POST", "/images/create", query={"fromSrc": "-", "repo": name, "tag": tag,
                                                                  "changes": ['CMD ["sh"]']}, body=f)
    return json.loads(out.decode().splitlines()[-1])["status"] if isinstance(out, bytes) else out["status"]


def cli(daemon, *args, home: Path | None = None, input: bytes | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_CONFIG"}
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run([str(BIN / "dockyard"), "-H", daemon.host, *args], capture_output=True, env=env,
                          input=input, timeout=120)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    return result.stdout.decode()


@pytest.fixture(scope="module")
def pushed(daemon, registry, tmp_path_factory):
    """busybox pushed as <registry>/rt/busybox:v1 by the session daemon."""
    home = tmp_path_factory.mktemp("home")
    name = f"{registry.host}/rt/busybox"
    image_id = import_as(daemon, name, "v1")
    out = ok(cli(daemon, "push", f"{name}:v1", home=home))
    return {"name": name, "id": image_id, "out": out, "home": home}


def test_push_prints_dockers_lines_and_records_the_repo_digest(pushed, daemon):
    out = pushed["out"]
    assert out.splitlines()[0] == f"The push refers to repository [{pushed['name']}]"
    assert "Pushed" in out
    last = out.splitlines()[-1]
    assert last.startswith("v1: digest: sha256:") and " size: " in last
    digest = last.split()[2]
    inspect = daemon.client.call("GET", f"/images/{pushed['name']}:v1/json")
    assert f"{pushed['name']}@{digest}" in inspect["RepoDigests"]
    manifest = json.loads(urlopen_bytes(f"http://{pushed['name'].split('/')[0]}/v2/rt/busybox/manifests/v1"))
    assert manifest["config"]["digest"] == pushed["id"]


def urlopen_bytes(url: str, accept: str = "application/vnd.docker.distribution.manifest.v2+json") -> bytes:
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept}), timeout=30) as r:
        return r.read()


def test_pull_downloads_verifies_and_runs(pushed, puller):
    out = ok(cli(puller, "pull", f"{pushed['name']}:v1"))
    lines = out.splitlines()
    assert lines[0] == "v1: Pulling from rt/busybox"
    assert any(line.endswith(": Pulling fs layer") for line in lines)
    assert any(line.endswith(": Download complete") for line in lines)
    assert any(line.endswith(": Pull complete") for line in lines)
    assert lines[-3].startswith("Digest: sha256:")
    assert lines[-2] == f"Status: Downloaded newer image for {pushed['name']}:v1"
    assert lines[-1] == f"{pushed['name']}:v1"
    image = puller.client.call("GET", f"/images/{pushed['name']}:v1/json")
    assert image["Id"] == pushed["id"]
    digest = lines[-3].split()[1]
    assert image["RepoDigests"] == [f"{pushed['name']}@{digest}"]
    assert ok(cli(puller, "run", "--rm", f"{pushed['name']}:v1", "echo", "pulled")) == "pulled\n"
    # again: nothing to do
    again = ok(cli(puller, "pull", f"{pushed['name']}:v1")).splitlines()
    assert again[-2] == f"Status: Image is up to date for {pushed['name']}:v1"
    # by digest: the same image, reported by digest
    by_digest = ok(cli(puller, "pull", f"{pushed['name']}@{digest}")).splitlines()
    assert by_digest[0] == f"{digest}: Pulling from rt/busybox"
    assert by_digest[-1] == f"{pushed['name']}@{digest}"


def test_pull_into_a_second_repository_says_already_exists(pushed, daemon, registry):
    other = f"{registry.host}/second/busybox"
    ok(cli(daemon, "push", f"{pushed['name']}:v1".replace("/rt/", "/rt/"), home=pushed["home"]))
    import_as(daemon, other, "x")
    ok(cli(daemon, "push", f"{other}:x", home=pushed["home"]))
    out = ok(cli(daemon, "pull", f"{other}:x"))
    assert any(line.endswith(": Already exists") for line in out.splitlines())


def test_push_again_layer_exists_and_mount_from_another_repository(pushed, daemon, registry):
    again = ok(cli(daemon, "push", f"{pushed['name']}:v1"))
    assert any(line.endswith(": Layer already exists") for line in again.splitlines())
    third = f"{registry.host}/third/busybox"
    import_as(daemon, third, "m")
    out = ok(cli(daemon, "push", f"{third}:m"))
    assert any(": Mounted from " in line for line in out.splitlines()), out


def test_pull_errors_are_dockers(registry, daemon):
    result = cli(daemon, "pull", f"{registry.host}/rt/busybox:nosuchtag")
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (f"Error response from daemon: manifest for {registry.host}/rt/busybox:"
                                              "nosuchtag not found: manifest unknown: manifest unknown")
    missing = cli(daemon, "push", f"{registry.host}/never/made:here")
    assert "An image does not exist locally with the tag: " in missing.stderr.decode()
    refused = cli(daemon, "pull", "127.0.0.1:1/x")
    assert refused.returncode == 1 and "connection refused" in refused.stderr.decode()


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_index_picks_this_hosts_platform_and_zstd_layers_unpack(pushed, registry, puller):
    """An OCI index with this host's image (busybox + a zstd layer) and an s390x one, built over HTTP."""
    base = json.loads(urlopen_bytes(f"http://{registry.host}/v2/rt/busybox/manifests/v1"))
    base_config = json.loads(urlopen_bytes(f"http://{registry.host}/v2/rt/busybox/blobs/{base['config']['digest']}"))
    repo = "multi/app"
    registry.put_blob(repo, urlopen_bytes(f"http://{registry.host}/v2/rt/busybox/blobs/{base['layers'][0]['digest']}"))
    extra = _tar({"hello.txt": b"from a zstd layer\n"})
    zst = zstandard.ZstdCompressor().compress(extra)
    images = {}
    from dockyard.distribution.manifests import host

    for arch in (host().architecture, "s390x"):
        config = dict(base_config, architecture=arch,
                      rootfs={"type": "layers", "diff_ids": [*base_config["rootfs"]["diff_ids"], _sha(extra)]})
        config_bytes = json.dumps(config).encode()
        registry.put_blob(repo, config_bytes)
        registry.put_blob(repo, zst)
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _sha(config_bytes),
                               "size": len(config_bytes)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": base["layers"][0]["digest"], "size": base["layers"][0]["size"]},
                               {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": _sha(zst),
                                "size": len(zst)}]}
        body = json.dumps(manifest).encode()
        registry.put_manifest(repo, _sha(body), manifest, manifest["mediaType"])
        images[arch] = {"digest": _sha(body), "size": len(body), "config": _sha(config_bytes)}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": v["digest"],
                            "size": v["size"], "platform": {"os": "linux", "architecture": arch}}
                           for arch, v in sorted(images.items(), key=lambda kv: kv[0] != "s390x")]}
    index_digest = registry.put_manifest(repo, "latest", index, index["mediaType"])
    name = f"{registry.host}/{repo}"
    ok(cli(puller, "pull", name))
    image = puller.client.call("GET", f"/images/{name}/json")
    assert image["Id"] == images[host().architecture]["config"]
    assert image["RepoDigests"] == [f"{name}@{index_digest}"]  # the index digest, as Docker records it
    assert ok(cli(puller, "run", "--rm", name, "cat", "/hello.txt")) == "from a zstd layer\n"
    ok(cli(puller, "pull", "--platform", "linux/s390x", f"{name}:latest"))
    assert puller.client.call("GET", f"/images/{name}/json")["Architecture"] == "s390x"
    missing = cli(puller, "pull", "--platform", "linux/mips64le", name)
    assert "no matching manifest for linux/mips64le in the manifest list entries" in missing.stderr.decode()
    dist = puller.client.call("GET", f"/distribution/{name}:latest/json")
    assert dist["Descriptor"]["digest"] == index_digest
    assert {p["architecture"] for p in dist["Platforms"]} == {host().architecture, "s390x"}


def test_layer_that_does_not_match_its_digest_is_refused(registry, puller):
    repo = "broken/app"
    layer = gzip.compress(_tar({"a": b"a"}))
    blob = registry.put_blob(repo, layer)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [_sha(b"not the tar")]}}).encode()
    registry.put_blob(repo, config)
    registry.put_manifest(repo, "latest", {
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": _sha(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": blob,
                    "size": len(layer)}]}, "application/vnd.docker.distribution.manifest.v2+json")
    result = cli(puller, "pull", f"{registry.host}/{repo}")
    assert result.returncode == 1 and "DiffID mismatch" in result.stderr.decode()
    images = puller.client.call("GET", "/images/json")
    assert not any(f"{registry.host}/{repo}:latest" in (i["RepoTags"] or []) for i in images)


def test_pull_all_tags(pushed, registry, puller):
    out = ok(cli(puller, "pull", "-a", f"{registry.host}/second/busybox"))
    assert "x: Pulling from second/busybox" in out
    assert out.splitlines()[-1] == f"{registry.host}/second/busybox"


def test_search_uses_the_catalog(pushed, registry, daemon):
    out = ok(cli(daemon, "search", f"{registry.host}/busy"))
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"]
    assert f"{registry.host}/rt/busybox" in [line.split()[0] for line in lines[1:]]
    formatted = ok(cli(daemon, "search", "--format", "{{.Name}}", "--limit", "1", f"{registry.host}/rt"))
    assert formatted == f"{registry.host}/rt/busybox\n"


def test_events_for_pull_and_push(pushed, puller):
    import time

    since = str(time.time() - 1)
    ok(cli(puller, "pull", f"{pushed['name']}:v1"))
    response = puller.client.send("GET", "/events", query={"since": since, "until": str(time.time() + 1)})
    events = [json.loads(line) for line in response.read().decode().splitlines()]
    response.close()
    assert {"Type": "image", "Action": "pull", "ID": f"{pushed['name']}:v1"} in [
        {"Type": e["Type"], "Action": e["Action"], "ID": e["Actor"]["ID"]} for e in events]


# -- authentication -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def basic_registry():
    reg = Registry(users={"alice": "secret"}).start()
    yield reg
    reg.stop()


def test_login_push_pull_logout_with_basic_auth(basic_registry, daemon, tmp_path):
    name = f"{basic_registry.host}/private/busybox"
    import_as(daemon, name)
    refused = cli(daemon, "push", name, home=tmp_path)
    assert refused.returncode == 1 and "no basic auth credentials" in refused.stderr.decode()
    wrong = cli(daemon, "login", "-u", "alice", "--password-stdin", basic_registry.host, home=tmp_path,
                input=b"wrong\n")
    assert wrong.returncode == 1
    assert wrong.stderr.decode().strip() == (f"Error response from daemon: login attempt to http://"
                                             f"{basic_registry.host}/v2/ failed with status: 401 Unauthorized")
    assert not (tmp_path / ".docker" / "config.json").exists()
    good = cli(daemon, "login", "-u", "alice", "-p", "secret", basic_registry.host, home=tmp_path)
    assert ok(good) == "Login Succeeded\n"
    assert "WARNING! Using --password via the CLI is insecure. Use --password-stdin." in good.stderr.decode()
    config = json.loads((tmp_path / ".docker" / "config.json").read_text())
    assert config["auths"][basic_registry.host]["auth"] == base64.b64encode(b"alice:secret").decode()
    ok(cli(daemon, "push", name, home=tmp_path))
    ok(cli(daemon, "pull", name, home=tmp_path))
    assert ok(cli(daemon, "logout", basic_registry.host, home=tmp_path)) == \
        f"Removing login credentials for {basic_registry.host}\n"
    assert basic_registry.host not in json.loads((tmp_path / ".docker" / "config.json").read_text())["auths"]
    assert cli(daemon, "pull", name, home=tmp_path).returncode == 1


def test_bearer_token_flow(daemon, tmp_path):
    users = {"bob": "hunter2"}
    tokens = TokenServer(tmp_path, users).start()
    reg = Registry(token=tokens.registry_auth).start()
    try:
        name = f"{reg.host}/tok/busybox"
        import_as(daemon, name)
        denied = cli(daemon, "push", name, home=tmp_path)
        assert denied.returncode == 1
        wrong = cli(daemon, "login", "-u", "bob", "-p", "nope", reg.host, home=tmp_path)
        assert wrong.returncode == 1 and "incorrect username or password" in wrong.stderr.decode()
        ok(cli(daemon, "login", "-u", "bob", "-p", "hunter2", reg.host, home=tmp_path))
        ok(cli(daemon, "push", name, home=tmp_path))
        assert any("repository:tok/busybox:pull,push" in r["scope"] for r in tokens.requests)
        out = ok(cli(daemon, "pull", name, home=tmp_path))
        assert "Status: Image is up to date" in out or "Status: Downloaded newer image" in out
    finally:
        reg.stop()
        tokens.stop()


def test_tls_registry_trusted_through_the_certs_dir(busybox_tar, tmp_path):
    reg = Registry(tls=True).start()
    certs = reg.certs_dir(tmp_path / "certs.d")
    d = PrivateDaemon(busybox_tar, ["--registry-certs-dir", str(certs)]).start()
    try:
        d.import_busybox()
        name = f"{reg.host}/secure/busybox"
        import_as(d, name)
        ok(cli(d, "push", name, home=tmp_path))
        d.client.call("DELETE", f"/images/{name}")
        ok(cli(d, "pull", name, home=tmp_path))
    finally:
        d.cleanup()
        reg.stop()


def test_a_secure_registry_with_an_unknown_ca_is_refused(tmp_path):
    from dockyard.distribution.client import RegistryClient
    from dockyard.distribution.endpoints import RegistryOptions
    from dockyard.errors import DockyardError

    class Strict(RegistryOptions):
        def is_insecure(self, host: str) -> bool:
            return False

    reg = Registry(tls=True).start()
    try:
        with pytest.raises(DockyardError, match="x509"):
            RegistryClient(Strict(certs_dir=str(tmp_path)), reg.host).ping()
        RegistryClient(Strict(certs_dir=str(reg.certs_dir(tmp_path / "ok"))), reg.host).ping()
    finally:
        reg.stop()


def test_run_pulls_a_missing_image_unless_told_not_to(pushed, busybox_tar):
    d = PrivateDaemon(busybox_tar).start()
    try:
        never = cli(d, "run", "--rm", "--pull", "never", f"{pushed['name']}:v1", "true")
        assert never.returncode == 125 and "No such image" in never.stderr.decode()
        result = cli(d, "run", "--rm", f"{pushed['name']}:v1", "echo", "ran")
        assert result.stdout == b"ran\n", result.stderr.decode()
        err = result.stderr.decode()
        assert err.startswith(f"Unable to find image '{pushed['name']}:v1' locally\nv1: Pulling from rt/busybox\n")
        assert f"Status: Downloaded newer image for {pushed['name']}:v1" in err
        always = cli(d, "create", "--pull", "always", f"{pushed['name']}:v1")
        assert always.returncode == 0 and "Status: Image is up to date" in always.stderr.decode()
    finally:
        d.cleanup()


def test_docker_hub_names_are_pulled_from_a_registry_mirror(daemon, registry, busybox_tar, tmp_path):
    """`--registry-mirror`: `busybox` (docker.io/library/busybox) comes from the mirror."""
    mirrored = f"{registry.host}/library/busybox:mirrored"
    image_id = import_as(daemon, mirrored, "")
    ok(cli(daemon, "push", mirrored, home=tmp_path))
    d = PrivateDaemon(busybox_tar, ["--registry-mirror", f"http://{registry.host}"]).start()
    try:
        text = ok(cli(d, "pull", "busybox:mirrored", home=tmp_path))
        assert "docker.io/library/busybox:mirrored" in text
        assert d.client.call("GET", "/images/busybox:mirrored/json")["Id"] == image_id
    finally:
        d.cleanup()
