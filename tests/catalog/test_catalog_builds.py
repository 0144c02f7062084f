"""`dockyard catalog`: busybox and debian:bookworm-slim built from Debian packages with mmdebstrap
(through the shared package cache, so only a fresh machine downloads), loaded through the Engine
API into a daemon of the test's own, and run. Part of `make test-catalog` (the bootstrap takes about
a minute, beyond `make test`'s budget), which CI runs after `make test`."""

import json

import pytest

BUILD_TIMEOUT = 1800  # a fresh machine downloads ~40 MB of packages from Debian's mirror
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT)


@pytest.fixture(scope="module")
def built(busybox_tar):
    from conftest import PrivateDaemon

    d = PrivateDaemon(busybox_tar).start()
    try:
        # --rebuild: bootstrap both even when the image cache holds them from an earlier run
        result = d.cli("catalog", "build", "--rebuild", "busybox", "debian:bookworm-slim", timeout=BUILD_TIMEOUT)
        assert result.returncode == 0, result.stderr.decode()[-4000:]
        yield d
    finally:
        d.cleanup()


def _image(d, ref: str) -> dict:
    result = d.cli("image", "inspect", ref)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


def test_busybox_runs(built):
    result = built.cli("run", "--rm", "busybox", "sh", "-c", "echo hello from the catalog; id -un; ls /bin/ls")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split("\n")[:3] == ["hello from the catalog", "root", "/bin/ls"]
    config = _image(built, "busybox:latest")
    assert config["Config"]["Cmd"] == ["sh"]
    assert config["Created"].startswith("2025-05-20T00:00:00")  # SOURCE_DATE_EPOCH, not the build's hour


def test_debian_slim_runs_with_apt_and_without_docs(built):
    script = ("cat /etc/debian_version; apt-get --version | head -n1; "
              "test -e /usr/share/doc/bash/copyright && test ! -e /usr/share/man/man1/bash.1.gz && echo slim; "
              "ls /var/lib/apt/lists | grep -c Packages || true; test -e /etc/machine-id && cat /etc/machine-id")
    result = built.cli("run", "--rm", "debian:bookworm-slim", "bash", "-c", script)
    assert result.returncode in (0, 1), result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("12.")
    assert lines[1].startswith("apt ")
    assert lines[2] == "slim"
    assert lines[3] == "0"  # no package lists left in the image
    assert lines[4:] in ([], [""])  # no machine-id, or an empty one
    config = _image(built, "debian:12-slim")
    assert config["Id"] == _image(built, "debian:bookworm-slim")["Id"]
    assert config["Config"]["Cmd"] == ["bash"]


def test_ls_shows_built_and_not_built(built):
    result = built.cli("catalog", "ls")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:3] for line in result.stdout.decode().splitlines()[1:]}
    assert rows["busybox:latest"][0] == "built"
    assert rows["debian:bookworm-slim"][0] == "built"
    assert rows["nginx:latest"] == ["not", "built"]
    assert set(rows) >= {"debian:bookworm", "python:3.11-slim", "redis:latest", "postgres:latest", "httpd:latest",
                         "registry:2"}


def test_same_inputs_give_the_same_image_id(built):
    before = _image(built, "busybox:latest")["Id"]
    again = built.cli("catalog", "build", "busybox")
    assert again.returncode == 0 and b"up to date" in again.stderr, again.stderr
    rebuilt = built.cli("catalog", "build", "--rebuild", "-q", "busybox", timeout=BUILD_TIMEOUT)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.decode().strip() == before
    # Gone from the daemon: loaded again from the image cache, no bootstrap, the same ID.
    assert built.cli("rmi", "busybox:latest").returncode == 0
    again = built.cli("catalog", "build", "busybox")
    assert again.returncode == 0 and b"built before from the same inputs" in again.stderr, again.stderr
    assert _image(built, "busybox:latest")["Id"] == before


def test_unknown_names_are_refused(built):
    result = built.cli("catalog", "build", "nosuchimage")
    assert result.returncode == 1
    assert b"nosuchimage is not in the catalog" in result.stderr
    result = built.cli("catalog", "build", "debian:sid")
    assert result.returncode == 1
    assert b"debian:sid is not in the catalog; debian is available as debian:bookworm" in result.stderr
    result = built.cli("catalog", "build")
    assert result.returncode == 125
    assert b"requires at least 1 argument" in result.stderr
