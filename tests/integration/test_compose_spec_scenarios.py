"""The Compose Specification's conformance scenarios (github.com/compose-spec/conformance-tests: tests/*/
compose.yaml and compliance_test.go) run with `dockyard compose` against a private dockyardd.

The scenarios' compose files are kept as they are, with two changes: the Go test server and client
images are stand-ins built offline from busybox (an httpd whose CGI scripts answer the same
questions: ping another service, read a mounted file, count the scaled clients; both leave on
SIGTERM, as the Go programs do, where busybox as PID 1 would not), and the published
port 8080 is a free port (`${PORT}`), so suites can run side by side. The UDP scenario is left out:
busybox has no UDP server.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

SERVER_DOCKERFILE = """\
FROM busybox
COPY cgi-bin /www/cgi-bin
RUN mkdir -p /volumes /tmp/clients
CMD ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
"""
CLIENT_DOCKERFILE = """\
FROM busybox
CMD ["sh", "-c", "trap 'exit 0' TERM; while true; do wget -qO- http://server:8080/cgi-bin/register?id=$(hostname); \\
sleep 0.5; done"]
"""
CGI = {
    # /ping answers PONG FROM TARGET; /ping?address=host:port/ping asks that address (the entry -> target hop)
    "ping": """\
#!/bin/sh
printf 'Content-Type: application/json\\r\\n\\r\\n'
address=$(echo "$QUERY_STRING" | sed -n 's/^address=//p')
if [ -z "$address" ]; then echo '{"response":"PONG FROM TARGET"}'; exit 0; fi
host=${address%%/*}
if answer=$(wget -qO- "http://$host/cgi-bin/ping" 2>/dev/null); then echo "$answer"
else echo "{\\"response\\":\\"Could not reach address: $address\\"}"; fi
""",
    "volumefile": """\
#!/bin/sh
printf 'Content-Type: application/json\\r\\n\\r\\n'
name=$(echo "$QUERY_STRING" | sed -n 's/^filename=//p')
echo "{\\"response\\":\\"$(cat "/volumes/$name" | tr -d '\\n')\\"}"
""",
    "register": """\
#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
touch "/tmp/clients/$(echo "$QUERY_STRING" | sed -n 's/^id=//p')"
""",
    "scalechecker": """\
#!/bin/sh
printf 'Content-Type: application/json\\r\\n\\r\\n'
echo "{\\"response\\":\\"$(ls /tmp/clients | wc -l | tr -d ' ')\\"}"
""",
}

# tests/<name>/compose.yaml of the conformance suite (images and the published port substituted).
SCENARIOS = {
    "simple_lifecycle": """\
        version: '3.7'
        services:
          test1:
            image: ${SERVER}
    """,
    "simple_network": """\
        version: '3.7'
        services:
          entry:
            image: ${SERVER}
            networks:
              - mynetwork
            ports:
              - ${PORT}:8080
          target:
            image: ${SERVER}
            networks:
              - mynetwork
        networks:
          mynetwork:
    """,
    "different_networks": """\
        version: '3.7'
        services:
          entry:
            image: ${SERVER}
            networks:
              - entrynetwork
            ports:
              - ${PORT}:8080
          target:
            image: ${SERVER}
            networks:
              - targetnetwork
        networks:
          entrynetwork:
          targetnetwork:
    """,
    "simple_volume": """\
        version: "3.7"
        services:
          entry:
            image: ${SERVER}
            ports:
              - ${PORT}:8080
            volumes:
              - ./test_volume.txt:/volumes/test_volume.txt
    """,
    "simple_secretfile": """\
        version: "3.7"
        services:
          entry:
            image: ${SERVER}
            ports:
              - ${PORT}:8080
            secrets:
              - source: test_secret
                target: /volumes/test_secret.txt
        secrets:
          test_secret:
            file: ./test_secret.txt
    """,
    "simple_configfile": """\
        version: "3.7"
        services:
          entry:
            image: ${SERVER}
            ports:
              - ${PORT}:8080
            configs:
              - source: test_config
                target: /volumes/test_config.txt
        configs:
          test_config:
            file: ./test_config.txt
    """,
    "scaling": """\
        version: '3.7'
        services:
          server:
            image: ${SERVER}
            ports:
              - ${PORT}:8080
          client:
            image: ${CLIENT}
            deploy:
              replicas: 3
    """,
}
FILES = {"simple_volume": ("test_volume.txt", "MYVOLUME\n"), "simple_secretfile": ("test_secret.txt", "MYSECRET\n"),
         "simple_configfile": ("test_config.txt", "MYCONFIG\n")}


@pytest.fixture(scope="module")
def images(daemon, tmp_path_factory):
    root = tmp_path_factory.mktemp("spec-images")
    (root / "server" / "cgi-bin").mkdir(parents=True)
    (root / "server" / "Dockerfile").write_text(SERVER_DOCKERFILE)
    for name, text in CGI.items():
        path = root / "server" / "cgi-bin" / name
        path.write_text(text)
        path.chmod(0o755)
    (root / "client").mkdir()
    (root / "client" / "Dockerfile").write_text(CLIENT_DOCKERFILE)
    tags = {"SERVER": "conformance-tests-server:stand-in", "CLIENT": "conformance-tests-client:stand-in"}
    for kind, tag in tags.items():
        out = daemon.cli("build", "-q", "-t", tag, str(root / kind.lower()))
        assert out.returncode == 0, out.stderr.decode()
    yield tags
    for tag in tags.values():
        daemon.cli("rmi", "-f", tag)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def response(port: int, path: str) -> str:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/cgi-bin/{path}", timeout=10) as answer:
                return json.loads(answer.read())["response"]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def project_resources(daemon, project: str) -> list[str]:
    filters = json.dumps({"label": [f"com.docker.compose.project={project}"]})
    containers = daemon.client.call("GET", "/containers/json", query={"all": True, "filters": filters}) or []
    networks = daemon.client.call("GET", "/networks", query={"filters": filters}) or []
    return [c["Names"][0] for c in containers] + [n["Name"] for n in networks]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_scenario(daemon, images, tmp_path, scenario):
    directory = tmp_path / scenario
    directory.mkdir()
    (directory / "compose.yaml").write_text(textwrap.dedent(SCENARIOS[scenario]))
    if scenario in FILES:
        name, text = FILES[scenario]
        (directory / name).write_text(text)
    port = free_port()
    env = {**os.environ, "DOCKER_HOST": daemon.host, "PORT": str(port), **images}

    def compose(*args: str) -> subprocess.CompletedProcess:
        out = subprocess.run([str(BIN / "dockyard"), "compose", "--progress", "plain", *args], cwd=directory,
                             env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out

    project = scenario  # the directory's name (underscores are allowed in project names)
    compose("up", "-d")
    try:
        if scenario == "simple_lifecycle":
            assert len([r for r in project_resources(daemon, project) if r.startswith("/")]) == 1
        elif scenario == "simple_network":
            assert response(port, "ping?address=target:8080/ping") == "PONG FROM TARGET"
            assert response(port, "ping?address=notatarget:8080/ping") == \
                "Could not reach address: notatarget:8080/ping"
        elif scenario == "different_networks":
            assert response(port, "ping?address=target:8080/ping") == "Could not reach address: target:8080/ping"
        elif scenario in FILES:
            name, text = FILES[scenario]
            assert response(port, f"volumefile?filename={name}") == text.strip()
        elif scenario == "scaling":
            deadline = time.monotonic() + 30
            while response(port, "scalechecker") != "3":
                assert time.monotonic() < deadline, "the 3 clients never all registered"
                time.sleep(0.3)
    finally:
        compose("down")
    assert project_resources(daemon, project) == []
