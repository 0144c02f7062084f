"""Container records on disk: those an earlier version wrote still load, and Config/HostConfig read
back exactly as that version's inspect showed them."""

import json
from pathlib import Path

import pytest
from enginefakes import load_records, make_engine

from dockyard.engine.container import Container
from dockyard.engine.specs.containers import (
    ContainerConfig,
    HostConfig,
    RestartPolicy,
    config_json,
    host_config_json,
)

# Written by dockyardd at a73999e (before Config and HostConfig were typed): the record each
# `docker create` case left in config.v2.json, and `docker inspect`'s Config and HostConfig.
OLD = json.loads((Path(__file__).parent / "data" / "container-records-a73999e.json").read_text())


@pytest.mark.parametrize("case", sorted(OLD))
def test_an_old_record_loads_and_inspects_as_before(case):
    old = OLD[case]
    c = Container.from_record(old["record"])
    assert isinstance(c.config, ContainerConfig) and isinstance(c.host_config, HostConfig)
    assert config_json(c.config) == old["Config"]
    # Links: null where the old record had no key (network none, host or container:), as Docker shows it.
    assert host_config_json(c.host_config) == {"Links": None, **old["HostConfig"]}
    again = Container.from_record(json.loads(json.dumps(c.to_record())))
    assert again == c


def test_typed_fields_of_an_old_record():
    c = Container.from_record(OLD["lots"]["record"])
    assert c.host_config.restart_policy == RestartPolicy("on-failure", 3)
    assert c.host_config.log_config.config == {"max-size": "1m"}
    assert c.host_config.port_bindings["80/tcp"][0].host_port == "8080"
    assert c.host_config.ulimits[0].name == "nofile" and c.host_config.ulimits[0].hard == 200
    assert c.config.healthcheck.interval == 2_000_000_000 and c.config.stop_signal == "SIGQUIT"


def test_old_records_load_at_daemon_start(tmp_path):
    engine = make_engine(str(tmp_path))
    loaded = load_records(engine, *(OLD[case]["record"] for case in sorted(OLD)))
    assert [c.name for c in loaded] == [OLD[case]["record"]["name"] for case in sorted(OLD)]


def test_a_field_of_the_wrong_type_is_left_out_not_fatal():
    record = dict(OLD["plain"]["record"])
    record["host_config"] = {**record["host_config"], "Memory": "lots", "RestartPolicy": {"Name": "always"}}
    c = Container.from_record(record)
    assert c.host_config.memory is None and c.host_config.restart_policy.name == "always"
