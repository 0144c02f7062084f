"""Swarm mode on one node, through the real docker CLI and docker-py: init, tokens, nodes, info,
a daemon restart (the etcd member comes back), leave. etcd runs on loopback ports of the test's own."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import docker
import pytest

from dockyard.cluster.store.member import _is_etcd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def _etcd_pid(daemon) -> int:
    return int((Path(daemon.data_root) / "swarm" / "etcd.pid").read_text())


@pytest.fixture
def swarm_daemon(fresh_daemon):
    yield fresh_daemon
    fresh_daemon.docker("swarm", "leave", "--force")  # the member stops with the swarm it served


def test_single_node_swarm_lifecycle_with_the_docker_cli(swarm_daemon) -> None:
    d = swarm_daemon
    info = json.loads(_ok(d.docker("info", "--format", "{{json .Swarm}}")))
    assert info["LocalNodeState"] == "inactive"
    refused = d.docker("node", "ls")
    assert refused.returncode != 0 and b"This node is not a swarm manager." in refused.stderr

    port = _free_port()
    bad_port = d.docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--data-path-port", "80")
    assert bad_port.returncode != 0 and bad_port.stderr.decode().strip() == \
        "Error response from daemon: Datapath port number is not in valid range (1024-49151) : 80"
    out = _ok(d.docker("swarm", "init", "--listen-addr", f"127.0.0.1:{port}", "--advertise-addr", "127.0.0.1",
                       "--task-history-limit", "7"))
    node_id = re.search(r"current node \((\w+)\) is now a manager", out).group(1)
    assert "docker swarm join --token SWMTKN-1-" in out and f"127.0.0.1:{port}" in out
    again = d.docker("swarm", "init", "--listen-addr", f"127.0.0.1:{_free_port()}")
    assert again.returncode != 0 and b"This node is already part of a swarm." in again.stderr

    worker = _ok(d.docker("swarm", "join-token", "-q", "worker")).strip()
    manager = _ok(d.docker("swarm", "join-token", "-q", "manager")).strip()
    assert re.fullmatch(r"SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}", worker)
    assert worker[:60] == manager[:60] and worker != manager

    rows = _ok(d.docker("node", "ls")).splitlines()
    assert rows[0].split() == ["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER", "STATUS", "ENGINE", "VERSION"]
    assert len(rows) == 2
    self_row = rows[1].split()
    assert self_row[:2] == [node_id, "*"] and self_row[3:6] == ["Ready", "Active", "Leader"]

    info = json.loads(_ok(d.docker("info", "--format", "{{json .Swarm}}")))
    assert (info["NodeID"], info["NodeAddr"], info["LocalNodeState"]) == (node_id, "127.0.0.1", "active")
    assert info["ControlAvailable"] is True and (info["Nodes"], info["Managers"]) == (1, 1)
    assert info["RemoteManagers"] == [{"NodeID": node_id, "Addr": f"127.0.0.1:{port}"}]
    assert info["Cluster"]["Spec"]["Orchestration"]["TaskHistoryRetentionLimit"] == 7

    rotated = _ok(d.docker("swarm", "join-token", "-q", "--rotate", "worker")).strip()
    assert rotated != worker and _ok(d.docker("swarm", "join-token", "-q", "worker")).strip() == rotated
    assert _ok(d.docker("swarm", "join-token", "-q", "manager")).strip() == manager

    # A restarted daemon brings its etcd member back with the swarm's state.
    first_member = _etcd_pid(d)
    d.stop()
    assert not _is_etcd(first_member)
    d.start()
    assert _etcd_pid(d) != first_member
    assert _ok(d.docker("node", "ls", "-q")).split() == [node_id]
    assert _ok(d.docker("swarm", "join-token", "-q", "worker")).strip() == rotated

    last = d.docker("swarm", "leave")
    assert last.returncode != 0 and b"Removing the last manager erases all current state of the swarm" in last.stderr
    member = _etcd_pid(d)
    assert _ok(d.docker("swarm", "leave", "--force")).strip() == "Node left the swarm."
    assert not _is_etcd(member)
    assert not (Path(d.data_root) / "swarm" / "etcd").exists()
    assert json.loads(_ok(d.docker("info", "--format", "{{json .Swarm}}")))["LocalNodeState"] == "inactive"
    gone = d.docker("swarm", "leave")
    assert gone.returncode != 0 and b"This node is not part of a swarm" in gone.stderr


def test_swarm_with_docker_py(swarm_daemon) -> None:
    client = docker.DockerClient(base_url=swarm_daemon.host)
    port = _free_port()
    node_id = client.swarm.init(advertise_addr="127.0.0.1", listen_addr=f"127.0.0.1:{port}",
                                dispatcher_heartbeat_period=10_000_000_000)
    client.swarm.reload()
    attrs = client.swarm.attrs
    assert attrs["Spec"]["Dispatcher"]["HeartbeatPeriod"] == 10_000_000_000
    assert attrs["Spec"]["CAConfig"]["NodeCertExpiry"] == 90 * 24 * 3600 * 10**9
    assert (attrs["DefaultAddrPool"], attrs["SubnetSize"], attrs["DataPathPort"]) == (["10.0.0.0/8"], 24, 4789)
    assert attrs["RootRotationInProgress"] is False and "BEGIN CERTIFICATE" in attrs["TLSInfo"]["TrustRoot"]
    version = attrs["Version"]["Index"]
    client.swarm.update(task_history_retention_limit=3)
    client.swarm.reload()
    assert client.swarm.attrs["Spec"]["Orchestration"]["TaskHistoryRetentionLimit"] == 3
    assert client.swarm.attrs["Version"]["Index"] > version
    with pytest.raises(docker.errors.APIError, match="update out of sequence"):
        client.api.update_swarm(version=version, swarm_spec={"Name": "default"})
    nodes = client.nodes.list()
    assert [n.id for n in nodes] == [node_id]
    node = client.nodes.get(node_id)
    assert node.attrs["Spec"]["Role"] == "manager" and node.attrs["ManagerStatus"]["Leader"] is True
    assert node.attrs["Description"]["Engine"]["EngineVersion"]
    with pytest.raises(docker.errors.NotFound):
        client.nodes.get("nosuchnode")
    assert client.swarm.leave(force=True) is True
    assert not os.path.exists(os.path.join(swarm_daemon.data_root, "swarm", "etcd.pid"))


def test_backup_and_restore_as_the_book_does(swarm_daemon) -> None:
    """Docker Deep Dive ch.10: archive <data-root>/swarm with the daemon stopped; after an unwanted
    change, stop, replace the directory with the archive, start and `swarm init --force-new-cluster`."""
    d = swarm_daemon
    port = _free_port()
    out = _ok(d.docker("swarm", "init", "--listen-addr", f"127.0.0.1:{port}", "--advertise-addr", "127.0.0.1"))
    node_id = re.search(r"current node \((\w+)\) is now a manager", out).group(1)
    _ok(d.docker("swarm", "update", "--task-history-limit", "3"))
    token = _ok(d.docker("swarm", "join-token", "-q", "worker")).strip()
    swarm_dir = Path(d.data_root) / "swarm"

    d.stop()
    backup = Path(d.dir) / "swarm.bkp"
    subprocess.run(["tar", "-czf", str(backup), "-C", d.data_root, "swarm"], check=True)
    d.start()
    assert {"certificates", "etcd", "state.json"} <= {p.name for p in swarm_dir.iterdir()}

    # The change the backup is for: replicated to every manager, so only a backup undoes it.
    _ok(d.docker("swarm", "update", "--task-history-limit", "9"))
    _ok(d.docker("swarm", "join-token", "--rotate", "worker"))

    d.stop()
    shutil.rmtree(swarm_dir)
    subprocess.run(["tar", "-xzf", str(backup), "-C", d.data_root], check=True)
    d.start()
    out = _ok(d.docker("swarm", "init", "--force-new-cluster", "--listen-addr", f"127.0.0.1:{port}",
                       "--advertise-addr", "127.0.0.1"))
    assert out.startswith(f"Swarm initialized: current node ({node_id}) is now a manager.")
    info = json.loads(_ok(d.docker("info", "--format", "{{json .Swarm}}")))
    assert info["Cluster"]["Spec"]["Orchestration"]["TaskHistoryRetentionLimit"] == 3
    assert _ok(d.docker("swarm", "join-token", "-q", "worker")).strip() == token
    rows = _ok(d.docker("node", "ls", "--format", "{{.ID}} {{.ManagerStatus}}")).split()
    assert rows == [node_id, "Leader"]
    # Writes go on in the restored swarm.
    _ok(d.docker("swarm", "update", "--task-history-limit", "4"))
