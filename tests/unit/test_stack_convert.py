"""`stack deploy`'s conversion, with no daemon: compose files (through the compose loader) into
the networks, secrets, configs and ServiceSpecs docker/cli's cli/compose/convert makes; every
spec must decode as the daemon's ServiceSpec."""

from __future__ import annotations

import base64
import textwrap

import pytest

from dockyard.api.services import spec_from_json
from dockyard.cli.stack_convert import ConvertError, convert, ports
from dockyard.cli.stack_load import LoadError, load_stack

NS = "com.docker.stack.namespace"


def _files(tmp_path, **texts: str) -> list[str]:
    paths = []
    for name, text in texts.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(textwrap.dedent(text))
        paths.append(str(path))
    return paths


def _plan(tmp_path, stack: str = "ddd", **texts: str):
    plan = convert(load_stack(_files(tmp_path, **texts), stack), stack)
    for spec in plan.services.values():
        assert spec_from_json(spec).name == spec["Name"]  # the daemon's decoder takes it as it is
    return plan


BOOK = """
    version: "3.8"
    networks:
      counter-net:
        driver: overlay
        driver_opts:
          encrypted: 'yes'
    volumes:
      counter-vol:
    services:
      web-fe:
        image: counter-app:latest
        command: python app.py
        deploy:
          replicas: 4
          update_config:
            parallelism: 2
            delay: 10s
            failure_action: rollback
          placement:
            constraints:
              - 'node.role == worker'
          restart_policy:
            condition: on-failure
            delay: 5s
            max_attempts: 3
            window: 120s
        networks:
          - counter-net
        ports:
          - published: 5001
            target: 8080
        volumes:
          - type: volume
            source: counter-vol
            target: /app
      redis:
        image: "redis:alpine"
        networks:
          counter-net:
"""


def test_the_books_stack_file_becomes_docker_clis_specs(tmp_path) -> None:
    plan = _plan(tmp_path, compose=BOOK)
    assert list(plan.services) == ["web-fe", "redis"]  # the file's order
    assert plan.networks == {"ddd_counter-net": {
        "Name": "ddd_counter-net", "Driver": "overlay", "Labels": {NS: "ddd"}, "Options": {"encrypted": "yes"}}}
    web = plan.services["web-fe"]
    assert web["Name"] == "ddd_web-fe"
    assert web["Labels"] == {NS: "ddd", "com.docker.stack.image": "counter-app:latest"}
    assert web["Mode"] == {"Replicated": {"Replicas": 4}}
    assert web["UpdateConfig"] == {"Parallelism": 2, "Delay": 10_000_000_000, "FailureAction": "rollback"}
    assert "RollbackConfig" not in web
    assert web["EndpointSpec"] == {"Ports": [{"Protocol": "tcp", "TargetPort": 8080, "PublishedPort": 5001}]}
    task = web["TaskTemplate"]
    assert task["Placement"] == {"Constraints": ["node.role == worker"]}
    assert task["RestartPolicy"] == {"Condition": "on-failure", "Delay": 5_000_000_000, "MaxAttempts": 3,
                                     "Window": 120_000_000_000}
    assert task["Networks"] == [{"Target": "ddd_counter-net", "Aliases": ["web-fe"]}]
    container = task["ContainerSpec"]
    assert container["Image"] == "counter-app:latest" and container["Args"] == ["python", "app.py"]
    assert "Command" not in container and container["Labels"] == {NS: "ddd"}
    assert container["Mounts"] == [{"Type": "volume", "Target": "/app", "Source": "ddd_counter-vol",
                                    "VolumeOptions": {"Labels": {NS: "ddd"}}}]
    redis = plan.services["redis"]
    assert redis["Mode"] == {"Replicated": {}} and redis["EndpointSpec"] == {}
    assert redis["TaskTemplate"]["Networks"] == [{"Target": "ddd_counter-net", "Aliases": ["redis"]}]


def test_a_service_without_networks_joins_the_stacks_default_overlay(tmp_path) -> None:
    plan = _plan(tmp_path, "web", compose="""
        services:
          app:
            image: busybox
            ports: ["8080:80", "9000-9001:90-91/udp", "53"]
            deploy: {mode: global, endpoint_mode: DNSRR}
    """)
    assert plan.networks == {"web_default": {"Name": "web_default", "Driver": "overlay", "Labels": {NS: "web"}}}
    app = plan.services["app"]
    assert app["Mode"] == {"Global": {}}
    assert app["TaskTemplate"]["Networks"] == [{"Target": "web_default", "Aliases": ["app"]}]
    assert app["EndpointSpec"] == {"Mode": "dnsrr", "Ports": [
        {"Protocol": "tcp", "TargetPort": 53, "PublishMode": "ingress"},
        {"Protocol": "tcp", "TargetPort": 80, "PublishMode": "ingress", "PublishedPort": 8080},
        {"Protocol": "udp", "TargetPort": 90, "PublishMode": "ingress", "PublishedPort": 9000},
        {"Protocol": "udp", "TargetPort": 91, "PublishMode": "ingress", "PublishedPort": 9001}]}


def test_every_deploy_key_and_the_container_keys(tmp_path) -> None:
    plan = _plan(tmp_path, compose="""
        services:
          api:
            image: busybox:latest
            entrypoint: ["/bin/sh", "-c"]
            command: "echo 'hello world'"
            environment: {B: "2", A: "1"}
            labels: [tier=back]
            hostname: api-host
            working_dir: /srv
            user: "1000"
            stop_grace_period: 1m30s
            extra_hosts: ["db:10.0.0.5"]
            dns: [10.0.0.2]
            init: true
            read_only: true
            cap_add: [net_admin]
            cap_drop: [ALL]
            ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 64}
            healthcheck: {test: "wget -q localhost", interval: 5s, retries: 3, start_period: 1s}
            logging: {driver: json-file, options: {max-size: 1m}}
            deploy:
              mode: replicated
              replicas: 2
              labels: {owner: ops}
              resources:
                limits: {cpus: "0.5", memory: 50M, pids: 100}
                reservations: {cpus: '0.25', memory: 20M}
              placement:
                constraints: [node.role==manager]
                preferences: [{spread: node.labels.zone}]
                max_replicas_per_node: 1
              update_config: {delay: 1s, order: start-first, monitor: 2s, max_failure_ratio: 0.5}
              rollback_config: {parallelism: 0, failure_action: pause}
            ports:
              - {target: 80, published: 8080, mode: host, protocol: tcp}
            volumes:
              - /tmp:/host-tmp:ro
              - type: tmpfs
                target: /scratch
                tmpfs: {size: 1m}
              - /anonymous
    """)
    api = plan.services["api"]
    assert api["Labels"] == {"owner": "ops", NS: "ddd", "com.docker.stack.image": "busybox:latest"}
    c = api["TaskTemplate"]["ContainerSpec"]
    assert c["Command"] == ["/bin/sh", "-c"] and c["Args"] == ["echo", "hello world"]
    assert c["Env"] == ["A=1", "B=2"] and c["Labels"] == {"tier": "back", NS: "ddd"}
    assert (c["Hostname"], c["Dir"], c["User"]) == ("api-host", "/srv", "1000")
    assert c["StopGracePeriod"] == 90_000_000_000 and c["Hosts"] == ["10.0.0.5 db"]
    assert c["DNSConfig"] == {"Nameservers": ["10.0.0.2"]} and c["Init"] is True and c["ReadOnly"] is True
    assert c["CapabilityAdd"] == ["CAP_NET_ADMIN"] and c["CapabilityDrop"] == ["ALL"]
    assert c["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"Name": "nproc", "Soft": 64, "Hard": 64}]
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 5_000_000_000,
                                "StartPeriod": 1_000_000_000, "Retries": 3}
    assert c["Mounts"] == [{"Type": "bind", "Target": "/host-tmp", "Source": "/tmp", "ReadOnly": True},
                           {"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 1024 * 1024}},
                           {"Type": "volume", "Target": "/anonymous"}]
    task = api["TaskTemplate"]
    assert task["LogDriver"] == {"Name": "json-file", "Options": {"max-size": "1m"}}
    assert task["Resources"] == {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 50 * 1024 * 1024, "Pids": 100},
                                 "Reservations": {"NanoCPUs": 250_000_000, "MemoryBytes": 20 * 1024 * 1024}}
    assert task["Placement"] == {"Constraints": ["node.role==manager"], "MaxReplicas": 1,
                                 "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]}
    assert api["UpdateConfig"] == {"Parallelism": 1, "Delay": 1_000_000_000, "Monitor": 2_000_000_000,
                                   "MaxFailureRatio": 0.5, "Order": "start-first"}
    assert api["RollbackConfig"] == {"Parallelism": 0, "FailureAction": "pause"}
    assert api["EndpointSpec"]["Ports"] == [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080,
                                             "PublishMode": "host"}]


def test_secrets_and_configs_from_files_are_the_stacks_and_external_ones_keep_their_names(tmp_path) -> None:
    (tmp_path / "token.txt").write_text("s3cret")
    (tmp_path / "app.conf").write_text("debug=1\n")
    plan = _plan(tmp_path, compose="""
        services:
          app:
            image: busybox
            secrets: [token, {source: shared, target: other, mode: 0400, uid: "1000"}]
            configs: [{source: conf, target: /etc/app.conf}]
            networks: [outside]
            volumes: ["data:/data:nocopy", "keep:/keep"]
        secrets:
          token: {file: ./token.txt, labels: {kind: api}}
          shared: {external: true}
        configs:
          conf: {file: ./app.conf, name: app-conf-v1}
        networks:
          outside: {external: true, name: public}
        volumes:
          data: {driver: local, driver_opts: {type: tmpfs}}
          keep: {external: true}
    """)
    assert plan.secrets == [{"Name": "ddd_token", "Labels": {"kind": "api", NS: "ddd"},
                             "Data": base64.b64encode(b"s3cret").decode()}]
    assert plan.configs == [{"Name": "app-conf-v1", "Labels": {NS: "ddd"},
                             "Data": base64.b64encode(b"debug=1\n").decode()}]
    assert plan.networks == {} and plan.external_networks == ["public"]
    c = plan.services["app"]["TaskTemplate"]["ContainerSpec"]
    assert c["Secrets"] == [
        {"File": {"Name": "token", "UID": "0", "GID": "0", "Mode": 0o444}, "SecretName": "ddd_token"},
        {"File": {"Name": "other", "UID": "1000", "GID": "0", "Mode": 0o400}, "SecretName": "shared"}]
    assert c["Configs"] == [{"File": {"Name": "/etc/app.conf", "UID": "0", "GID": "0", "Mode": 0o444},
                             "ConfigName": "app-conf-v1"}]
    assert c["Mounts"] == [
        {"Type": "volume", "Target": "/data", "Source": "ddd_data", "VolumeOptions": {
            "NoCopy": True, "Labels": {NS: "ddd"}, "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs"}}}},
        {"Type": "volume", "Target": "/keep", "Source": "keep", "VolumeOptions": {}}]
    assert plan.services["app"]["TaskTemplate"]["Networks"] == [{"Target": "public", "Aliases": ["app"]}]


def test_files_merge_in_order_with_interpolation_and_extends(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TAG", "1.2")
    plan = _plan(tmp_path, base="""
        services:
          common:
            image: busybox
            environment: [LEVEL=info]
          web:
            extends: common
            image: "web:${TAG}"
            deploy: {replicas: 1}
    """, override="""
        services:
          web:
            deploy: {replicas: "${REPLICAS:-3}"}
    """)
    web = plan.services["web"]
    assert web["TaskTemplate"]["ContainerSpec"]["Image"] == "web:1.2"
    assert web["TaskTemplate"]["ContainerSpec"]["Env"] == ["LEVEL=info"]
    assert web["Mode"] == {"Replicated": {"Replicas": 3}}


def test_unsupported_keys_are_ignored_with_docker_clis_warning_and_restart_is_the_fallback(tmp_path, capsys) -> None:
    plan = _plan(tmp_path, compose="""
        services:
          app:
            image: busybox
            build: .
            restart: on-failure:2
            links: [db]
            container_name: fixed
          db:
            image: busybox
            restart: always
    """)
    err = capsys.readouterr().err
    assert "Ignoring unsupported options: build, links, restart\n\n" in err
    assert "Ignoring deprecated options:\n\ncontainer_name: Setting the container name is not supported.\n\n" in err
    assert plan.services["app"]["TaskTemplate"]["RestartPolicy"] == {"Condition": "on-failure", "MaxAttempts": 2}
    assert plan.services["db"]["TaskTemplate"]["RestartPolicy"] == {"Condition": "any"}


def test_what_a_stack_cannot_be(tmp_path) -> None:
    with pytest.raises(LoadError, match=r"compose file contains unsupported options:\n\nmem_limit: Set resource "
                                        "limits using deploy.resources\n"):
        load_stack(_files(tmp_path, a="services: {app: {image: busybox, mem_limit: 10m}}"), "s")
    with pytest.raises(LoadError, match="invalid image reference for service app: no image specified"):
        load_stack(_files(tmp_path, b="services: {app: {build: .}}"), "s")
    with pytest.raises(LoadError, match=r"specify a Compose file \(with --compose-file\)"):
        load_stack([], "s")
    document = load_stack(_files(tmp_path, c="services: {app: {image: busybox, deploy: {mode: global, replicas: 2}}}"),
                          "s")
    with pytest.raises(ConvertError, match="service app: replicas can only be used with replicated or "
                                           "replicated-job mode"):
        convert(document, "s")
    with pytest.raises(ConvertError, match="invalid port specification"):
        ports("80:http")
