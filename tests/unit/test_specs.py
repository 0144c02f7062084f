"""The typed request specs and their JSON codec: Go's decoding rules, Docker's words."""

import pytest

from dockyard.api.codec import from_json, to_json
from dockyard.engine.specs.containers import ContainerCreate, HostConfig
from dockyard.engine.specs.networks import NetworkCreate
from dockyard.errors import InvalidParameter
from dockyard.util.names import valid_name


def test_round_trip_keeps_what_was_set_and_drops_unknown_keys():
    body = {"Image": "busybox", "Cmd": ["sh", "-c", "true"], "Unknown": [1], "Env": None,
            "HostConfig": {"Memory": 1 << 30, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
                           "PortBindings": {"80/tcp": [{"HostIp": "::1", "HostPort": "8080"}, None]},
                           "Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024}}]},
            "NetworkingConfig": {"EndpointsConfig": {"net": {"Aliases": ["a"], "IPAMConfig": None}}}}
    spec = from_json(ContainerCreate, body)
    assert spec.host_config.restart_policy.maximum_retry_count == 3
    assert spec.host_config.mounts[0].tmpfs_options.size_bytes == 1024
    expected = {k: v for k, v in body.items() if k not in ("Unknown", "Env")}
    expected["NetworkingConfig"] = {"EndpointsConfig": {"net": {"Aliases": ["a"]}}}
    assert to_json(spec) == expected


@pytest.mark.parametrize("cls,body,message", [
    (HostConfig, {"Memory": True}, "cannot unmarshal bool into Go struct field HostConfig.Memory of type int64"),
    (HostConfig, {"Memory": 1.5}, "cannot unmarshal number 1.5 into Go struct field HostConfig.Memory of type int64"),
    (HostConfig, {"ShmSize": -1}, "must not be negative"),
    (HostConfig, {"Ulimits": [{"Name": "nofile", "Soft": "1"}]}, "HostConfig.Ulimits.Soft of type int64"),
    (HostConfig, {"ConsoleSize": [1]}, "two numbers"),
    (HostConfig, {"ConsoleSize": [-1, 2]}, "number -1 into Go struct field HostConfig.ConsoleSize of type uint"),
    (HostConfig, {"PortBindings": {"80/tcp": [{"HostPort": "9-8"}]}}, 'invalid port specification: "9-8"'),
    (HostConfig, {"Tmpfs": {"/t": 5}}, "HostConfig.Tmpfs of type string"),
    (HostConfig, [], "cannot unmarshal array into Go struct field HostConfig of type HostConfig"),
    (NetworkCreate, {"IPAM": {"Config": [{"IPRange": "x"}]}}, "invalid CIDR address: x"),
    (NetworkCreate, {"Labels": {"a": None, "b": 1}}, "NetworkCreate.Labels of type string"),
])
def test_wrong_types_and_values_are_refused(cls, body, message):
    with pytest.raises(InvalidParameter) as err:
        from_json(cls, body)
    assert message in str(err.value)


def test_names_follow_dockers_rule_to_the_last_character():
    assert valid_name("web-1.a_b") and valid_name("n", min_length=1)
    for bad in ("web\n", "a", "-web", "x" * 256, "we/b", ""):
        assert not valid_name(bad), bad


@pytest.mark.parametrize("text", ['{"label": [1]}', '{"label": {"a": "yes"}}', '{"label": "a"}', '[]', "{"])
def test_filters_decode_as_go_does(text):
    from dockyard.api.filters import Filters

    with pytest.raises(InvalidParameter):
        Filters.parse(text, {"label"})


def test_both_filter_shapes_are_accepted():
    from dockyard.api.filters import Filters

    assert Filters.parse('{"label": ["a=b"]}', {"label"}).get("label") == ["a=b"]
    assert Filters.parse('{"label": {"a=b": true, "c": false}}', {"label"}).get("label") == ["a=b"]


def test_keys_match_whatever_their_case_as_in_go():
    from dockyard.engine.specs.execs import ExecCreate

    assert from_json(ExecCreate, {"detachKeys": "ctrl-p", "cmd": ["ls"]}).detach_keys == "ctrl-p"
