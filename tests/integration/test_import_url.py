"""`import URL`: the daemon downloads the root filesystem tarball (from a loopback HTTP server here)."""

import gzip
import http.server
import socket
import threading

import pytest


@pytest.fixture(scope="module")
def web(busybox_tar, tmp_path_factory):
    """An HTTP server on 127.0.0.1 serving rootfs.tar and rootfs.tar.gz; yields its base URL."""
    root = tmp_path_factory.mktemp("web")
    data = busybox_tar.read_bytes()
    (root / "rootfs.tar").write_bytes(data)
    (root / "rootfs.tar.gz").write_bytes(gzip.compress(data, compresslevel=1))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name", ["rootfs.tar", "rootfs.tar.gz"])
def test_import_from_a_url_runs(daemon, web, name):
    url = f"{web}/{name}"
    r = daemon.cli("import", "-c", 'CMD ["echo", "imported over http"]', "-m", "from the web", url, "web/rootfs:1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0] == f"Downloading from {url}" and lines[1].startswith("sha256:")
    image = daemon.client.call("GET", "/images/web/rootfs:1/json")
    assert image["Id"] == lines[1] and image["Comment"] == "from the web"
    assert image["Config"]["Cmd"] == ["echo", "imported over http"]
    r = daemon.cli("run", "--rm", "web/rootfs:1")
    assert r.returncode == 0 and r.stdout == b"imported over http\n"
    daemon.cli("rmi", "web/rootfs:1")


def test_import_url_errors_are_clear_and_store_nothing(daemon, web):
    before = daemon.client.call("GET", "/images/json")
    r = daemon.cli("import", f"{web}/missing.tar", "web/missing:1")
    assert r.returncode == 1
    assert f"failed to GET {web}/missing.tar with status 404" in r.stderr.decode()
    port = unused_port()
    r = daemon.cli("import", f"http://127.0.0.1:{port}/x.tar")
    assert r.returncode == 1 and f'Get "http://127.0.0.1:{port}/x.tar"' in r.stderr.decode()
    assert "refused" in r.stderr.decode()
    assert daemon.client.call("GET", "/images/json") == before


def test_docker_cli_imports_from_a_url(daemon, web):
    r = daemon.docker("import", f"{web}/rootfs.tar", "web/docker:1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines()[-1].startswith("sha256:")
    assert daemon.docker("run", "--rm", "web/docker:1", "echo", "ok").stdout == b"ok\n"
    daemon.docker("rmi", "web/docker:1")
