"""Stacks on a one-node swarm of a private dockyardd: Docker Deep Dive ch.14's counter app (with
busybox stand-ins for its images) deployed by the real docker CLI (which converts the file
itself) and by `dockyard stack`, updated declaratively, and removed leaving nothing behind.

Each test is a stack's whole life (deploy, redeploy, update, rm and its drain: about 30 s on
this machine); the conversion's cases are unit tests (tests/unit/test_stack_convert.py)."""

from __future__ import annotations

import json
import textwrap
import urllib.request

import pytest
from registry import free_port
from swarming import ok, one_node_swarm
from test_netfilter import _host_address
from test_service_cli import _same
from waiting import until

# The book's web front end: a page that counts its visits in "redis" and says who served it.
APP_CGI = """#!/bin/sh
echo Content-Type: text/plain
echo
hits=$(wget -qO- http://redis:6379/cgi-bin/incr)
echo "swarm-app {version}: visited $hits times, served by $(hostname)"
"""
# redis stand-in: a counter behind busybox httpd on redis's port, found by its service name.
REDIS = ("mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\n"
         "n=$(( $(cat /tmp/hits 2>/dev/null || echo 0) + 1 )); echo $n > /tmp/hits; echo $n\\n' "
         "> /www/cgi-bin/incr && chmod +x /www/cgi-bin/incr && exec httpd -f -p 6379 -h /www")

# ddd-book swarm-app/compose.yaml, but for the placement on workers (one node here) and the images
STACK = """
version: "3.8"
networks:
  counter-net:
    driver: overlay
services:
  web-fe:
    image: swarm-app:{version}
    deploy:
      replicas: {replicas}
      update_config:
        parallelism: 2
        delay: 0s
        failure_action: rollback
      restart_policy:
        condition: on-failure
        delay: 1s
        max_attempts: 3
        window: 120s
    networks:
      - counter-net
    ports:
      - published: {port}
        target: 8080
  redis:
    image: "busybox:latest"
    command: ["sh", "-c", {redis}]
    networks:
      counter-net:
"""


@pytest.fixture
def swarm(fresh_daemon, tmp_path):
    d = fresh_daemon
    for version in ("v1", "v2"):
        context = tmp_path / f"app-{version}"
        context.mkdir()
        (context / "app").write_text(APP_CGI.format(version=version))
        (context / "app").chmod(0o755)
        (context / "Dockerfile").write_text('FROM busybox:latest\nCOPY app /www/cgi-bin/app\n'
                                            'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n')
        ok(d.cli("build", "-q", "-t", f"swarm-app:{version}", str(context)))
    with one_node_swarm(d):
        yield d


def _write(path, **values) -> str:
    path.write_text(STACK.format(redis=json.dumps(REDIS.replace("$", "$$")), **values))  # $$: no interpolation
    return str(path)


def _tasks(d, stack: str) -> dict[str, str]:
    """Running task IDs of the stack -> their image."""
    tasks = d.client.call("GET", "/tasks", query={"filters": json.dumps(
        {"label": [f"com.docker.stack.namespace={stack}"], "desired-state": ["running"]})})
    return {t["ID"]: t["Spec"]["ContainerSpec"]["Image"] for t in tasks if t["Status"]["State"] == "running"}


def _page(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://{_host_address()}:{port}/cgi-bin/app", timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


def _leftovers(d, stack: str) -> list:
    label = json.dumps({"label": [f"com.docker.stack.namespace={stack}"]})
    found = [o for kind in ("services", "networks", "secrets", "configs")
             for o in d.client.call("GET", f"/{kind}", query={"filters": label}) or []]
    return found + (d.client.call("GET", "/containers/json", query={"all": True, "filters": json.dumps(
        {"label": [f"com.docker.stack.namespace={stack}"]})}) or [])


def test_the_books_stack_with_the_docker_cli_deployed_updated_and_removed(swarm, tmp_path) -> None:
    d, port = swarm, free_port()
    stack_file = _write(tmp_path / "compose.yaml", version="v1", replicas=2, port=port)
    out = ok(d.docker("stack", "deploy", "-c", stack_file, "ddd"))
    # docker/cli goes over its services in a Go map's order
    assert sorted(out.splitlines()) == ["Creating network ddd_counter-net", "Creating service ddd_redis",
                                        "Creating service ddd_web-fe"]
    assert until(lambda: len(_tasks(d, "ddd")) == 3, 60), ok(d.docker("stack", "ps", "ddd"))
    assert ok(d.docker("stack", "ls")).split() == ["NAME", "SERVICES", "ddd", "2"]
    assert until(lambda: "visited 1 times" in (_page(port) or ""), 90), _page(port)
    assert "swarm-app v1: visited 2 times" in (_page(port) or "")
    ps = ok(d.docker("stack", "ps", "ddd", "--format", "{{.Name}} {{.Image}} {{.DesiredState}}"))
    assert sorted(ps.splitlines()) == ["ddd_redis.1 busybox:latest Running", "ddd_web-fe.1 swarm-app:v1 Running",
                                       "ddd_web-fe.2 swarm-app:v1 Running"]
    services = ok(d.docker("stack", "services", "ddd", "--format", "{{.Name}} {{.Mode}} {{.Image}} {{.Ports}}"))
    assert services.splitlines() == ["ddd_redis replicated busybox:latest ",
                                     f"ddd_web-fe replicated swarm-app:v1 *:{port}->8080/tcp"]

    # the same file again: every service "updated", no task replaced
    before = _tasks(d, "ddd")
    out = ok(d.docker("stack", "deploy", "-c", stack_file, "ddd"))
    assert sorted(line.split(" (id:")[0] for line in out.splitlines()) == ["Updating service ddd_redis",
                                                                            "Updating service ddd_web-fe"]
    assert not until(lambda: _tasks(d, "ddd") != before, 3), "a redeploy of the same file restarted tasks"

    # declaratively: the new image and one more replica, redis untouched
    _write(tmp_path / "compose.yaml", version="v2", replicas=3, port=port)
    ok(d.docker("stack", "deploy", "-c", stack_file, "ddd"))
    redis = {t for t, image in before.items() if image.startswith("busybox")}
    assert until(lambda: sorted(_tasks(d, "ddd").values()) == ["busybox:latest"] + ["swarm-app:v2"] * 3, 60), \
        ok(d.docker("stack", "ps", "ddd"))
    assert redis <= set(_tasks(d, "ddd"))
    assert until(lambda: "swarm-app v2" in (_page(port) or ""), 90)

    out = ok(d.docker("stack", "rm", "ddd"))
    assert out.splitlines() == ["Removing service ddd_redis", "Removing service ddd_web-fe",
                                "Removing network ddd_counter-net"]
    assert until(lambda: not _leftovers(d, "ddd"), 60), _leftovers(d, "ddd")
    assert ok(d.docker("stack", "ls")).split() == ["NAME", "SERVICES"]


def test_dockyard_stack_with_secrets_configs_and_prune_and_the_docker_cli_agrees(swarm, tmp_path) -> None:
    d = swarm
    (tmp_path / "token").write_text("t0k3n")
    (tmp_path / "motd").write_text("hello\n")
    first = tmp_path / "stack.yaml"
    first.write_text(textwrap.dedent("""
        services:
          api:
            image: busybox
            command: ["sh", "-c", "cat /run/secrets/token /motd; exec sleep 100000"]
            secrets: [token]
            configs: [{source: motd, target: /motd}]
            deploy: {replicas: 2, labels: {tier: back}}
          worker:
            image: busybox
            command: ["sleep", "100000"]
            build: .
        secrets:
          token: {file: ./token}
        configs:
          motd: {file: ./motd}
    """))
    result = d.cli("stack", "deploy", "-c", str(first), "app")
    out = ok(result)
    assert out.splitlines() == ["Creating network app_default", "Creating secret app_token", "Creating config app_motd",
                                "Creating service app_api", "Creating service app_worker"]
    assert result.stderr.decode().startswith("Ignoring unsupported options: build\n\nSince --detach=false")
    assert until(lambda: len(_tasks(d, "app")) == 3, 60), ok(d.cli("stack", "ps", "app"))

    for args in (("stack", "ls"), ("stack", "services", "app"), ("stack", "services", "-q", "app"),
                 ("stack", "ps", "app", "--format", "{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}"),
                 ("stack", "ps", "--no-trunc", "-q", "app")):
        assert sorted(ok(d.cli(*args)).splitlines()) == sorted(ok(d.docker(*args)).splitlines()), args
    _same(d, "stack", "ps", "app")  # the default table, times aside
    spec = json.loads(ok(d.docker("service", "inspect", "app_api")))[0]["Spec"]
    assert spec["Labels"] == {"tier": "back", "com.docker.stack.namespace": "app",
                              "com.docker.stack.image": "busybox"}
    (secret,) = spec["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert secret["SecretName"] == "app_token" and secret["SecretID"]

    # the docker CLI deploys the same file over it: the same specs, so no task restarts
    before = _tasks(d, "app")
    ok(d.docker("stack", "deploy", "-c", str(first), "app"))
    assert not until(lambda: _tasks(d, "app") != before, 3), "docker's redeploy of dockyard's stack restarted tasks"
    assert json.loads(ok(d.docker("service", "inspect", "app_api")))[0]["Spec"] == spec

    # worker left the file: --prune removes it, api stays as it is
    api = {t["ID"] for t in d.client.call("GET", "/tasks", query={"filters": json.dumps({"service": ["app_api"]})})}
    second = tmp_path / "second.yaml"
    second.write_text(first.read_text().replace("  worker:\n    image: busybox\n    command: [\"sleep\", \"100000\"]\n"
                                                "    build: .\n", ""))
    out = ok(d.cli("stack", "deploy", "--prune", "--detach=false", "-c", str(second), "app"))
    assert out.splitlines()[0] == "Removing service app_worker"
    assert out.splitlines()[1].startswith("Updating service app_api (id: ")
    assert "overall progress: 2 out of 2 tasks" in out and out.endswith("converged\n")
    assert until(lambda: set(_tasks(d, "app")) == api, 30), ok(d.cli("stack", "ps", "app"))
    assert ok(d.cli("stack", "services", "--format", "{{.Name}}", "app")).split() == ["app_api"]

    assert ok(d.cli("stack", "rm", "app")).splitlines() == ["Removing service app_api", "Removing secret app_token",
                                                            "Removing config app_motd", "Removing network app_default"]
    assert until(lambda: not _leftovers(d, "app"), 60), _leftovers(d, "app")
    result = d.cli("stack", "rm", "app")
    assert result.returncode == 0 and result.stderr.decode() == "Nothing found in stack: app\n"
    result = d.cli("stack", "ps", "app")
    assert result.returncode == 1 and result.stderr.decode() == "nothing found in stack: app\n"
