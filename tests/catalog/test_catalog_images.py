"""`make test-catalog`: every catalog image built into a daemon of the suite's own, each checked the
way the books use it, and every example script under examples/ run against the same daemon.

Collected only when DOCKYARD_TEST_CATALOG=1 (see tests/conftest.py): the whole catalog takes
minutes; test_catalog_builds.py bootstraps two images afresh (--rebuild)."""

import io
import json
import os
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest
from registry import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = pytest.mark.timeout(3600)  # the first test builds the whole catalog
EXAMPLES = sorted(p.parent.name for p in (ROOT / "examples").glob("*/run.sh"))


@pytest.fixture(scope="module")
def d(busybox_tar):
    from conftest import PrivateDaemon

    daemon = PrivateDaemon(busybox_tar).start()
    try:
        started = time.monotonic()
        result = daemon.cli("catalog", "build", "--all", "--rebuild", timeout=3600)  # bootstrap every image
        assert result.returncode == 0, result.stderr.decode()[-4000:]
        sys.stderr.write(f"\nwhole catalog built in {time.monotonic() - started:.0f} s\n")
        yield daemon
    finally:
        daemon.cleanup()


def run(d, *args: str, timeout: float = 120) -> str:
    result = d.cli(*args, timeout=timeout)
    assert result.returncode == 0, f"dockyard {' '.join(args)}: {result.stderr.decode()}"
    return result.stdout.decode()


def ip_of(d, container: str) -> str:
    return run(d, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container).strip()


def get(url: str, tries: int = 100) -> str:
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"GET {url} never answered")


def wait_for_log(d, container: str, text: str, count: int = 1, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        logs = d.cli("logs", container).stdout.decode() + d.cli("logs", container).stderr.decode()
        if logs.count(text) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"{container} never logged {text!r}:\n{logs}")


def docker(d, *args: str, timeout: float = 120) -> str:
    result = d.docker(*args, timeout=timeout)
    assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr.decode()}"
    return result.stdout.decode()


def config(d, image: str) -> dict:
    return json.loads(run(d, "image", "inspect", image))[0]["Config"]


def test_every_image_is_built(d):
    rows = run(d, "catalog", "ls").splitlines()[1:]
    assert len(rows) == 9
    assert all(row.split()[1] == "built" for row in rows), rows


@pytest.mark.parametrize("image,expected", [("nginx", "Welcome to nginx!"), ("httpd", "It works!")])
def test_web_servers_answer_on_their_published_port(d, image, expected):
    port = free_port()
    name = f"cat-{image}"
    run(d, "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80", image)
    try:
        assert expected in get(f"http://127.0.0.1:{port}/")
        wait_for_log(d, name, "GET / HTTP/1.1")  # the access log goes to the container's output
    finally:
        d.cli("rm", "-f", name)
    assert config(d, "nginx")["StopSignal"] == "SIGQUIT"
    assert config(d, "httpd")["StopSignal"] == "SIGWINCH"


def test_nginx_fills_its_templates_from_the_environment(d, tmp_path):
    """The official image's /etc/nginx/templates/*.template -> /etc/nginx/conf.d, set variables only."""
    (tmp_path / "default.conf.template").write_text(
        "server {\n listen ${NGINX_PORT};\n location / { return 200 'port ${NGINX_PORT} $request_method\\n'; }\n}\n")
    port = free_port()
    run(d, "run", "-d", "--name", "cat-nginx-tpl", "-e", "NGINX_PORT=8080", "-v", f"{tmp_path}:/etc/nginx/templates:ro",
        "-p", f"127.0.0.1:{port}:8080", "nginx")
    try:
        assert answering(d, "cat-nginx-tpl", f"http://127.0.0.1:{port}/") == "port 8080 GET\n"
        wait_for_log(d, "cat-nginx-tpl", "20-envsubst-on-templates.sh: Running envsubst on "
                     "/etc/nginx/templates/default.conf.template to /etc/nginx/conf.d/default.conf")
    finally:
        d.cli("rm", "-f", "cat-nginx-tpl")


def test_redis_answers_pong_to_another_container(d):
    run(d, "run", "-d", "--name", "cat-redis", "redis")
    try:
        wait_for_log(d, "cat-redis", "Ready to accept connections")
        out = run(d, "run", "--rm", "redis", "redis-cli", "-h", ip_of(d, "cat-redis"), "ping")
        assert out.strip() == "PONG"
        # the server dropped root, as in the official image (exec itself runs as the image's user, root)
        assert run(d, "exec", "cat-redis", "stat", "-c", "%U", "/proc/1").strip() == "redis"
    finally:
        d.cli("rm", "-f", "cat-redis")
    assert config(d, "redis")["Volumes"] == {"/data": {}}


def test_postgres_initialises_user_password_and_database(d):
    run(d, "run", "-d", "--name", "cat-pg", "-e", "POSTGRES_PASSWORD=s3cret", "-e", "POSTGRES_USER=alice",
        "-e", "POSTGRES_DB=shop", "postgres")
    try:
        wait_for_log(d, "cat-pg", "PostgreSQL init process complete", seconds=120)
        wait_for_log(d, "cat-pg", "database system is ready to accept connections", count=2, seconds=60)
        ip = ip_of(d, "cat-pg")
        out = run(d, "run", "--rm", "-e", "PGPASSWORD=s3cret", "postgres", "psql", "-h", ip, "-U", "alice",
                  "-d", "shop", "-tAc", "select current_user || '@' || current_database()")
        assert out.strip() == "alice@shop"
        wrong = d.cli("run", "--rm", "-e", "PGPASSWORD=wrong", "postgres", "psql", "-h", ip, "-U", "alice",
                      "-d", "shop", "-c", "select 1")
        assert wrong.returncode != 0
        assert b"password authentication failed" in wrong.stderr
    finally:
        d.cli("rm", "-f", "cat-pg")
    missing = d.cli("run", "--rm", "postgres")
    assert missing.returncode == 1
    assert b"superuser password is not specified" in missing.stderr


def answering(d, container: str, url: str) -> str:
    """GET ``url`` once ``container`` serves it; if it never does, the container's state and output
    say why (a server that died at start-up, a port not published)."""
    try:
        return get(url)
    except AssertionError:
        state = run(d, "inspect", "--format", "{{json .State}}", container)
        logs = d.cli("logs", container)
        raise AssertionError(f"{container} never answered {url}; state {state}\nlogs:\n"
                             f"{(logs.stdout + logs.stderr).decode(errors='replace')[-3000:]}") from None


def test_registry_accepts_a_push_and_gives_it_back(d):
    port = free_port()
    run(d, "run", "-d", "--name", "cat-registry", "-p", f"127.0.0.1:{port}:5000", "registry:2")
    target = f"127.0.0.1:{port}/catalog/busybox:pushed"
    try:
        assert json.loads(answering(d, "cat-registry", f"http://127.0.0.1:{port}/v2/")) == {}
        run(d, "tag", "busybox", target)
        run(d, "push", target, timeout=300)
        catalog = json.loads(get(f"http://127.0.0.1:{port}/v2/_catalog"))
        assert "catalog/busybox" in catalog["repositories"]
        run(d, "rmi", target)
        run(d, "pull", target, timeout=300)
        assert run(d, "run", "--rm", target, "echo", "round trip").strip() == "round trip"
        # Dockyard's registry server: its collector and the data in distribution's layout.
        gc = run(d, "exec", "cat-registry", "registry", "garbage-collect", "--dry-run",
                 "/etc/docker/registry/config.yml")
        assert "catalog/busybox: marking manifest sha256:" in gc and "blobs marked" in gc
        assert "catalog" in run(d, "exec", "cat-registry", "ls", "/var/lib/registry/docker/registry/v2/repositories")
    finally:
        d.cli("rmi", target)
        d.cli("rm", "-f", "cat-registry")
    assert config(d, "registry:2")["Volumes"] == {"/var/lib/registry": {}}


def megabytes(text: str) -> float:
    number = text.rstrip("kMGB")
    return float(number) * {"kB": 1e-3, "MB": 1, "GB": 1e3, "B": 1e-6}[text[len(number):]]


def layers(d, image: str) -> list[str]:
    return json.loads(run(d, "image", "inspect", "--format", "{{json .RootFS.Layers}}", image))


def test_images_are_layers_on_a_shared_debian_base(d):
    slim = layers(d, "debian:bookworm-slim")
    python = layers(d, "python:3.11-slim")
    assert len(slim) == 1 and python[:1] == slim and len(python) == 2
    for image in ("nginx", "redis", "postgres", "httpd"):
        assert layers(d, image)[:1] == slim and len(layers(d, image)) == 2, image
    assert layers(d, "registry:2")[:2] == python and len(layers(d, "registry:2")) == 3
    # the real docker CLI: history shows the bases' steps below the image's own, as for the official images
    history = docker(d, "history", "--no-trunc", "--format", "{{.ID}}\t{{.CreatedBy}}", "registry:2").splitlines()
    assert [line.split("\t")[0] for line in history[1:]] == ["<missing>", "<missing>"]
    assert "on python:3.11-slim" in history[0] and "debian:bookworm-slim" in history[2]
    # the base is stored once: each image on it counts it as shared (SIZE, SHARED SIZE, UNIQUE SIZE, CONTAINERS,
    # in rows by IMAGE ID; the CLI prints SIZE with 3 digits and the others with 4)
    table = docker(d, "system", "df", "-v").split("Images space usage:")[1].split("Containers space usage:")[0]
    sizes = {line.split()[2]: [megabytes(v) for v in line.split()[-4:-1]] for line in table.strip().splitlines()[1:]}

    def row(image: str) -> list[float]:
        return sizes[json.loads(run(d, "image", "inspect", image))[0]["Id"].removeprefix("sha256:")[:12]]

    assert abs(row("nginx")[1] - row("debian:bookworm-slim")[0]) < row("debian:bookworm-slim")[0] / 100
    assert abs(row("registry:2")[1] - row("python:3.11-slim")[0]) < row("python:3.11-slim")[0] / 100
    assert row("nginx")[2] < row("nginx")[1]  # nginx's own layer is smaller than the base it shares
    # and `save` of two images on it writes it once
    saved = d.docker("save", "nginx", "redis", timeout=300)
    assert saved.returncode == 0, saved.stderr.decode()
    with tarfile.open(fileobj=io.BytesIO(saved.stdout)) as tar:
        names = tar.getnames()
    assert names.count("blobs/sha256/" + slim[0].removeprefix("sha256:")) == 1


def test_a_layered_image_is_reproducible(d):
    before = json.loads(run(d, "image", "inspect", "nginx"))[0]["Id"]
    again = run(d, "catalog", "build", "--rebuild", "-q", "nginx", timeout=1800)
    assert again.strip() == before  # the same base, packages and epoch: the same layer, the same image ID


def test_python_has_pip_and_venv(d):
    out = run(d, "run", "--rm", "python:3.11-slim", "sh", "-c",
              "python --version && python -m pip --version && python -m venv /tmp/v && /tmp/v/bin/python -c 'print(1)'")
    assert out.startswith("Python 3.11.")
    assert out.rstrip().endswith("1")


def test_debian_full_image(d):
    out = run(d, "run", "--rm", "debian:bookworm", "sh", "-c", ". /etc/os-release; echo $VERSION_CODENAME; "
              "test -d /usr/share/man && echo has-man-dir")
    assert out.split() == ["bookworm", "has-man-dir"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_script(d, example):
    env = {**os.environ, "DOCKER_HOST": d.host, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run([str(ROOT / "examples" / example / "run.sh")], env=env, capture_output=True,
                            timeout=900)
    assert result.returncode == 0, (result.stdout.decode()[-3000:], result.stderr.decode()[-3000:])
    assert f"{example}: OK" in result.stdout.decode()
