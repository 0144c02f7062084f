"""`dockyard swarm ...` and `dockyard node ...` against a private dockyardd: docker/cli's output for
init, join-token, unlock-key, update, ca, unlock, and node ls, inspect --pretty, update, promote,
demote, rm, ps."""

from __future__ import annotations

import json
import re

import pytest
from conftest import PrivateDaemon
from swarm_helpers import free_port, ok, refused


@pytest.fixture
def node(busybox_tar):
    d = PrivateDaemon(busybox_tar).start()
    try:
        yield d
    finally:
        d.cli("swarm", "leave", "--force")
        d.cleanup()


def test_swarm_commands(node) -> None:
    d = node
    port = free_port()
    out = ok(d.cli("swarm", "init", "--autolock", "--listen-addr", f"127.0.0.1:{port}", "--advertise-addr",
                   "127.0.0.1", "--task-history-limit", "3", "--dispatcher-heartbeat", "2s"))
    me = re.match(r"Swarm initialized: current node \((\w+)\) is now a manager\.\n\n", out).group(1)
    worker = ok(d.cli("swarm", "join-token", "-q", "worker")).strip()
    assert f"    docker swarm join --token {worker} 127.0.0.1:{port}\n" in out
    key = re.search(r"\n    (SWMKEY-1-\S+)\n\nRemember to store this key", out).group(1)
    assert ok(d.cli("swarm", "unlock-key", "-q")).strip() == key
    spec = json.loads(ok(d.docker("info", "--format", "{{json .Swarm.Cluster.Spec}}")))
    assert spec["Orchestration"]["TaskHistoryRetentionLimit"] == 3
    assert spec["Dispatcher"]["HeartbeatPeriod"] == 2 * 10**9

    rotated = ok(d.cli("swarm", "join-token", "--rotate", "worker"))
    assert rotated.startswith("Successfully rotated worker join token.\n\nTo add a worker to this swarm, run")
    assert worker not in rotated
    assert ok(d.cli("swarm", "unlock-key", "--rotate")).startswith("Successfully rotated manager unlock key.\n")
    assert ok(d.cli("swarm", "update", "--cert-expiry", "48h")).strip() == "Swarm updated."
    assert "minimum certificate expiry time is: 1h0m0s" in refused(d.cli("swarm", "update", "--cert-expiry", "30m"))
    assert "Usage:  dockyard swarm update [OPTIONS]" in ok(d.cli("swarm", "update"))
    assert ok(d.cli("swarm", "update", "--autolock=false")).strip() == "Swarm updated."
    assert refused(d.cli("swarm", "unlock-key")).strip() == "no unlock key is set"
    assert refused(d.cli("swarm", "unlock-key", "--rotate")).strip() == (
        "cannot rotate because autolock is not turned on")
    assert refused(d.cli("swarm", "unlock", input=b"x\n")).strip() == "Error: swarm is not locked"
    assert "`--cert-expiry` flag requires the `--rotate` flag" in refused(d.cli("swarm", "ca", "--cert-expiry", "2h"))

    root = ok(d.cli("swarm", "ca")).strip()
    assert root.startswith("-----BEGIN CERTIFICATE-----") and root.endswith("-----END CERTIFICATE-----")
    progress = ok(d.cli("swarm", "ca", "--rotate"))
    new_root = ok(d.cli("swarm", "ca")).strip()
    assert new_root != root and progress.endswith(new_root + "\n")
    assert "rotated TLS certificates: 1/1 nodes" in progress

    again = ok(d.cli("swarm", "update", "--autolock=true"))
    assert again.startswith("Swarm updated.\nTo unlock a swarm manager after it restarts")
    key = re.search(r"SWMKEY-1-\S+", again).group(0)
    d.stop()
    d.start()
    assert "Swarm is encrypted and needs to be unlocked" in refused(d.cli("node", "ls"))
    ok(d.cli("swarm", "unlock", input=(key + "\n").encode()))
    assert ok(d.cli("node", "ls", "-q")).split() == [me]
    assert "Removing the last manager erases all current state" in refused(d.cli("swarm", "leave"))
    assert ok(d.cli("swarm", "leave", "--force")).strip() == "Node left the swarm."
    assert refused(d.cli("swarm", "unlock", input=b"x\n")).strip() == "Error: this node is not part of a swarm"


def test_node_commands(node) -> None:
    d = node
    out = ok(d.cli("swarm", "init", "--listen-addr", f"127.0.0.1:{free_port()}", "--advertise-addr", "127.0.0.1"))
    me = re.search(r"current node \((\w+)\)", out).group(1)
    # The same table as the docker CLI's, cell for cell.
    assert ok(d.cli("node", "ls")) == ok(d.docker("node", "ls"))
    row = ok(d.cli("node", "ls")).splitlines()[1].split()
    assert row[:2] == [me, "*"] and row[3:6] == ["Ready", "Active", "Leader"]
    assert json.loads(ok(d.cli("node", "ls", "--format", "{{json .}}"))) == json.loads(
        ok(d.docker("node", "ls", "--format", "{{json .}}")))
    assert ok(d.cli("node", "ls", "--filter", "role=worker", "-q")) == ""
    assert ok(d.cli("node", "inspect", "--pretty", "self")) == ok(d.docker("node", "inspect", "--pretty", "self"))
    assert json.loads(ok(d.cli("node", "inspect", me)))[0]["ID"] == me

    updated = ok(d.cli("node", "update", "--availability", "drain", "--label-add", "a=b", "--label-add", "c", me))
    assert updated.strip() == me
    pretty = ok(d.cli("node", "inspect", "--pretty", me))
    assert "Labels:\n - a=b\n - c\n" in pretty and " Availability:         \tDrain\n" in pretty
    assert refused(d.cli("node", "update", "--label-rm", "zzz", me)).strip() == "key zzz doesn't exist in node's labels"
    assert ok(d.cli("node", "promote", me)).strip() == f"Node {me} is already a manager."
    assert "attempting to demote the last manager of the swarm" in refused(d.cli("node", "demote", me))
    assert "must be demoted to worker before removal" in refused(d.cli("node", "rm", me))
    assert ok(d.cli("node", "ps")).split() == ["ID", "NAME", "IMAGE", "NODE", "DESIRED", "STATE", "CURRENT", "STATE",
                                               "ERROR", "PORTS"]
