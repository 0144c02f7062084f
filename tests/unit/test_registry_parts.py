"""Unit tests of the registry server's parts: config and env overrides, names and digests, JWTs,
byte ranges, storage crash-safety rules, and the collector's reachability."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time

import pytest

from dockyard.registry import config as cfg
from dockyard.registry.errors import RegistryError
from dockyard.registry.gc import collect
from dockyard.registry.names import check_name, check_tag, parse_digest
from dockyard.registry.storage import Storage

CONFIG = """
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: /srv/registry
  delete:
    enabled: true
  cache:
    layerinfo: inmemory
http:
  addr: :5000
  secret: s
  headers:
    X-Content-Type-Options: [nosniff]
  tls:
    certificate: /c.pem
    key: /k.pem
auth:
  htpasswd:
    realm: basic-realm
    path: /auth/htpasswd
notifications:
  endpoints:
    - name: alistener
      url: https://mylistener.example/event
      headers:
        Authorization: [Bearer token]
      timeout: 500ms
      threshold: 5
      backoff: 1s
      ignoredmediatypes:
        - application/octet-stream
"""


def test_config_reads_distributions_sections(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(CONFIG)
    config = cfg.load(str(path), environ={})
    assert config.root == "/srv/registry" and config.delete_enabled and config.blobdescriptor == "inmemory"
    assert config.listen == ("0.0.0.0", 5000)
    assert config.http.tls.certificate == "/c.pem" and config.http.headers == {"X-Content-Type-Options": ["nosniff"]}
    assert config.auth.kind == "htpasswd" and config.auth.options["path"] == "/auth/htpasswd"
    [endpoint] = config.endpoints
    assert (endpoint.timeout, endpoint.threshold, endpoint.backoff) == (0.5, 5, 1.0)
    assert endpoint.ignoredmediatypes == ["application/octet-stream"]


def test_env_overrides_win(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(CONFIG)
    config = cfg.load(str(path), environ={"REGISTRY_HTTP_ADDR": "127.0.0.1:6000",
                                          "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": "/elsewhere",
                                          "REGISTRY_LOG_LEVEL": "debug", "REGISTRY_STORAGE_DELETE_ENABLED": "false"})
    assert config.listen == ("127.0.0.1", 6000) and config.root == "/elsewhere"
    assert config.log_level == "debug" and not config.delete_enabled
    bare = cfg.load(None, environ={"REGISTRY_HTTP_ADDR": "127.0.0.1:7000"})
    assert bare.listen == ("127.0.0.1", 7000) and bare.root == cfg.DEFAULT_ROOT


@pytest.mark.parametrize("text, message", [
    ("version: 0.2\n", "unsupported configuration version"),
    ("storage:\n  s3: {}\n", "storage driver 's3' is not supported"),
    ("auth:\n  htpasswd:\n    realm: r\n", "auth.htpasswd: missing path"),
    ("auth:\n  ldap: {}\n", "unknown access controller"),
    ("http:\n  tls:\n    certificate: /c\n", "both certificate and key"),
    ("notifications:\n  endpoints:\n    - url: http://x\n", "needs a name and a url"),
])
def test_bad_config_is_refused_with_a_reason(tmp_path, text, message):
    path = tmp_path / "config.yml"
    path.write_text(text)
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.load(str(path), environ={})


def test_proxy_is_one_upstream_or_a_list(tmp_path):
    one = cfg.from_tree({"proxy": {"remoteurl": "https://up.example/", "username": "u", "password": "p"}})
    assert [(p.remoteurl, p.username) for p in one.proxy] == [("https://up.example", "u")]
    two = cfg.from_tree({"proxy": [{"remoteurl": "http://a"}, {"remoteurl": "http://b"}]})
    assert [p.remoteurl for p in two.proxy] == ["http://a", "http://b"]
    assert cfg.from_tree({}).proxy == []
    with pytest.raises(cfg.ConfigError, match="remoteurl"):
        cfg.from_tree({"proxy": [{"username": "u"}]})


def test_names_tags_digests():
    assert check_name("library/busybox") == "library/busybox"
    for bad in ("Upper", "a//b", "-a", "a_", "a" * 256):
        with pytest.raises(RegistryError) as info:
            check_name(bad)
        assert info.value.code == "NAME_INVALID"
    assert check_tag("v1.0_rc-2") == "v1.0_rc-2"
    with pytest.raises(RegistryError):
        check_tag(".hidden")
    assert parse_digest("sha512:" + "a" * 128).algorithm == "sha512"
    for bad in ("sha256:abc", "md5:" + "a" * 32, "sha256:" + "A" * 64, "nodigest"):
        with pytest.raises(RegistryError) as info:
            parse_digest(bad)
        assert info.value.code == "DIGEST_INVALID"


def _cert(tmp_path, name: str, kind: str) -> tuple[bytes, str]:
    key, crt = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
    newkey = ["-newkey", "rsa:2048"] if kind == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "1",
                    "-subj", f"/CN={name}"], check=True, capture_output=True)
    return key.read_bytes(), str(crt)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_jwt_round_trip_and_rejections(tmp_path, kind):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from dockyard.registry.jwt import TokenInvalid, granted, load_bundle, sign, verify

    key, crt = _cert(tmp_path, "signer", kind)
    chain = [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(open(crt, "rb").read())]
    now = int(time.time())
    claims = {"iss": "iss", "aud": "svc", "sub": "u", "exp": now + 60, "nbf": now - 1,
              "access": [{"type": "repository", "name": "a/b", "actions": ["pull"]}]}
    token = sign(claims, key, chain)
    roots = load_bundle(crt)
    got = verify(token, roots, issuer="iss", service="svc")
    assert [(a.name, a.actions) for a in granted(got)] == [("a/b", ("pull",))]
    with pytest.raises(TokenInvalid, match="issuer"):
        verify(token, roots, issuer="other", service="svc")
    with pytest.raises(TokenInvalid, match="audience"):
        verify(token, roots, issuer="iss", service="other")
    with pytest.raises(TokenInvalid, match="expired"):
        verify(token, roots, issuer="iss", service="svc", now=now + 3600)
    _other_key, other_crt = _cert(tmp_path, "stranger", kind)
    with pytest.raises(TokenInvalid, match="not trusted"):
        verify(token, load_bundle(other_crt), issuer="iss", service="svc")
    head, body, signature = token.split(".")
    forged = json.loads(__import__("base64").urlsafe_b64decode(body + "=="))
    forged["access"][0]["actions"] = ["pull", "push"]
    from dockyard.registry.jwt import b64encode

    with pytest.raises(TokenInvalid, match="signature"):
        verify(f"{head}.{b64encode(json.dumps(forged).encode())}.{signature}", roots, issuer="iss", service="svc")


def test_byte_ranges():
    import re

    from dockyard.registry.blobs import _RANGE, _byte_range

    def r(text: str, size: int = 100):
        return _byte_range(_RANGE.fullmatch(text), size)

    assert r("bytes=0-9") == (0, 9) and r("bytes=90-") == (90, 99) and r("bytes=-10") == (90, 99)
    assert r("bytes=50-500") == (50, 99)
    assert r("bytes=100-") == (None, None) and r("bytes=9-3") == (None, None) and r("bytes=-0") == (None, None)
    assert _RANGE.fullmatch("bytes=1-2,4-5") is None and isinstance(_RANGE, re.Pattern)


def _put(storage: Storage, name: str, data: bytes):
    d = parse_digest("sha256:" + hashlib.sha256(data).hexdigest())
    tmp = os.path.join(storage.blobs_dir, f".in-{d.hex}")
    with open(tmp, "wb") as f:
        f.write(data)
    storage.commit_blob(tmp, d)
    storage.link_blob(name, d)
    return d


def _manifest(storage: Storage, name: str, tag: str, blobs, subject=None, children=()):
    document = {"schemaVersion": 2}
    if children:
        document["mediaType"] = "application/vnd.oci.image.index.v1+json"
        document["manifests"] = [{"digest": str(c), "size": 1} for c in children]
    else:
        document["config"] = {"digest": str(blobs[0]), "size": 1}
        document["layers"] = [{"digest": str(b), "size": 1} for b in blobs[1:]]
    if subject is not None:
        document["subject"] = {"digest": str(subject), "size": 1}
    body = json.dumps(document).encode()
    d = parse_digest("sha256:" + hashlib.sha256(body).hexdigest())
    storage.put_manifest(name, d, body)
    if tag:
        storage.set_tag(name, tag, d)
    return d


def test_collect_keeps_what_tags_reach_and_leases(tmp_path):
    storage = Storage(str(tmp_path))
    config, layer, lone, lonely_layer = (_put(storage, "r", data) for data in (b"c", b"l", b"x", b"y"))
    image = _manifest(storage, "r", "", [config, layer])
    index = _manifest(storage, "r", "v1", [], children=[image])
    sbom = _manifest(storage, "r", "", [config, layer], subject=image)
    untagged = _manifest(storage, "r", "", [config, lonely_layer])
    storage.leases.clear()  # as if all of it were pushed long ago
    for path in tmp_path.rglob("*"):
        os.utime(path, (1, 1))
    result = collect(storage, delete_untagged=True, dry_run=True)
    assert result.manifests == [f"r@{untagged}"]
    assert sorted(result.blobs) == sorted([str(lone), str(lonely_layer), str(untagged)])
    assert storage.has_manifest("r", untagged)  # a dry run
    storage.touch(lonely_layer)  # a push wants it now
    result = collect(storage, delete_untagged=True, grace=60)
    assert sorted(result.blobs) == sorted([str(lone), str(untagged)]) and not storage.has_manifest("r", untagged)
    for kept in (image, index, sbom):
        assert storage.has_manifest("r", kept)
    assert storage.stat_blob(lonely_layer) is not None and storage.stat_blob(lone) is None


def test_health_check_makes_every_request_unavailable(tmp_path):
    import asyncio

    from dockyard.registry.app import RegistryApp
    from dockyard.registry.http import Request

    class Empty:
        async def read_chunk(self, limit: int = 0) -> bytes:
            return b""

    text = ("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + str(tmp_path / "data") +
            "\nhealth:\n  storagedriver:\n    enabled: true\n    interval: 10ms\n    threshold: 2\n")
    (tmp_path / "c.yml").write_text(text)

    async def scenario() -> list[int]:
        app = RegistryApp(cfg.load(str(tmp_path / "c.yml"), environ={}))
        await app.start()
        statuses = [(await app.handle(Request("GET", "/v2/", {}, Empty()))).status]
        blobs = tmp_path / "data/docker/registry/v2/blobs"
        blobs.rename(tmp_path / "moved")
        blobs.write_text("not a directory")  # the store is broken (as a lost mount would break it)
        try:
            for _ in range(200):
                await asyncio.sleep(0.01)
                if app.unhealthy:
                    break
            statuses.append((await app.handle(Request("GET", "/v2/", {}, Empty()))).status)
            statuses.append((await app.handle(Request("GET", "/debug/health", {}, Empty()))).status)
        finally:
            blobs.unlink()
            (tmp_path / "moved").rename(blobs)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if not app.unhealthy:
                break
        statuses.append((await app.handle(Request("GET", "/v2/", {}, Empty()))).status)
        await app.close()
        return statuses

    assert asyncio.run(scenario()) == [200, 503, 503, 200]


def test_the_registry_images_modules_are_closed_under_imports(tmp_path):
    """registry:2 carries only REGISTRY_MODULES of Dockyard: the server must run from them alone."""
    import sys

    from dockyard.catalog.recipes import REGISTRY, PackageFile

    files = [f for f in REGISTRY.files if isinstance(f, PackageFile)]
    assert any(f.source == "registry/app.py" for f in files)
    for spec in files:
        target = tmp_path / "dockyard" / spec.source
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(spec.content())
    code = ("import dockyard, sys\n"
            f"assert dockyard.__file__.startswith({str(tmp_path)!r}), dockyard.__file__\n"
            "import dockyard.registry.app, dockyard.registry.serve, dockyard.registry.gc, dockyard.registry.proxy\n"
            "import dockyard.registry.notifications, dockyard.registry.tokenserver, dockyard.registry.commands\n")
    env = {"PYTHONPATH": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    checked = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    usage = subprocess.run([sys.executable, "-m", "dockyard.registry", "help"], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert usage.returncode == 0 and "garbage-collect" in usage.stdout, usage.stderr
    # And it serves: `registry serve` from those files, configured by the environment.
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve_env = {**env, "REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}",
                 "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.registry", "serve"], cwd=tmp_path, env=serve_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=5) as r:
                    assert r.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.05)
        else:
            raise AssertionError("the registry did not answer")
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_registry_images_debian_packages_cover_its_imports():
    """Every module outside the standard library and Dockyard that the image's files import comes
    from one of its Debian packages (python3-h11 was once missing: the server died at start-up)."""
    import ast
    import sys

    from dockyard.catalog.recipes import REGISTRY, PackageFile, whole

    debian = {"h11": "python3-h11", "yaml": "python3-yaml", "bcrypt": "python3-bcrypt",
              "cryptography": "python3-cryptography"}
    def names(node: ast.AST) -> set[str]:
        if isinstance(node, ast.Import):
            return {alias.name.split(".")[0] for alias in node.names}
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            return {node.module.split(".")[0]}
        return set()

    imported, optional = set(), set()
    for spec in (f for f in REGISTRY.files if isinstance(f, PackageFile)):
        tree = ast.parse(spec.content())
        for node in ast.walk(tree):
            imported |= names(node)
            # `try: import x / except ImportError:` is a module used when present (httptools)
            if isinstance(node, ast.Try) and any("ImportError" in ast.unparse(h.type or ast.Name("")) for h in
                                                  node.handlers):
                optional |= {n for child in node.body for inner in ast.walk(child) for n in names(inner)}
    third_party = imported - optional - set(sys.stdlib_module_names) - {"dockyard"}
    assert third_party <= set(debian), f"no Debian package known for {third_party - set(debian)}"
    assert {debian[name] for name in third_party} <= set(whole(REGISTRY).packages)
    assert "h11" in third_party
