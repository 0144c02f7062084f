"""Nodes of a one-node swarm through the real docker CLI and docker-py: update on a version, the
last manager's refusals, filters, node ps. etcd runs on loopback ports of the test's own."""

from __future__ import annotations

import json
import re

import docker
import pytest
from conftest import PrivateDaemon
from swarm_helpers import free_port, ok, refused


@pytest.fixture
def swarm_node(busybox_tar):
    """A daemon of the test's own in a one-node swarm; the member stops with the swarm it served."""
    d = PrivateDaemon(busybox_tar).start()
    try:
        out = ok(d.docker("swarm", "init", "--listen-addr", f"127.0.0.1:{free_port()}", "--advertise-addr",
                           "127.0.0.1"))
        d.node_id = re.search(r"current node \((\w+)\) is now a manager", out).group(1)
        yield d
    finally:
        d.docker("swarm", "leave", "--force")
        d.cleanup()


def test_node_update_demote_rm_and_filters_with_the_docker_cli(swarm_node) -> None:
    d, me = swarm_node, swarm_node.node_id
    assert ok(d.docker("node", "update", "--availability", "drain", "--label-add", "disk=ssd", "--label-add", "rack",
                        me)).strip() == me
    node = json.loads(ok(d.docker("node", "inspect", me)))[0]
    assert node["Spec"] == {"Labels": {"disk": "ssd", "rack": ""}, "Role": "manager", "Availability": "drain"}
    row = ok(d.docker("node", "ls")).splitlines()[1].split()
    assert row[:2] == [me, "*"] and row[3:6] == ["Ready", "Drain", "Leader"]
    assert ok(d.docker("node", "update", "--label-rm", "rack", "--availability", "active", me)).strip() == me
    assert json.loads(ok(d.docker("node", "inspect", "--format", "{{json .Spec}}", me))) == {
        "Labels": {"disk": "ssd"}, "Role": "manager", "Availability": "active"}

    assert "attempting to demote the last manager of the swarm" in refused(d.docker("node", "demote", me))
    assert ok(d.docker("node", "promote", me)).strip() == f"Node {me} is already a manager."
    for args in (("node", "rm", me), ("node", "rm", "--force", me)):
        assert (f"rpc error: code = FailedPrecondition desc = node {me} is a cluster manager and is a member of the "
                "raft cluster. It must be demoted to worker before removal") in refused(d.docker(*args))
    assert "node nosuch not found" in refused(d.docker("node", "rm", "nosuch"))

    assert ok(d.docker("node", "ls", "-q", "--filter", "node.label=disk=ssd")).split() == [me]
    assert ok(d.docker("node", "ls", "-q", "--filter", "node.label=disk=hdd")).split() == []
    assert ok(d.docker("node", "ls", "-q", "--filter", "role=manager", "--filter", f"id={me[:6]}")).split() == [me]
    assert ok(d.docker("node", "ls", "-q", "--filter", "role=worker")).split() == []
    assert "Invalid role filter: 'boss'" in refused(d.docker("node", "ls", "--filter", "role=boss"))
    assert "invalid filter 'colour'" in refused(d.docker("node", "ls", "--filter", "colour=red"))


def test_node_update_out_of_sequence_with_docker_py(swarm_node) -> None:
    client = docker.APIClient(base_url=swarm_node.host)
    node = client.inspect_node(swarm_node.node_id)
    spec = dict(node["Spec"], Labels={"new.label": "new value"})
    client.update_node(swarm_node.node_id, node["Version"]["Index"], spec)
    updated = client.inspect_node(swarm_node.node_id)
    assert updated["Spec"] == spec and updated["Version"]["Index"] > node["Version"]["Index"]
    with pytest.raises(docker.errors.APIError) as stale:
        client.update_node(swarm_node.node_id, node["Version"]["Index"], node["Spec"])
    # Docker 20.10 passes swarmkit's error through: its gRPC text, status 500.
    assert stale.value.response.status_code == 500
    assert stale.value.explanation == "rpc error: code = Unknown desc = update out of sequence"
    assert client.inspect_node(swarm_node.node_id)["Spec"] == spec
    with pytest.raises(docker.errors.APIError, match='invalid Role: "boss"'):
        client.update_node(swarm_node.node_id, updated["Version"]["Index"], dict(spec, Role="boss"))
