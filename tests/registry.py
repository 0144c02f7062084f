"""A real registry for tests: Debian's `docker-registry` (CNCF distribution) on 127.0.0.1 with a free
port, its own config and temporary storage, stopped by PID. Variants: plain HTTP, htpasswd basic
auth, TLS with a CA made by openssl, and bearer tokens from a small token server (tests/tokenserver.py)."""

from __future__ import annotations

import base64
import json
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_ca_and_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A CA and a server certificate for ``host`` (as IP and DNS names) signed by it: (ca, cert, key)."""
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "ext.cnf"
    ext.write_text(f"subjectAltName=IP:{host},DNS:localhost\nbasicConstraints=CA:FALSE\n")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt), "-days", "2",
        "-subj", "/CN=dockyard test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={host}")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(crt), "-days", "2", "-extfile", str(ext))
    return ca_crt, crt, key


class Registry:
    """One docker-registry process. ``auth`` is None, "htpasswd" or a dict for the `auth: token` section."""

    def __init__(self, *, users: dict[str, str] | None = None, tls: bool = False, token: dict | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="dockyard-registry-", dir="/tmp"))
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.users = users or {}
        self.tls = tls
        self.token = token
        self.ca: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.command = [REGISTRY_BIN, "serve"]
        self.name = "docker-registry"

    def _config(self) -> str:
        lines = ["version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true", "storage:",
                 "  filesystem:", f"    rootdirectory: {self.dir / 'data'}", "  delete:", "    enabled: true",
                 "http:", f"  addr: {self.host}", "  secret: dockyard-test"]
        if self.tls:
            self.ca, crt, key = make_ca_and_cert(self.dir)
            lines += ["  tls:", f"    certificate: {crt}", f"    key: {key}"]
        if self.users:
            htpasswd = self.dir / "htpasswd"
            for i, (user, password) in enumerate(self.users.items()):
                subprocess.run(["htpasswd", "-B", "-b", *(["-c"] if i == 0 else []), str(htpasswd), user, password],
                               check=True, capture_output=True)
            lines += ["auth:", "  htpasswd:", "    realm: basic-realm", f"    path: {htpasswd}"]
        elif self.token:
            lines += ["auth:", "  token:"] + [f"    {k}: {v}" for k, v in self.token.items()]
        return "\n".join(lines) + "\n"

    @property
    def url(self) -> str:
        return ("https://" if self.tls else "http://") + self.host

    def start(self) -> Registry:
        config = self.dir / "config.yml"
        config.write_text(self._config())
        log = open(self.dir / "registry.log", "wb")
        self.proc = subprocess.Popen([*self.command, str(config)], stdout=log, stderr=log,
                                     start_new_session=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        text = self.log()
        self.stop()  # a registry that never came up leaves no process or directory behind
        raise RuntimeError(f"{self.name} did not start:\n{text}")

    def log(self) -> str:
        try:
            return (self.dir / "registry.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def certs_dir(self, into: Path) -> Path:
        """A certs.d-style directory trusting this registry's CA: <into>/<host:port>/ca.crt."""
        target = into / self.host
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.ca, target / "ca.crt")
        return into

    # -- direct HTTP access, for building test content -------------------------------------------
    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                 auth: tuple[str, str] | None = None):
        request = urllib.request.Request(path if "://" in path else self.url + path, data=body, method=method,
                                         headers=headers or {})
        if auth:
            request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
        context = ssl.create_default_context(cafile=str(self.ca)) if self.tls else None
        return urllib.request.urlopen(request, timeout=30, context=context)

    def put_blob(self, repo: str, data: bytes) -> str:
        import hashlib

        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with self._request("POST", f"/v2/{repo}/blobs/uploads/", b"") as r:
            location = r.headers["Location"]
        location = location if "://" in location else self.url + location
        sep = "&" if "?" in location else "?"
        with self._request("PUT", f"{location}{sep}digest={digest}", data,
                           {"Content-Type": "application/octet-stream"}):
            pass
        return digest

    def put_manifest(self, repo: str, reference: str, manifest: dict, media_type: str) -> str:
        import hashlib

        body = json.dumps(manifest).encode()
        with self._request("PUT", f"/v2/{repo}/manifests/{reference}", body, {"Content-Type": media_type}):
            pass
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def get_json(self, path: str, auth: tuple[str, str] | None = None) -> dict:
        with self._request("GET", path, auth=auth) as r:
            return json.loads(r.read())
