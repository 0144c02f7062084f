"""Loading compose files: discovery, merging, names, environment, interpolation, extends, profiles,
include, schema errors; the config hash and the convergence plan. No daemon needed."""

import os
import textwrap

import pytest

from dockyard.client.engine import ContainerSummary
from dockyard.compose import convergence, graph, service
from dockyard.compose.config.environment import parse_env_text
from dockyard.compose.config.interpolation import interpolate
from dockyard.compose.config.loader import LoadOptions, load, normalise_project_name
from dockyard.compose.errors import ComposeError
from dockyard.compose.model import PortSpec, VolumeSpec, build_project


def write(path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


def project_of(tmp_path, text: str | None = None, **options):
    if text is not None:
        write(tmp_path / "compose.yaml", text)
    return build_project(load(LoadOptions(**options), cwd=str(tmp_path)))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "TAG", "PORT"):
        monkeypatch.delenv(name, raising=False)


ENV = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize("text, expected", [
    ("$SET", "value"), ("${SET}", "value"), ("x${SET}y", "xvaluey"), ("$$SET", "$SET"), ("a$$", "a$"),
    ("${UNSET:-dflt}", "dflt"), ("${EMPTY:-dflt}", "dflt"), ("${EMPTY-dflt}", ""), ("${UNSET-dflt}", "dflt"),
    ("${SET:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${EMPTY+alt}", "alt"), ("${UNSET+alt}", ""),
    ("${UNSET:-${SET}}", "value"), ("${UNSET}", ""), ("$UNSET-x", "-x"), ("${SET:?boom}", "value"),
])
def test_interpolation_forms(text, expected):
    assert interpolate(text, ENV) == expected


@pytest.mark.parametrize("text, message", [
    ("${UNSET:?must be set}", "required variable UNSET is missing a value: must be set"),
    ("${EMPTY:?}", "required variable EMPTY is missing a value"),
    ("${UNSET?gone}", "required variable UNSET is missing a value: gone"),
    ("${SET", "invalid interpolation format"), ("${}", "invalid interpolation format"),
    ("${SET!x}", "invalid interpolation format"), ("$-", "invalid interpolation format"),
])
def test_interpolation_errors(text, message):
    with pytest.raises(ComposeError, match=message.replace("$", r"\$")):
        interpolate(text, ENV, "services.web.image")


def test_env_file_syntax():
    text = "# comment\nexport A=1\nB='lit $A'\nC=\"q ${A}\\n\"\nD=plain # note\nE=${A}${B}\n\nF\n"
    values = parse_env_text(text, ".env", {"F": "from-shell"})
    assert values == {"A": "1", "B": "lit $A", "C": "q 1\n", "D": "plain", "E": "1lit $A", "F": "from-shell"}


def test_discovery_override_and_project_name(tmp_path):
    root = tmp_path / "My App.dir"
    write(root / "compose.yaml", "services:\n  web: {image: busybox, command: base}\n")
    write(root / "compose.override.yaml", "services:\n  web: {command: override}\n")
    (root / "sub").mkdir()
    project = build_project(load(LoadOptions(), cwd=str(root / "sub")))  # found in the parent
    assert project.name == "myappdir"
    assert project.services["web"].config["command"] == "override"
    assert project.config_files == [str(root / "compose.yaml"), str(root / "compose.override.yaml")]


def test_no_file_found(tmp_path):
    with pytest.raises(ComposeError, match="no configuration file provided"):
        load(LoadOptions(), cwd=str(tmp_path))


def test_missing_file_named(tmp_path):
    with pytest.raises(ComposeError, match=f"open {tmp_path}/nope.yaml: no such file"):
        load(LoadOptions(files=["nope.yaml"]), cwd=str(tmp_path))


def test_files_merge_in_order(tmp_path):
    write(tmp_path / "a.yaml", """
        services:
          web:
            image: busybox
            command: ["one"]
            environment: [A=1, B=2]
            ports: ["8080:80"]
            volumes: ["./data:/data", "logs:/logs"]
            labels: {x: "1"}
        volumes:
          logs: {}
    """)
    write(tmp_path / "b.yaml", """
        services:
          web:
            command: two
            environment: {B: "3", C: "4"}
            ports: ["9090:90"]
            volumes: ["./other:/data"]
            labels: [y=2]
    """)
    project = project_of(tmp_path, files=["a.yaml", "b.yaml"])
    web = project.services["web"].config
    assert web["command"] == "two"
    assert web["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert web["ports"] == ["8080:80", "9090:90"]
    assert web["volumes"] == [f"{tmp_path}/other:/data", "logs:/logs"]
    assert web["labels"] == {"x": "1", "y": "2"}


def test_project_name_sources(tmp_path, monkeypatch):
    write(tmp_path / "compose.yaml", "name: From-File\nservices:\n  web: {image: busybox}\n")
    assert project_of(tmp_path).name == "from-file"
    write(tmp_path / ".env", "COMPOSE_PROJECT_NAME=fromdotenv\n")
    assert project_of(tmp_path).name == "fromdotenv"
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "fromshell")
    assert project_of(tmp_path).name == "fromshell"
    assert project_of(tmp_path, project_name="explicit").name == "explicit"
    with pytest.raises(ComposeError, match='invalid project name "Bad Name"'):
        project_of(tmp_path, project_name="Bad Name")
    assert normalise_project_name("-My.App_1") == "myapp_1"


def test_project_directory_and_env_file(tmp_path):
    write(tmp_path / "files" / "compose.yaml", """
        services:
          web:
            image: "busybox:${TAG}"
            build: ./ctx
            volumes: ["./data:/data"]
    """)
    write(tmp_path / "proj" / ".env", "TAG=fromproject\n")
    write(tmp_path / "other.env", "TAG=fromenvfile\n")
    project = project_of(tmp_path, files=["files/compose.yaml"], project_directory=str(tmp_path / "proj"))
    web = project.services["web"]
    assert web.image == "busybox:fromproject"
    assert web.build["context"] == str(tmp_path / "proj" / "ctx")
    assert web.volumes[0].source == str(tmp_path / "proj" / "data")
    assert project.name == "proj"
    project = project_of(tmp_path, files=["files/compose.yaml"], env_files=["other.env"])
    assert project.services["web"].image == "busybox:fromenvfile"


def test_service_environment_and_env_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FROM_SHELL", "shell")
    write(tmp_path / "web.env", "A=file\nB=file\n")
    project = project_of(tmp_path, """
        services:
          web:
            image: busybox
            env_file: web.env
            environment:
              B: override
              FROM_SHELL:
              ABSENT:
    """)
    assert project.services["web"].config["environment"] == {"A": "file", "B": "override", "FROM_SHELL": "shell"}


def test_interpolation_error_names_file_and_key(tmp_path):
    with pytest.raises(ComposeError) as info:
        project_of(tmp_path, "services:\n  web:\n    image: \"busybox:${TAG:?set TAG}\"\n")
    assert str(info.value) == (f"{tmp_path}/compose.yaml: services.web.image: required variable TAG is missing a "
                               "value: set TAG")
    with pytest.raises(ComposeError, match="invalid interpolation format for services.web.command"):
        project_of(tmp_path, "services:\n  web:\n    image: busybox\n    command: echo ${oops\n")


def test_dollar_dollar_is_literal(tmp_path):
    project = project_of(tmp_path, "services:\n  web:\n    image: busybox\n    command: echo $$HOME\n")
    assert project.services["web"].config["command"] == "echo $HOME"


@pytest.mark.parametrize("text, message", [
    ("services:\n  web:\n    image: busybox\n    imagee: x\n",
     "compose.yaml: services.web additional properties 'imagee' not allowed"),
    ("services:\n  web:\n    image: busybox\n    ports: {a: 1}\n", "services.web.ports must be a array"),
    ("servicez: {}\n", "(root) additional properties 'servicez' not allowed"),
    ("services:\n  web:\n    image: busybox\n    depends_on:\n      db: {condition: sometimes}\n",
     "services.web.depends_on.db.condition must be one of the following"),
])
def test_schema_errors_name_file_and_key(tmp_path, text, message):
    with pytest.raises(ComposeError) as info:
        project_of(tmp_path, text)
    assert message in str(info.value)
    assert str(tmp_path / "compose.yaml") in str(info.value)


def test_legacy_version_accepted(tmp_path, capsys):
    project = project_of(tmp_path, "version: '3.8'\nservices:\n  web: {image: busybox}\n")
    assert list(project.services) == ["web"]
    assert "the attribute `version` is obsolete" in capsys.readouterr().err


def test_extends_same_file_and_other_file(tmp_path):
    write(tmp_path / "base" / "common.yaml", """
        services:
          base:
            image: busybox
            environment: {LEVEL: base, KEEP: "1"}
            volumes: ["./shared:/shared"]
            depends_on: [never]
          never: {image: busybox}
    """)
    project = project_of(tmp_path, """
        services:
          mid:
            extends: {file: base/common.yaml, service: base}
            environment: {LEVEL: mid}
          web:
            extends: mid
            command: run
    """)
    web = project.services["web"].config
    assert web["environment"] == {"LEVEL": "mid", "KEEP": "1"}
    assert web["volumes"] == [f"{tmp_path}/base/shared:/shared"]  # relative to the extended file
    assert web["command"] == "run"
    assert "depends_on" not in web  # never inherited


def test_extends_cycle(tmp_path):
    with pytest.raises(ComposeError, match="circular reference with extends"):
        project_of(tmp_path, "services:\n  a: {image: x, extends: b}\n  b: {image: x, extends: a}\n")


def test_profiles(tmp_path, monkeypatch):
    text = """
        services:
          web: {image: busybox}
          debug: {image: busybox, profiles: [dev]}
          tools: {image: busybox, profiles: [ops, dev]}
    """
    assert list(project_of(tmp_path, text).services) == ["web"]
    assert list(project_of(tmp_path, text, profiles=["dev"]).services) == ["web", "debug", "tools"]
    assert list(project_of(tmp_path, text, targets=["tools"]).services) == ["web", "tools"]
    monkeypatch.setenv("COMPOSE_PROFILES", "ops")
    assert list(project_of(tmp_path, text).services) == ["web", "tools"]


def test_dependency_on_disabled_profile(tmp_path):
    with pytest.raises(ComposeError, match='service "web" depends on undefined service "db"'):
        project_of(tmp_path, "services:\n  web: {image: x, depends_on: [db]}\n  db: {image: x, profiles: [p]}\n")


def test_include(tmp_path):
    write(tmp_path / "sub" / "compose.yaml", """
        services:
          db:
            image: "busybox:${DB_TAG}"
            volumes: ["./init:/init"]
        volumes:
          dbdata: {}
    """)
    write(tmp_path / "sub" / ".env", "DB_TAG=sub\n")
    project = project_of(tmp_path, """
        include:
          - sub/compose.yaml
        services:
          web: {image: busybox, depends_on: [db]}
    """)
    assert sorted(project.services) == ["db", "web"]
    assert project.services["db"].image == "busybox:sub"
    assert project.services["db"].volumes[0].source == str(tmp_path / "sub" / "init")
    assert "dbdata" in project.volumes


def test_include_conflict(tmp_path):
    write(tmp_path / "sub.yaml", "services:\n  web: {image: busybox}\n")
    with pytest.raises(ComposeError, match="services.web conflicts with imported resource"):
        project_of(tmp_path, "include: [sub.yaml]\nservices:\n  web: {image: busybox}\n")


def test_references_checked(tmp_path):
    with pytest.raises(ComposeError, match='service "web" refers to undefined network back'):
        project_of(tmp_path, "services:\n  web: {image: x, networks: [back]}\n")
    with pytest.raises(ComposeError, match='service "web" refers to undefined volume data'):
        project_of(tmp_path, "services:\n  web: {image: x, volumes: ['data:/d']}\n")
    with pytest.raises(ComposeError, match='service "web" has neither an image nor a build context'):
        project_of(tmp_path, "services:\n  web: {command: x}\n")


def test_cycle_detected(tmp_path):
    project = project_of(tmp_path, """
        services:
          a: {image: x, depends_on: [b]}
          b: {image: x, depends_on: {c: {condition: service_healthy}}}
          c: {image: x, links: [a]}
    """)
    with pytest.raises(ComposeError, match="dependency cycle detected: a -> b -> c -> a"):
        graph.check_cycles(project)


def test_names_and_networks(tmp_path):
    project = project_of(tmp_path, """
        name: shop
        services:
          web: {image: busybox, networks: [front, back]}
          db: {image: busybox, networks: {back: {aliases: [database], ipv4_address: 10.9.0.5}}}
          tool: {image: busybox}
          built: {build: .}
        networks:
          front: {}
          back: {name: custom-back}
          outside: {external: true}
        volumes:
          data: {}
          shared: {external: true, name: real-shared}
    """)
    assert project.networks["front"].name == "shop_front"
    assert project.networks["back"].name == "custom-back"
    assert project.networks["outside"].name == "outside"
    assert project.networks["default"].name == "shop_default"  # used by tool
    assert project.volumes["data"].name == "shop_data"
    assert project.volumes["shared"].name == "real-shared"
    assert project.services["built"].image == "shop-built"
    assert project.services["db"].networks["back"].aliases == ("database",)
    web = project.services["web"]
    assert service.container_name(project, web, 3) == "shop-web-3"


def test_ports_and_volumes_parse():
    assert PortSpec.parse("8080:80", "p") == [PortSpec(80, "8080")]
    assert PortSpec.parse("127.0.0.1:8080:80/udp", "p") == [PortSpec(80, "8080", "127.0.0.1", "udp")]
    assert PortSpec.parse(80, "p") == [PortSpec(80)]
    assert PortSpec.parse("9000-9001:80-81", "p") == [PortSpec(80, "9000"), PortSpec(81, "9001")]
    assert PortSpec.parse({"target": 80, "published": "8080", "protocol": "tcp"}, "p") == [PortSpec(80, "8080")]
    assert VolumeSpec.parse("data:/d:ro", "v") == VolumeSpec("volume", "/d", "data", True)
    assert VolumeSpec.parse("/tmp:/t", "v").type == "bind"
    assert VolumeSpec.parse("/anon", "v") == VolumeSpec("volume", "/anon")
    with pytest.raises(ComposeError, match="invalid port specification"):
        PortSpec.parse("x:y", "services.web.ports")


def test_config_hash_is_stable(tmp_path):
    a = project_of(tmp_path, "services:\n  web: {image: busybox, command: x, environment: {A: '1', B: '2'}}\n")
    b = project_of(tmp_path, "services:\n  web: {environment: [B=2, A=1], command: x, image: busybox}\n")
    c = project_of(tmp_path, "services:\n  web: {image: busybox, command: x, environment: {A: '1', B: '2'}, "
                             "scale: 3}\n")
    d = project_of(tmp_path, "services:\n  web: {image: busybox, command: y, environment: {A: '1', B: '2'}}\n")
    digest = service.config_hash(a.services["web"])
    assert digest == service.config_hash(b.services["web"]) == service.config_hash(c.services["web"])
    assert digest != service.config_hash(d.services["web"])


def _container(number: int, state: str, config_hash: str, image: str = "sha256:i") -> ContainerSummary:
    labels = {service.LABEL_NUMBER: str(number), service.LABEL_CONFIG_HASH: config_hash, service.LABEL_IMAGE: image}
    return ContainerSummary(f"id{number}", f"p-web-{number}", "busybox", image, "", 0, state, "", labels)


def test_convergence_plan(tmp_path):
    project = project_of(tmp_path, "services:\n  web: {image: busybox, scale: 3}\n")
    web = project.services["web"]
    digest = service.config_hash(web)
    existing = [_container(1, "running", digest), _container(2, "exited", digest), _container(4, "running", "old")]
    kinds = [(a.kind, a.number) for a in convergence.plan(web, existing, "sha256:i", convergence.Options())]
    assert kinds == [("noop", 1), ("start", 2), ("recreate", 4)]
    kinds = [(a.kind, a.number) for a in convergence.plan(web, existing[:1], "sha256:i", convergence.Options())]
    assert kinds == [("noop", 1), ("create", 2), ("create", 3)]
    kinds = [(a.kind, a.number) for a in convergence.plan(web, existing, "sha256:i", convergence.Options(scale=1))]
    assert kinds == [("noop", 1), ("remove", 4), ("remove", 2)]
    kinds = [a.kind for a in convergence.plan(web, existing, "sha256:new", convergence.Options(scale=1))]
    assert kinds == ["recreate", "remove", "remove"]  # the image changed
    kinds = [a.kind for a in convergence.plan(web, existing, "sha256:i", convergence.Options(no_recreate=True))]
    assert kinds == ["noop", "start", "noop"]


def test_run_graph_order():
    from dockyard.compose.parallel import run_graph

    order = []
    deps = {"web": {"api"}, "api": {"db", "cache"}, "db": set(), "cache": set()}
    run_graph(list(deps), deps, order.append)
    assert order.index("web") > order.index("api") > max(order.index("db"), order.index("cache"))
    order.clear()
    run_graph(list(deps), deps, order.append, reverse=True)
    assert order.index("web") < order.index("api") < min(order.index("db"), order.index("cache"))


def test_run_graph_stops_after_failure():
    from dockyard.compose.parallel import run_graph

    ran = []

    def operation(name):
        ran.append(name)
        if name == "db":
            raise ComposeError("db failed")

    with pytest.raises(ComposeError, match="db failed"):
        run_graph(["db", "web"], {"web": {"db"}, "db": set()}, operation)
    assert ran == ["db"]


def test_create_body(tmp_path):
    os.makedirs(tmp_path / "data")
    project = project_of(tmp_path, """
        name: app
        services:
          web:
            image: busybox
            command: echo "hello world"
            environment: {A: "1"}
            ports: ["127.0.0.1:5001:80"]
            expose: ["90"]
            volumes: ["./data:/data:ro", "cache:/cache", "/anon"]
            tmpfs: [/run]
            restart: on-failure:3
            healthcheck: {test: "true", interval: 1m30s, retries: 2}
            deploy: {resources: {limits: {memory: 64m, cpus: "0.5"}}}
            networks: {front: {aliases: [www]}}
            labels: {tier: front}
            init: true
            stop_grace_period: 3s
        networks:
          front: {}
        volumes:
          cache: {}
    """)
    web = project.services["web"]
    body = service.create_body(project, web, 1, image_id="sha256:x", previous_volumes={"/anon": "kept"},
                               network_name_of=lambda key: project.networks[key].name)
    assert body["Cmd"] == ["echo", "hello world"]
    assert body["Env"] == ["A=1"]
    assert body["ExposedPorts"] == {"80/tcp": {}, "90/tcp": {}}
    host = body["HostConfig"]
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "5001"}]}
    assert host["Binds"] == [f"{tmp_path}/data:/data:ro"]
    assert {"Type": "volume", "Source": "app_cache", "Target": "/cache", "ReadOnly": False} in host["Mounts"]
    assert {"Type": "volume", "Source": "kept", "Target": "/anon", "ReadOnly": False} in host["Mounts"]
    assert host["Tmpfs"] == {"/run": ""}
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["Memory"] == 64 << 20 and host["NanoCpus"] == 500_000_000 and host["Init"] is True
    assert host["NetworkMode"] == "app_front"
    assert body["NetworkingConfig"]["EndpointsConfig"]["app_front"]["Aliases"] == ["web", "www"]
    assert body["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90_000_000_000, "Retries": 2}
    assert body["StopTimeout"] == 3
    labels = body["Labels"]
    assert labels["tier"] == "front"
    assert labels[service.LABEL_PROJECT] == "app" and labels[service.LABEL_SERVICE] == "web"
    assert labels[service.LABEL_NUMBER] == "1" and labels[service.LABEL_ONEOFF] == "False"
    assert labels[service.LABEL_CONFIG_HASH] == service.config_hash(web)
    assert labels[service.LABEL_WORKING_DIR] == str(tmp_path)
    assert labels[service.LABEL_CONFIG_FILES] == str(tmp_path / "compose.yaml")
