"""Swarm mode across `dockyard machine` hosts, driven by the real docker CLI with each machine's
`eval $(dockyard machine env NAME)` environment: join over mutual TLS, managers as etcd members
(leader, reachability, quorum), token rotation, leave.

Each machine is a network namespace with its own dockyardd and address on the module's underlay,
so the swarm port (2377) and the members' ports are the machines' own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import PrivateDaemon
from test_machines import Fleet, ok
from waiting import until

from dockyard.cluster.store.api import LOST_QUORUM

NAMES = ("s1", "s2", "s3")


@pytest.fixture(scope="module")
def fleet(busybox_tar):
    host = PrivateDaemon(busybox_tar).start()
    fleet = Fleet(host)
    try:
        with ThreadPoolExecutor(3) as pool:
            for result in pool.map(lambda name: fleet.machine("create", name), NAMES):
                ok(result)
        busybox = busybox_tar.read_bytes()
        for name in NAMES:
            ok(fleet.docker(name, "import", "-c", 'CMD ["sh"]', "-", "busybox:latest", input=busybox))
        yield fleet
    finally:  # rm ends every process of a machine, its etcd member too
        fleet.machine("rm", "-f", *fleet.machine("ls", "-q").stdout.decode().split())
        host.cleanup()


def swarm_info(fleet: Fleet, name: str) -> dict:
    return json.loads(ok(fleet.docker(name, "info", "--format", "{{json .Swarm}}")))


def node_rows(fleet: Fleet, name: str) -> dict[str, list[str]]:
    """`docker node ls` on a machine: hostname -> the row's fields after the ID (and `*`)."""
    rows = {}
    table = "{{.Self}} {{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}"
    for line in ok(fleet.docker(name, "node", "ls", "--format", table)).splitlines():
        fields = line.split()
        rows[fields[1]] = fields
    return rows


def test_a_worker_joins_with_the_docker_cli_and_leaves(fleet):
    manager_ip, worker_ip = fleet.ip("s1"), fleet.ip("s2")
    out = ok(fleet.docker("s1", "swarm", "init", "--advertise-addr", manager_ip))
    assert "docker swarm join --token SWMTKN-1-" in out and f"{manager_ip}:2377" in out
    token = ok(fleet.docker("s1", "swarm", "join-token", "-q", "worker")).strip()

    bad = fleet.docker("s2", "swarm", "join", "--token", "SWMTKN-1-nonsense", f"{manager_ip}:2377")
    assert bad.returncode != 0 and b"invalid join token" in bad.stderr
    forged = token[:-25] + "0" * 25  # the right CA, a secret the swarm never issued
    refused = fleet.docker("s2", "swarm", "join", "--token", forged, f"{manager_ip}:2377")
    assert refused.returncode != 0
    assert b"rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster" \
        in refused.stderr
    assert swarm_info(fleet, "s2")["LocalNodeState"] == "inactive"

    joined = ok(fleet.docker("s2", "swarm", "join", "--token", token, f"{manager_ip}:2377"))
    assert joined.strip() == "This node joined a swarm as a worker."
    again = fleet.docker("s2", "swarm", "join", "--token", token, f"{manager_ip}:2377")
    assert again.returncode != 0 and b"This node is already part of a swarm." in again.stderr

    info = swarm_info(fleet, "s2")
    assert (info["LocalNodeState"], info["ControlAvailable"], info["NodeAddr"]) == ("active", False, worker_ip)
    assert [m["Addr"] for m in info["RemoteManagers"]] == [f"{manager_ip}:2377"]
    denied = fleet.docker("s2", "node", "ls")
    assert denied.returncode != 0 and b"Worker nodes can't be used to view or modify cluster state" in denied.stderr

    rows = node_rows(fleet, "s1")
    assert rows["s1"][2:] == ["Ready", "Active", "Leader"] and rows["s1"][0] == "true"
    assert rows["s2"][2:] == ["Ready", "Active"] and rows["s2"][0] == "false"
    manager_info = swarm_info(fleet, "s1")
    assert (manager_info["Nodes"], manager_info["Managers"]) == (2, 1)
    worker_id = info["NodeID"]
    assert ok(fleet.docker("s1", "node", "inspect", "-f", "{{.Spec.Role}} {{.Status.Addr}}", worker_id)).split() \
        == ["worker", worker_ip]

    # The worker's certificate: CN its node ID, OU its role, signed by the swarm's root.
    path = os.path.join(fleet.storage, "machines", "s2", "data", "swarm", "certificates", "swarm-node.crt")
    cert = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", path], capture_output=True,
                          text=True, check=True).stdout
    assert f"CN = {worker_id}" in cert and "OU = swarm-worker" in cert

    # A rotated token is refused; the new one works.
    ok(fleet.docker("s2", "swarm", "leave"))
    assert swarm_info(fleet, "s2")["LocalNodeState"] == "inactive"
    ok(fleet.docker("s1", "swarm", "join-token", "--rotate", "worker"))
    stale = fleet.docker("s2", "swarm", "join", "--token", token, f"{manager_ip}:2377")
    assert stale.returncode != 0 and b"A valid join token is necessary" in stale.stderr
    fresh = ok(fleet.docker("s1", "swarm", "join-token", "-q", "worker")).strip()
    assert ok(fleet.docker("s2", "swarm", "join", "--token", fresh, manager_ip)).strip() \
        == "This node joined a swarm as a worker."
    ok(fleet.docker("s2", "swarm", "leave"))
    assert re.fullmatch(r"[0-9a-z]{25}", worker_id)
    # The nodes it left behind are listed until removed, as Docker's are.
    gone = ok(fleet.docker("s1", "node", "ls", "-q", "--filter", "role=worker")).split()
    assert len(gone) == 2 and worker_id in gone
    ok(fleet.docker("s1", "node", "rm", "--force", *gone))
    assert list(node_rows(fleet, "s1")) == ["s1"]


def leader_of(fleet: Fleet, name: str) -> str:
    """The Leader in `node ls` on a manager; "" while there is none (an election: no answer)."""
    try:
        rows = node_rows(fleet, name)
    except AssertionError:
        return ""
    leaders = [host for host, fields in rows.items() if fields[4:] == ["Leader"]]
    return leaders[0] if len(leaders) == 1 else ""


def start(fleet: Fleet, *names: str) -> None:
    with ThreadPoolExecutor(len(names)) as pool:
        for result in pool.map(lambda name: fleet.machine("start", name), names):
            ok(result)


def history_limit(fleet: Fleet, name: str) -> int:
    return swarm_info(fleet, name)["Cluster"]["Spec"]["Orchestration"]["TaskHistoryRetentionLimit"]


def write(fleet: Fleet, name: str, limit: int):
    """A change to the swarm's state through a manager: its task history limit."""
    return fleet.docker(name, "swarm", "update", "--task-history-limit", str(limit))


def test_three_managers_elect_a_leader_lose_quorum_and_heal(fleet):
    ips = {name: fleet.ip(name) for name in NAMES}
    token = ok(fleet.docker("s1", "swarm", "join-token", "-q", "manager")).strip()
    for name in ("s2", "s3"):
        joined = ok(fleet.docker(name, "swarm", "join", "--token", token, "--advertise-addr", ips[name],
                                 f"{ips['s1']}:2377"))
        assert joined.strip() == "This node joined a swarm as a manager."

    # Every manager sees the three, one Leader and two Reachable, itself marked.
    for name in NAMES:
        rows = node_rows(fleet, name)
        assert sorted(rows) == list(NAMES)
        assert sorted(fields[4] for fields in rows.values()) == ["Leader", "Reachable", "Reachable"]
        assert [host for host, fields in rows.items() if fields[0] == "true"] == [name]
        info = swarm_info(fleet, name)
        assert (info["ControlAvailable"], info["Nodes"], info["Managers"]) == (True, 3, 3)
        assert sorted(m["Addr"] for m in info["RemoteManagers"]) == sorted(f"{ip}:2377" for ip in ips.values())
    refusal = fleet.docker("s2", "swarm", "leave")
    assert refusal.returncode != 0 and b"participating as a manager. The only way to restore a swarm that has " \
        b"lost consensus is to reinitialize it with `--force-new-cluster`." in refusal.stderr

    # The leader goes (its machine killed): the other two elect one and keep accepting changes.
    first = leader_of(fleet, "s1")
    ok(fleet.machine("kill", first))
    survivors = [n for n in NAMES if n != first]
    assert until(lambda: leader_of(fleet, survivors[0]) in survivors, timeout=30)
    assert node_rows(fleet, survivors[0])[first][4] == "Unreachable"
    ok(write(fleet, survivors[0], 7))
    assert history_limit(fleet, survivors[1]) == 7

    # A second manager goes: no quorum, so changes are refused with Docker's words, and the
    # containers of the one left keep running (its engine is its own).
    ok(fleet.docker(survivors[1], "run", "-d", "--name", "keeps", "busybox", "sleep", "1000"))
    ok(fleet.machine("kill", survivors[0]))
    last = survivors[1]
    assert until(lambda: LOST_QUORUM.encode() in write(fleet, last, 8).stderr, timeout=30)
    assert ok(fleet.docker(last, "inspect", "-f", "{{.State.Running}}", "keeps")).strip() == "true"
    assert swarm_info(fleet, last)["Error"].endswith(LOST_QUORUM)

    # Both come back: the swarm heals, with the change made while one was away.
    start(fleet, first, survivors[0])
    assert until(lambda: write(fleet, last, 9).returncode == 0, timeout=60)
    for name in NAMES:
        assert until(lambda name=name: sorted(f[4] for f in node_rows(fleet, name).values())
                     == ["Leader", "Reachable", "Reachable"], timeout=30)
        assert history_limit(fleet, name) == 9
    ok(fleet.docker(last, "rm", "-f", "keeps"))


def test_demote_and_promote_move_the_store_membership(fleet):
    def managers(name: str) -> list[str]:
        return sorted(host for host, fields in node_rows(fleet, name).items() if len(fields) > 4)

    ok(fleet.docker("s1", "node", "demote", "s3"))
    # s3 leaves the store's membership by itself and goes on as a worker.
    assert until(lambda: swarm_info(fleet, "s3")["ControlAvailable"] is False, timeout=30)
    assert managers("s1") == ["s1", "s2"] and managers("s2") == ["s1", "s2"]
    assert swarm_info(fleet, "s1")["Managers"] == 2
    denied = fleet.docker("s3", "node", "ls")
    assert denied.returncode != 0 and b"Worker nodes can't be used" in denied.stderr
    ok(write(fleet, "s2", 13))  # two managers of two: the quorum holds

    ok(fleet.docker("s2", "node", "promote", "s3"))
    assert until(lambda: swarm_info(fleet, "s3")["ControlAvailable"] is True, timeout=45)
    for name in NAMES:
        assert until(lambda name=name: sorted(f[4] for f in node_rows(fleet, name).values() if len(f) > 4)
                     == ["Leader", "Reachable", "Reachable"], timeout=30)
    assert history_limit(fleet, "s3") == 13


@pytest.mark.skipif(os.environ.get("DOCKYARD_TEST_SWARM_LONG") != "1",
                    reason="the longer variant: `make test-swarm-long` (test_swarm.py covers --force-new-cluster)")
def test_force_new_cluster_on_a_survivor_recovers_the_swarm(fleet):
    ips = {name: fleet.ip(name) for name in NAMES}
    before = {fields[1]: line_id for line_id, fields in (
        (line.split()[0], line.split()) for line in ok(fleet.docker("s1", "node", "ls", "--format",
                                                                    "{{.ID}} {{.Hostname}}")).splitlines())}
    ok(write(fleet, "s1", 10))
    for name in ("s2", "s3"):
        ok(fleet.machine("kill", name))
    assert until(lambda: LOST_QUORUM.encode() in write(fleet, "s1", 11).stderr, timeout=30)

    # The book's recovery: a new one-manager swarm from the survivor's state.
    out = ok(fleet.docker("s1", "swarm", "init", "--force-new-cluster", "--advertise-addr", ips["s1"]))
    assert out.startswith(f"Swarm initialized: current node ({before['s1']}) is now a manager.")
    ok(write(fleet, "s1", 12))
    rows = node_rows(fleet, "s1")
    assert rows["s1"][4:] == ["Leader"] and rows["s2"][4:] == rows["s3"][4:] == ["Unreachable"]
    assert history_limit(fleet, "s1") == 12

    # The old managers come back to a swarm that no longer has them: they leave and join again.
    start(fleet, "s2", "s3")
    for name in ("s2", "s3"):
        ok(fleet.docker(name, "swarm", "leave", "--force"))
    token = ok(fleet.docker("s1", "swarm", "join-token", "-q", "manager")).strip()
    for name in ("s2", "s3"):
        assert ok(fleet.docker(name, "swarm", "join", "--token", token, "--advertise-addr", ips[name], ips["s1"])) \
            .strip() == "This node joined a swarm as a manager."
    # Their old nodes are demoted and removed, as Docker asks of nodes gone from the raft.
    ok(fleet.docker("s1", "node", "demote", before["s2"], before["s3"]))
    ok(fleet.docker("s1", "node", "rm", "--force", before["s2"], before["s3"]))
    for name in NAMES:
        assert until(lambda name=name: sorted(f[4] for f in node_rows(fleet, name).values())
                     == ["Leader", "Reachable", "Reachable"], timeout=30)
    assert history_limit(fleet, "s3") == 12
