"""`dockyard compose` against a private dockyardd with the books' applications (stand-in images built
offline from busybox): Docker Deep Dive's counter app and Docker in Action's ch.11 scaled pair;
the real docker-compose 1.29.2 on the same projects; the same files against a private dockerd."""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

from waiting import until

BIN = Path(sys.executable).parent

WEB_DOCKERFILE = """\
FROM busybox
COPY count /www/cgi-bin/count
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""
# The web front end asks the store for the next number, as the book's Flask app asks redis (INCR).
WEB_CGI = """\
#!/bin/sh
n=$(wget -qO- http://redis:6379/cgi-bin/incr)
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "What's up Docker Deep Divers! You've visited me $n times."
"""
STORE_DOCKERFILE = """\
FROM busybox
COPY incr /www/cgi-bin/incr
CMD ["httpd", "-f", "-p", "6379", "-h", "/www"]
"""
STORE_CGI = """\
#!/bin/sh
n=$(cat /data/count 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > /data/count
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "$n"
"""
# Docker Deep Dive ch.9's compose.yaml, with the stand-in images built from busybox (and `init`, since
# busybox httpd as PID 1 ignores SIGTERM, and every stop would wait out its 10 s).
COUNTER_COMPOSE = """\
services:
  web-fe:
    build: web
    init: true
    ports:
      - target: 8080
        published: ${WEB_PORT:-5001}
    networks:
      - counter-net
    volumes:
      - type: volume
        source: counter-vol
        target: /app
    depends_on: [redis]
  redis:
    build: store
    init: true
    volumes:
      - counter-vol:/data
    networks:
      counter-net:
networks:
  counter-net:
volumes:
  counter-vol:
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def counter_app(root: Path, name: str) -> Path:
    app = root / name
    (app / "web").mkdir(parents=True)
    (app / "store").mkdir()
    (app / "web" / "Dockerfile").write_text(WEB_DOCKERFILE)
    (app / "web" / "count").write_text(WEB_CGI)
    (app / "store" / "Dockerfile").write_text(STORE_DOCKERFILE)
    (app / "store" / "incr").write_text(STORE_CGI)
    os.chmod(app / "web" / "count", 0o755)
    os.chmod(app / "store" / "incr", 0o755)
    (app / "compose.yaml").write_text(COUNTER_COMPOSE)
    return app


class Compose:
    """Runs `dockyard compose` (or docker-compose 1.29.2) in a project directory against one daemon."""

    def __init__(self, host: str, cwd: Path, env: dict | None = None) -> None:
        self.host = host
        self.cwd = cwd
        self.env = {**os.environ, "DOCKER_HOST": host, **(env or {})}
        self.env.pop("COMPOSE_PROJECT_NAME", None)
        self.env.pop("COMPOSE_FILE", None)

    def __call__(self, *args: str, check: bool = True, tool: str = "dockyard", timeout: float = 120):
        argv = [str(BIN / "dockyard"), "compose", "--progress", "plain", *args] if tool == "dockyard" else \
            [shutil.which("docker-compose") or "/usr/bin/docker-compose", *args]
        out = subprocess.run(argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
        return out


def api(daemon, method: str, path: str, **kwargs):
    return daemon.client.call(method, path, **kwargs)


def project_containers(daemon, project: str, all: bool = True) -> list[dict]:
    filters = json.dumps({"label": [f"com.docker.compose.project={project}"]})
    return api(daemon, "GET", "/containers/json", query={"all": all, "filters": filters}) or []


def names_of(containers) -> list[str]:
    return sorted(c["Names"][0].lstrip("/") for c in containers)


def network_names(daemon) -> set[str]:
    return {n["Name"] for n in api(daemon, "GET", "/networks")}


def volume_names(daemon) -> set[str]:
    return {v["Name"] for v in (api(daemon, "GET", "/volumes") or {}).get("Volumes") or []}


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/cgi-bin/count", timeout=10) as response:
        return response.read().decode()


def visits(port: int) -> int:
    return int(get(port).split("visited me ")[1].split()[0])


def test_counter_app_lifecycle(daemon, tmp_path):
    app = counter_app(tmp_path, "counter")
    port = free_port()
    compose = Compose(daemon.host, app, {"WEB_PORT": str(port)})
    try:
        out = compose("up", "-d")
        assert " Network counter_counter-net  Created" in out.stderr
        assert ' Volume "counter_counter-vol"  Created' in out.stderr
        assert " Container counter-web-fe-1  Started" in out.stderr
        containers = project_containers(daemon, "counter")
        assert names_of(containers) == ["counter-redis-1", "counter-web-fe-1"]
        assert "counter_counter-net" in network_names(daemon)
        assert "counter_counter-vol" in volume_names(daemon)
        web = api(daemon, "GET", "/containers/counter-web-fe-1/json")
        labels = web["Config"]["Labels"]
        assert labels["com.docker.compose.project"] == "counter"
        assert labels["com.docker.compose.service"] == "web-fe"
        assert labels["com.docker.compose.container-number"] == "1"
        assert labels["com.docker.compose.oneoff"] == "False"
        assert labels["com.docker.compose.project.working_dir"] == str(app)
        assert labels["com.docker.compose.project.config_files"] == str(app / "compose.yaml")
        assert labels["com.docker.compose.depends_on"] == "redis:service_started:false"
        assert len(labels["com.docker.compose.config-hash"]) == 64
        assert web["Config"]["Image"] == "counter-web-fe"
        assert web["HostConfig"]["PortBindings"] == {"8080/tcp": [{"HostIp": "", "HostPort": str(port)}]}
        assert list(web["NetworkSettings"]["Networks"]) == ["counter_counter-net"]

        first = visits(port)
        assert visits(port) == first + 1

        ids = {c["Id"] for c in containers}
        again = compose("up", "-d")
        assert "Recreate" not in again.stderr and "Creating" not in again.stderr
        assert " Container counter-web-fe-1  Running" in again.stderr
        assert {c["Id"] for c in project_containers(daemon, "counter")} == ids

        listed = compose("ps", "--format", "json").stdout.splitlines()
        assert sorted(json.loads(line)["Service"] for line in listed) == ["redis", "web-fe"]
        assert f"0.0.0.0:{port}->8080/tcp" in compose("ps").stdout
        assert compose("port", "web-fe", "8080").stdout.strip() == f"0.0.0.0:{port}"
        assert "counter   running(2)" in compose("ls").stdout

        compose("down")
        assert project_containers(daemon, "counter") == []
        assert "counter_counter-net" not in network_names(daemon)
        assert "counter_counter-vol" in volume_names(daemon)  # named volumes survive down

        compose("up", "-d")
        assert visits(port) == first + 2  # the count lived in the volume
        compose("down", "-v")
        assert "counter_counter-vol" not in volume_names(daemon)
        assert project_containers(daemon, "counter") == []
    finally:
        compose("down", "-v", "--rmi", "local", check=False)


def test_changed_service_is_recreated_with_its_volumes(daemon, tmp_path):
    app = tmp_path / "recreate"
    app.mkdir()
    compose_file = app / "compose.yaml"
    text = textwrap.dedent("""\
        services:
          keep:
            image: busybox
            init: true
            command: sleep 600
          data:
            image: busybox
            init: true
            command: ["sh", "-c", "echo $$MARK > /anon/mark-$$MARK; sleep 600"]
            environment: {MARK: "${MARK}"}
            volumes: [/anon]
    """)
    compose_file.write_text(text)
    compose = Compose(daemon.host, app, {"MARK": "one"})
    try:
        compose("up", "-d")
        before = {c["Names"][0]: c["Id"] for c in project_containers(daemon, "recreate")}
        compose.env["MARK"] = "two"
        out = compose("up", "-d")
        assert " Container recreate-data-1  Recreated" in out.stderr
        assert " Container recreate-keep-1  Running" in out.stderr
        after = {c["Names"][0]: c["Id"] for c in project_containers(daemon, "recreate")}
        assert after["/recreate-keep-1"] == before["/recreate-keep-1"]
        assert after["/recreate-data-1"] != before["/recreate-data-1"]
        listing = compose("exec", "-T", "data", "ls", "/anon").stdout.split()
        assert listing == ["mark-one", "mark-two"]  # the anonymous volume came along
        forced = compose("up", "-d", "--force-recreate", "keep")
        assert " Container recreate-keep-1  Recreated" in forced.stderr
    finally:
        compose("down", "-v", check=False)


def test_scaled_service_docker_in_action(daemon, tmp_path):
    """Docker in Action ch.11: a WordPress-style pair; the web tier scaled to 5 and back to 1."""
    app = tmp_path / "wp"
    app.mkdir()
    (app / "docker-compose.yml").write_text(textwrap.dedent("""\
        version: "3.8"
        services:
          wordpress:
            image: busybox
            init: true
            command: ["httpd", "-f", "-p", "80", "-h", "/"]
            environment:
              WORDPRESS_DB_HOST: mysql
            ports: ["80"]
            depends_on: [mysql]
            links: ["mysql:db"]
          mysql:
            image: busybox
            init: true
            command: sleep 600
            environment:
              MYSQL_ROOT_PASSWORD: example
    """))
    compose = Compose(daemon.host, app)
    try:
        compose("up", "-d", "--scale", "wordpress=5")
        names = names_of(project_containers(daemon, "wp"))
        assert names == ["wp-mysql-1", *(f"wp-wordpress-{n}" for n in range(1, 6))]
        ports = set()
        for n in range(1, 6):
            published = compose("port", "--index", str(n), "wordpress", "80").stdout.strip()
            ports.add(published.rsplit(":", 1)[1])
        assert len(ports) == 5  # each replica on a port of its own
        compose("up", "-d", "--scale", "wordpress=1")
        assert names_of(project_containers(daemon, "wp")) == ["wp-mysql-1", "wp-wordpress-1"]
        env = compose("exec", "-T", "wordpress", "env").stdout
        assert "WORDPRESS_DB_HOST=mysql" in env
        assert compose("exec", "-T", "wordpress", "ping", "-c", "1", "db", check=False).returncode == 0
    finally:
        compose("down", check=False)


def test_dependency_conditions_and_one_offs(daemon, tmp_path):
    app = tmp_path / "deps"
    app.mkdir()
    (app / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          migrate:
            image: busybox
            command: ["sh", "-c", "sleep 1; echo migrated > /state/done"]
            volumes: [state:/state]
          db:
            image: busybox
            init: true
            command: ["sh", "-c", "sleep 1; touch /tmp/ready; sleep 600"]
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ready"]
              interval: 200ms
              retries: 50
          app:
            image: busybox
            init: true
            command: ["sh", "-c", "cat /state/done; sleep 600"]
            volumes: [state:/state]
            depends_on:
              migrate: {condition: service_completed_successfully}
              db: {condition: service_healthy}
        volumes:
          state: {}
    """))
    compose = Compose(daemon.host, app)
    try:
        compose("up", "-d")
        app_state = api(daemon, "GET", "/containers/deps-app-1/json")
        db_state = api(daemon, "GET", "/containers/deps-db-1/json")
        assert db_state["State"]["Health"]["Status"] == "healthy"
        assert app_state["State"]["StartedAt"] > db_state["State"]["StartedAt"]
        logs = compose("logs", "app").stdout
        assert "app-1  | migrated" in logs
        run = compose("run", "--rm", "-T", "--no-deps", "app", "cat", "/state/done")
        assert run.stdout.strip() == "migrated"
        assert not [c for c in project_containers(daemon, "deps")
                    if c["Labels"]["com.docker.compose.oneoff"] == "True"]  # --rm removed it
    finally:
        compose("down", "-v", check=False)


def test_errors_leave_nothing_behind(daemon, tmp_path):
    app = tmp_path / "broken"
    app.mkdir()
    port = free_port()
    compose_file = app / "compose.yaml"
    compose_file.write_text(textwrap.dedent(f"""\
        services:
          first:
            image: busybox
            init: true
            command: sleep 600
            ports: ["{port}:80"]
          second:
            image: busybox
            init: true
            command: sleep 600
            ports: ["{port}:80"]
            depends_on: [first]
        networks:
          extra: {{}}
    """))
    compose = Compose(daemon.host, app)
    out = compose("up", "-d", check=False)
    assert out.returncode != 0
    assert "services.second.ports" in out.stderr and "port is already allocated" in out.stderr
    assert project_containers(daemon, "broken") == []
    assert "broken_default" not in network_names(daemon)

    compose_file.write_text("services:\n  web:\n    image: busybox\n    restart_policy: always\n")
    out = compose("up", "-d", check=False)
    assert out.returncode != 0
    assert f"validating {compose_file}: services.web additional properties 'restart_policy' not allowed" in out.stderr

    compose_file.write_text("services:\n  a: {image: busybox, depends_on: [b]}\n  b: {image: busybox, "
                            "depends_on: [a]}\n")
    out = compose("up", "-d", check=False)
    assert out.returncode != 0 and "dependency cycle detected" in out.stderr

    out = compose("-f", "missing.yaml", "up", "-d", check=False)
    assert out.returncode != 0 and f"open {app}/missing.yaml: no such file or directory" in out.stderr
    assert project_containers(daemon, "broken") == []


def test_docker_compose_v1_sees_the_same_project(daemon, tmp_path):
    """The real docker-compose 1.29.2 and `dockyard compose` read each other's projects from the labels."""
    assert shutil.which("docker-compose"), "docker-compose is not installed (`make test` installs it)"
    app = counter_app(tmp_path, "interop")
    port = free_port()
    compose = Compose(daemon.host, app, {"WEB_PORT": str(port)})
    try:
        compose("up", "-d", tool="docker-compose")
        v1_ids = set(compose("ps", "-q", tool="docker-compose").stdout.split())
        assert len(v1_ids) == 2
        assert set(compose("ps", "-q").stdout.split()) == v1_ids
        first = visits(port)
        compose("down")  # dockyard compose removes what docker-compose made
        assert project_containers(daemon, "interop") == []
        assert "interop_counter-net" not in network_names(daemon)

        compose("up", "-d")
        assert visits(port) == first + 1  # docker-compose's named volume is the same volume
        ours = set(compose("ps", "-q").stdout.split())
        assert set(compose("ps", "-q", tool="docker-compose").stdout.split()) == ours
        compose("down", "-v", tool="docker-compose")
        assert project_containers(daemon, "interop") == []
        assert "interop_counter-vol" not in volume_names(daemon)
    finally:
        compose("down", "-v", "--rmi", "local", check=False)


def test_same_resources_on_docker(daemon, real_docker, tmp_path, busybox_tar):
    """The same compose file through `dockyard compose` against dockyardd and a private dockerd."""
    if real_docker.docker("image", "inspect", "busybox:latest").returncode != 0:
        real_docker.docker("import", "-c", 'CMD ["sh"]', str(busybox_tar), "busybox:latest")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from daemons import free_subnet24

    app = tmp_path / "same"
    app.mkdir()
    (app / "compose.yaml").write_text(textwrap.dedent(f"""\
        services:
          web:
            image: busybox
            init: true
            command: sleep 600
            networks: [back]
            volumes: [data:/data]
            labels: {{tier: web}}
          worker:
            image: busybox
            init: true
            command: sleep 600
            scale: 2
            networks: [back]
            depends_on: [web]
        networks:
          back:
            ipam:
              config: [{{subnet: {free_subnet24()}.0/24}}]
        volumes:
          data: {{}}
    """))
    results = {}
    for label, host in (("dockyard", daemon.host), ("docker", real_docker.host)):
        compose = Compose(host, app)
        try:
            compose("up", "-d")
            containers = json.loads(subprocess.run(
                [str(BIN / "dockyard"), "-H", host, "inspect",
                 *compose("ps", "-q").stdout.split()], capture_output=True, text=True, check=True).stdout)
            networks = json.loads(subprocess.run([str(BIN / "dockyard"), "-H", host, "network", "inspect",
                                                  "same_back"], capture_output=True, text=True, check=True).stdout)
            volumes = json.loads(subprocess.run([str(BIN / "dockyard"), "-H", host, "volume", "inspect",
                                                 "same_data"], capture_output=True, text=True, check=True).stdout)
            results[label] = {
                "containers": sorted((c["Name"], tuple(sorted((k, v) for k, v in c["Config"]["Labels"].items()
                                                              if k != "com.docker.compose.image")))
                                     for c in containers),
                "networks": {n: sorted(c["Name"] for c in containers if n in c["NetworkSettings"]["Networks"])
                             for n in ("same_back",)},
                "network_labels": networks[0]["Labels"], "volume_labels": volumes[0]["Labels"],
            }
        finally:
            compose("down", "-v", check=False)
    assert results["dockyard"] == results["docker"]
    assert [name for name, _ in results["docker"]["containers"]] == ["/same-web-1", "/same-worker-1",
                                                                     "/same-worker-2"]


def test_watch_syncs_changed_files(daemon, tmp_path):
    app = tmp_path / "watched"
    (app / "src").mkdir(parents=True)
    (app / "src" / "a.txt").write_text("one\n")
    (app / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          app:
            image: busybox
            init: true
            command: sleep 600
            develop:
              watch:
                - {action: sync, path: ./src, target: /srv, ignore: ["*.tmp"]}
    """))
    compose = Compose(daemon.host, app)
    watcher = subprocess.Popen([str(BIN / "dockyard"), "compose", "--progress", "plain", "watch"], cwd=app,
                               env=compose.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert watcher.stdout.readline() == "Watch enabled\n"
        (app / "src" / "a.txt").write_text("two\n")
        (app / "src" / "new.txt").write_text("new\n")
        (app / "src" / "skip.tmp").write_text("ignored\n")
        assert "Syncing service \"app\"" in watcher.stdout.readline()
        deadline = time.monotonic() + 20  # the two files may come in two polls
        while compose("exec", "-T", "app", "ls", "/srv").stdout.split() != ["a.txt", "new.txt"]:
            assert time.monotonic() < deadline, "new.txt never synced"
            time.sleep(0.2)
        assert compose("exec", "-T", "app", "cat", "/srv/a.txt", "/srv/new.txt").stdout == "two\nnew\n"
    finally:
        watcher.terminate()
        watcher.wait(10)
        compose("down", check=False)


def test_everyday_commands(daemon, tmp_path):
    app = tmp_path / "daily"
    app.mkdir()
    (app / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          api:
            image: busybox
            init: true
            command: ["sh", "-c", "echo api ready; sleep 600"]
          cache:
            image: busybox
            init: true
            command: ["sh", "-c", "echo cache ready; sleep 600"]
            profiles: [full]
          debug:
            image: busybox
            profiles: [debug]
    """))
    compose = Compose(daemon.host, app)
    try:
        assert compose("--profile", "full", "config", "--services").stdout.split() == ["api", "cache"]
        assert compose("config", "--profiles").stdout.split() == ["debug", "full"]
        compose("--profile", "full", "up", "-d")
        assert "api ready" in compose("logs", "--no-log-prefix", "api").stdout
        top = compose("top", "api").stdout
        assert "daily-api-1" in top and "sleep 600" in top
        images = compose("images").stdout
        assert "daily-api-1" in images and "busybox" in images
        (tmp_path / "note.txt").write_text("copied\n")
        compose("cp", str(tmp_path / "note.txt"), "api:/tmp/note.txt")
        assert compose("exec", "-T", "api", "cat", "/tmp/note.txt").stdout == "copied\n"
        compose("cp", "api:/tmp/note.txt", str(tmp_path / "back.txt"))
        assert (tmp_path / "back.txt").read_text() == "copied\n"

        def states() -> dict:
            return {c["Names"][0]: c["State"] for c in project_containers(daemon, "daily")}

        compose("--profile", "full", "pause")
        assert set(states().values()) == {"paused"}
        compose("--profile", "full", "unpause")
        compose("--profile", "full", "stop", "api")
        assert states() == {"/daily-api-1": "exited", "/daily-cache-1": "running"}
        assert compose("ps", "--services").stdout.split() == ["cache"]
        assert compose("ps", "-a", "--status", "exited", "-q").stdout.split() == \
            [c["Id"] for c in project_containers(daemon, "daily") if c["State"] == "exited"]
        compose("--profile", "full", "start")
        compose("--profile", "full", "restart", "-t", "1", "cache")
        assert set(states().values()) == {"running"}
        compose("--profile", "full", "kill", "cache")
        compose("--profile", "full", "rm", "-f", "cache")
        assert list(states()) == ["/daily-api-1"]
        out = compose("down", check=False)
        assert out.returncode == 0 and "daily-api-1  Removed" in out.stderr
        assert compose("ls", "-a", "-q").stdout.split().count("daily") == 0
    finally:
        compose("--profile", "full", "down", check=False)


def test_scale_stats_volumes_commit_export_attach_wait(daemon, tmp_path):
    """Compose v2's per-service commands: scale, stats, volumes, commit, export, attach and wait."""
    app = tmp_path / "ops"
    app.mkdir()
    (app / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          web:
            image: busybox
            init: true
            command: ["sh", "-c", "echo hi > /data/hello; sleep 600"]
            volumes: [data:/data]
          job:
            image: busybox
            init: true
            stdin_open: true
            command: ["sh", "-c", "read line; echo got $$line; exit 3"]
        volumes:
          data:
    """))
    compose = Compose(daemon.host, app)
    try:
        compose("up", "-d")
        compose("scale", "web=3")
        assert names_of(project_containers(daemon, "ops")) == ["ops-job-1", *(f"ops-web-{n}" for n in (1, 2, 3))]
        compose("scale", "web=1")
        assert names_of(project_containers(daemon, "ops")) == ["ops-job-1", "ops-web-1"]
        bad = compose("scale", "web", check=False)
        assert bad.returncode == 1 and "invalid scale specifier: web" in bad.stderr
        bad = compose("scale", "nosuch=2", check=False)
        assert bad.returncode == 1 and "no such service: nosuch" in bad.stderr

        shown = compose("stats", "--no-stream", "--format", "{{.Name}}").stdout.split()
        assert sorted(shown) == ["ops-job-1", "ops-web-1"]
        sample = json.loads(compose("stats", "web", "--no-stream", "--format", "json").stdout)
        assert sample["Name"] == "ops-web-1" and sample["MemUsage"]

        assert compose("volumes", "-q").stdout.split() == ["ops_data"]
        assert compose("volumes", "-q", "job").stdout.split() == []
        assert "ops_data" in compose("volumes", "web").stdout

        out = compose("commit", "-m", "snapshot", "web", "ops-web:snap")
        assert "ops-web-1  Committed as sha256:" in out.stderr
        image = api(daemon, "GET", "/images/ops-web:snap/json")
        assert image["Comment"] == "snapshot"
        compose("export", "web", "-o", str(tmp_path / "web.tar"))
        import tarfile

        with tarfile.open(tmp_path / "web.tar") as archive:
            assert "bin/busybox" in archive.getnames()
        bad = compose("export", "--index", "2", "web", "-o", str(tmp_path / "none.tar"), check=False)
        assert bad.returncode == 1 and 'service "web" is not running container #2' in bad.stderr
        assert not (tmp_path / "none.tar").exists()

        # `wait` blocks on the job; `attach` feeds it a line; the job's status ends both, and
        # --down-project then removes the project.
        waiter = subprocess.Popen([str(BIN / "dockyard"), "compose", "--progress", "plain", "wait", "--down-project",
                                   "job"], cwd=app, env=compose.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        # `wait` lists the running containers, then waits on each in a thread of its own: once that
        # thread exists, the job may exit (the engine's wait answers at once for an exited container).

        assert until(lambda: len(os.listdir(f"/proc/{waiter.pid}/task")) > 1, timeout=60)
        attached = subprocess.run([str(BIN / "dockyard"), "compose", "attach", "job"], cwd=app, env=compose.env,
                                  input="ping\n", capture_output=True, text=True, timeout=60)
        assert attached.stdout == "got ping\n" and attached.returncode == 3
        out, err = waiter.communicate(timeout=120)
        job_id = out.split('"')[1]
        assert out == f'container "{job_id}" exited with status code 3\n' and waiter.returncode == 3, err
        assert project_containers(daemon, "ops") == [] and "ops-web-1  Removed" in err
        bad = compose("wait", "job", check=False)
        assert bad.returncode == 1 and 'no containers for project "ops"' in bad.stderr
    finally:
        compose("down", "-v", check=False)
        try:
            api(daemon, "DELETE", "/images/ops-web:snap")
        except Exception:  # noqa: BLE001 - the test may have ended before the commit
            pass


def test_up_attached_aborts_on_container_exit(daemon, tmp_path):
    """`up --abort-on-container-exit` prints every container's output, stops the project when the first
    container exits and exits with that container's code."""
    app = tmp_path / "abort"
    app.mkdir()
    (app / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          job:
            image: busybox
            command: ["sh", "-c", "sleep 1; echo job done; exit 3"]
          server:
            image: busybox
            init: true
            command: ["sh", "-c", "echo serving; sleep 600"]
    """))
    compose = Compose(daemon.host, app)
    try:
        out = compose("up", "--abort-on-container-exit", check=False)
        assert out.returncode == 3, out.stdout + out.stderr
        assert "job-1     | job done" in out.stdout, out.stdout
        assert "Aborting on container exit..." in out.stdout
        server = api(daemon, "GET", "/containers/abort-server-1/json")
        assert server["State"]["Running"] is False
    finally:
        compose("down", check=False)


def test_network_addresses_ipv6_and_link_local(daemon, tmp_path):
    """A service's fixed addresses on a compose network: IPv4 and IPv6 (a link-local IPv6 subnet, as
    docker-compose's own suite uses), link-local IPs and a MAC address per network."""
    from netstate import free_prefix

    prefix = free_prefix()
    subnet, address = f"{prefix}.0/24", f"{prefix}.10"
    app = tmp_path / "addr"
    app.mkdir()
    (app / "compose.yaml").write_text(textwrap.dedent(f"""\
        services:
          web:
            image: busybox
            init: true
            command: sleep 600
            networks:
              static:
                ipv4_address: {address}
                ipv6_address: fe80::1001:102
                link_local_ips: [169.254.8.8]
                mac_address: 02:42:ac:1f:fb:0a
        networks:
          static:
            enable_ipv6: true
            ipam:
              config:
                - subnet: {subnet}
                - subnet: fe80::/64
                  gateway: fe80::1001:1
    """))
    compose = Compose(daemon.host, app)
    try:
        compose("up", "-d")
        container = api(daemon, "GET", "/containers/addr-web-1/json")
        endpoint = container["NetworkSettings"]["Networks"]["addr_static"]
        assert endpoint["IPAMConfig"] == {"IPv4Address": address, "IPv6Address": "fe80::1001:102",
                                          "LinkLocalIPs": ["169.254.8.8"]}
        assert (endpoint["IPAddress"], endpoint["GlobalIPv6Address"], endpoint["MacAddress"]) == (
            address, "fe80::1001:102", "02:42:ac:1f:fb:0a")
        assert api(daemon, "GET", "/networks/addr_static")["EnableIPv6"] is True
        route = compose("exec", "-T", "web", "ip", "-6", "route", "show", "default").stdout
        assert "via fe80::1001:1 dev eth0" in route
    finally:
        compose("down", check=False)


def test_run_joins_every_network_of_its_service(daemon, tmp_path):
    """A one-off container is on all its service's networks (the first at create, the others
    connected before it starts) and finds its dependency by name; --rm removes only it."""
    app = tmp_path / "oneoff"
    app.mkdir()
    (app / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          web:
            image: busybox
            networks: [front, back]
            depends_on: [db]
          db:
            image: busybox
            init: true
            command: sleep 600
            networks: [back]
        networks:
          front:
          back:
    """))
    compose = Compose(daemon.host, app)
    try:
        out = compose("run", "--rm", "-T", "web", "sh", "-c",
                      "nslookup db >/dev/null && echo db-ok; ip -4 -o addr show | grep -c -v ' lo '").stdout
        assert out.split() == ["db-ok", "2"]
        assert names_of(project_containers(daemon, "oneoff")) == ["oneoff-db-1"]
    finally:
        compose("down", check=False)
