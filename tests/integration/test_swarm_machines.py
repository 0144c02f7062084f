"""Swarm mode across `dockyard machine` hosts as *Docker Deep Dive* ch.10 builds it, three managers
and three workers, driven by the real docker CLI with each machine's `eval $(dockyard machine env
NAME)` environment: join over mutual TLS, managers as etcd members (leader, reachability, quorum),
autolock across managers and their restarts, token and certificate rotation with workers, demote
and promote (also of a manager that is down), leave and rm.

Each machine is a network namespace with its own dockyardd and address on the module's underlay,
so the swarm port (2377) and the members' ports are the machines' own. The six are made at once
and shared by the tests, which run in order, each starting from the swarm the one before left.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import PrivateDaemon
from swarm_helpers import refused
from test_machines import Fleet, ok
from waiting import until

from dockyard.cluster.store.api import LOST_QUORUM
from dockyard.cluster.tokens import ca_digest, ca_digest_from_token

LOCKED = "Swarm is encrypted and needs to be unlocked before it can be used."

NAMES = ("s1", "s2", "s3")  # the managers
WORKERS = ("w1", "w2", "w3")
ENCRYPTED_KEY = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


@pytest.fixture(scope="module")
def fleet(busybox_tar):
    host = PrivateDaemon(busybox_tar).start()
    fleet = Fleet(host)
    try:
        with ThreadPoolExecutor(6) as pool:
            for result in pool.map(lambda name: fleet.machine("create", name), NAMES + WORKERS):
                ok(result)
        busybox = busybox_tar.read_bytes()
        with ThreadPoolExecutor(6) as pool:
            for result in pool.map(lambda name: fleet.docker(name, "import", "-c", 'CMD ["sh"]', "-",
                                                             "busybox:latest", input=busybox), NAMES + WORKERS):
                ok(result)
        yield fleet
    finally:  # rm ends every process of a machine, its etcd member too
        fleet.machine("rm", "-f", *fleet.machine("ls", "-q").stdout.decode().split())
        host.cleanup()


def certificate(fleet: Fleet, name: str, file: str = "swarm-node.crt") -> str:
    return os.path.join(fleet.storage, "machines", name, "data", "swarm", "certificates", file)


def node_key(fleet: Fleet, name: str) -> bytes:
    with open(certificate(fleet, name, "swarm-node.key"), "rb") as f:
        return f.read()


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
    manager_ip, worker_ip = fleet.ip("s1"), fleet.ip("w1")
    out = ok(fleet.docker("s1", "swarm", "init", "--autolock", "--advertise-addr", manager_ip))
    assert "docker swarm join --token SWMTKN-1-" in out and f"{manager_ip}:2377" in out
    assert "To unlock a swarm manager after it restarts" in out
    token = ok(fleet.docker("s1", "swarm", "join-token", "-q", "worker")).strip()

    bad = fleet.docker("w1", "swarm", "join", "--token", "SWMTKN-1-nonsense", f"{manager_ip}:2377")
    assert bad.returncode != 0 and b"invalid join token" in bad.stderr
    forged = token[:-25] + "0" * 25  # the right CA, a secret the swarm never issued
    refused = fleet.docker("w1", "swarm", "join", "--token", forged, f"{manager_ip}:2377")
    assert refused.returncode != 0
    assert b"rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster" \
        in refused.stderr
    assert swarm_info(fleet, "w1")["LocalNodeState"] == "inactive"

    joined = ok(fleet.docker("w1", "swarm", "join", "--token", token, f"{manager_ip}:2377"))
    assert joined.strip() == "This node joined a swarm as a worker."
    again = fleet.docker("w1", "swarm", "join", "--token", token, f"{manager_ip}:2377")
    assert again.returncode != 0 and b"This node is already part of a swarm." in again.stderr

    info = swarm_info(fleet, "w1")
    assert (info["LocalNodeState"], info["ControlAvailable"], info["NodeAddr"]) == ("active", False, worker_ip)
    assert [m["Addr"] for m in info["RemoteManagers"]] == [f"{manager_ip}:2377"]
    denied = fleet.docker("w1", "node", "ls")
    assert denied.returncode != 0 and b"Worker nodes can't be used to view or modify cluster state" in denied.stderr

    rows = node_rows(fleet, "s1")
    assert rows["s1"][2:] == ["Ready", "Active", "Leader"] and rows["s1"][0] == "true"
    assert rows["w1"][2:] == ["Ready", "Active"] and rows["w1"][0] == "false"
    manager_info = swarm_info(fleet, "s1")
    assert (manager_info["Nodes"], manager_info["Managers"]) == (2, 1)
    worker_id = info["NodeID"]
    assert ok(fleet.docker("s1", "node", "inspect", "-f", "{{.Spec.Role}} {{.Status.Addr}}", worker_id)).split() \
        == ["worker", worker_ip]

    # The worker's certificate: CN its node ID, OU its role, signed by the swarm's root.
    path = certificate(fleet, "w1")
    cert = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", path], capture_output=True,
                          text=True, check=True).stdout
    assert f"CN = {worker_id}" in cert and "OU = swarm-worker" in cert
    # Autolock locks managers' keys, not workers'.
    assert not node_key(fleet, "w1").startswith(ENCRYPTED_KEY) and node_key(fleet, "s1").startswith(ENCRYPTED_KEY)

    # A rotated token is refused; the new one works.
    ok(fleet.docker("w1", "swarm", "leave"))
    assert swarm_info(fleet, "w1")["LocalNodeState"] == "inactive"
    ok(fleet.docker("s1", "swarm", "join-token", "--rotate", "worker"))
    stale = fleet.docker("w1", "swarm", "join", "--token", token, f"{manager_ip}:2377")
    assert stale.returncode != 0 and b"A valid join token is necessary" in stale.stderr
    fresh = ok(fleet.docker("s1", "swarm", "join-token", "-q", "worker")).strip()
    assert ok(fleet.docker("w1", "swarm", "join", "--token", fresh, manager_ip)).strip() \
        == "This node joined a swarm as a worker."
    ok(fleet.docker("w1", "swarm", "leave"))
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


def unlock_key(fleet: Fleet) -> str:
    """The key a manager gives (kept by the user: a swarm without quorum does not give it)."""
    return ok(fleet.docker("s1", "swarm", "unlock-key", "-q")).strip()


def unlock(fleet: Fleet, key: str, *names: str) -> None:
    """`docker swarm unlock` on restarted managers (autolock)."""
    for name in names:
        assert LOCKED in refused(fleet.docker(name, "node", "ls"))
        assert swarm_info(fleet, name)["LocalNodeState"] == "locked"
        ok(fleet.docker(name, "swarm", "unlock", input=(key + "\n").encode()))


def managers_ready(fleet: Fleet, name: str) -> list[str]:
    return sorted(f[4] for f in node_rows(fleet, name).values() if len(f) > 4)


def test_three_managers_and_three_workers_elect_a_leader_lose_quorum_and_heal(fleet):
    ips = {name: fleet.ip(name) for name in NAMES + WORKERS}
    token = ok(fleet.docker("s1", "swarm", "join-token", "-q", "manager")).strip()
    for name in ("s2", "s3"):
        joined = ok(fleet.docker(name, "swarm", "join", "--token", token, "--advertise-addr", ips[name],
                                 f"{ips['s1']}:2377"))
        assert joined.strip() == "This node joined a swarm as a manager."
        # The swarm is autolocked: a manager that joins gets the unlock key and locks its key too.
        assert node_key(fleet, name).startswith(ENCRYPTED_KEY)
    worker_token = ok(fleet.docker("s2", "swarm", "join-token", "-q", "worker")).strip()
    with ThreadPoolExecutor(3) as pool:
        for out in pool.map(lambda name: ok(fleet.docker(name, "swarm", "join", "--token", worker_token,
                                                         f"{ips['s2']}:2377")), WORKERS):
            assert out.strip() == "This node joined a swarm as a worker."

    # Every manager sees the six, one Leader and two Reachable, itself marked.
    for name in NAMES:
        rows = node_rows(fleet, name)
        assert sorted(rows) == sorted(NAMES + WORKERS)
        assert all(fields[2:4] == ["Ready", "Active"] for fields in rows.values())
        assert managers_ready(fleet, name) == ["Leader", "Reachable", "Reachable"]
        assert [host for host, fields in rows.items() if fields[0] == "true"] == [name]
        info = swarm_info(fleet, name)
        assert (info["ControlAvailable"], info["Nodes"], info["Managers"]) == (True, 6, 3)
        assert sorted(m["Addr"] for m in info["RemoteManagers"]) == sorted(f"{ips[n]}:2377" for n in NAMES)
    refusal = fleet.docker("s2", "swarm", "leave")
    assert refusal.returncode != 0 and b"participating as a manager. The only way to restore a swarm that has " \
        b"lost consensus is to reinitialize it with `--force-new-cluster`." in refusal.stderr

    # The unlock key rotated through one manager reaches the others: they lock their keys with it.
    before = {name: node_key(fleet, name) for name in ("s2", "s3")}
    assert ok(fleet.docker("s1", "swarm", "unlock-key", "--rotate")).startswith(
        "Successfully rotated manager unlock key.")
    assert until(lambda: all(node_key(fleet, name) != before[name] for name in before), timeout=30)

    # The leader goes (its machine killed): the other two elect one and keep accepting changes.
    key = unlock_key(fleet)
    first = leader_of(fleet, "s1")
    ok(fleet.machine("kill", first))
    survivors = [n for n in NAMES if n != first]
    assert until(lambda: leader_of(fleet, survivors[0]) in survivors, timeout=30)
    assert node_rows(fleet, survivors[0])[first][4] == "Unreachable"
    ok(write(fleet, survivors[0], 7))
    assert history_limit(fleet, survivors[1]) == 7

    # A second manager goes: no quorum, so changes are refused with Docker's words, and the
    # containers of the manager left and of a worker keep running (their engines are their own).
    for name in (survivors[1], "w1"):
        ok(fleet.docker(name, "run", "-d", "--name", "keeps", "busybox", "sleep", "1000"))
    ok(fleet.machine("kill", survivors[0]))
    last = survivors[1]
    assert until(lambda: LOST_QUORUM.encode() in write(fleet, last, 8).stderr, timeout=30)
    for name in (last, "w1"):
        assert ok(fleet.docker(name, "inspect", "-f", "{{.State.Running}}", "keeps")).strip() == "true"
    assert swarm_info(fleet, last)["Error"].endswith(LOST_QUORUM)

    # Both come back locked (autolock), are unlocked, and the swarm heals with the change made while
    # one was away; the workers were kept all along.
    start(fleet, first, survivors[0])
    unlock(fleet, key, first, survivors[0])
    assert until(lambda: write(fleet, last, 9).returncode == 0, timeout=60)
    for name in NAMES:
        assert until(lambda name=name: managers_ready(fleet, name) == ["Leader", "Reachable", "Reachable"],
                     timeout=30)
        assert history_limit(fleet, name) == 9
    assert until(lambda: all(f[2] == "Ready" for f in node_rows(fleet, "s1").values()), timeout=30)
    for name in (last, "w1"):
        ok(fleet.docker(name, "rm", "-f", "keeps"))


def test_certificate_rotation_reaches_managers_and_workers(fleet):
    before = {name: subject_and_issuer(fleet, name) for name in NAMES + WORKERS}
    old_root = open(certificate(fleet, "s1", "swarm-root-ca.crt")).read()
    out = ok(fleet.docker("s2", "swarm", "ca", "--rotate", timeout=180))
    new_root = ok(fleet.docker("s1", "swarm", "ca")).strip() + "\n"
    assert out.strip().endswith(new_root.strip()) and new_root != old_root
    for name in NAMES + WORKERS:
        # Every node holds a certificate of the new root, with its identity kept, and trusts it.
        assert until(lambda name=name: open(certificate(fleet, name, "swarm-root-ca.crt")).read() == new_root,
                     timeout=30), name
        subject, _ = subject_and_issuer(fleet, name)
        assert subject == before[name][0]
        verified = subprocess.run(["openssl", "verify", "-CAfile", certificate(fleet, name, "swarm-root-ca.crt"),
                                   certificate(fleet, name)], capture_output=True, text=True)
        assert verified.returncode == 0, (name, verified.stdout + verified.stderr)
    token = ok(fleet.docker("s1", "swarm", "join-token", "-q", "worker")).strip()
    assert ca_digest_from_token(token) == ca_digest(new_root.encode())
    # The channel works with the new certificates: the workers' heartbeats keep them Ready.
    assert all(f[2] == "Ready" for f in node_rows(fleet, "s3").values())


def subject_and_issuer(fleet: Fleet, name: str) -> tuple[str, str]:
    out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-issuer", "-in", certificate(fleet, name)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    return out[0], out[1]


def test_demote_and_promote_move_the_store_membership(fleet):
    def managers(name: str) -> list[str] | None:
        """The managers `node ls` shows on `name`; None while the store elects a leader (a member
        that leaves may be the leader: the others elect a new one, and Docker's no-leader error
        answers meanwhile)."""
        try:
            rows = node_rows(fleet, name)
        except AssertionError as refused:
            assert "does not have a leader" in str(refused), refused
            return None
        return sorted(host for host, fields in rows.items() if len(fields) > 4)

    ok(fleet.docker("s1", "node", "demote", "s3"))
    # s3 leaves the store's membership by itself and goes on as a worker: its key unlocked (autolock
    # is for managers), its certificate renewed with the worker's OU through a manager.
    assert until(lambda: swarm_info(fleet, "s3")["ControlAvailable"] is False, timeout=30)
    assert until(lambda: managers("s1") == ["s1", "s2"] and managers("s2") == ["s1", "s2"], timeout=30)
    assert swarm_info(fleet, "s1")["Managers"] == 2
    denied = fleet.docker("s3", "node", "ls")
    assert denied.returncode != 0 and b"Worker nodes can't be used" in denied.stderr
    assert not node_key(fleet, "s3").startswith(ENCRYPTED_KEY)
    assert until(lambda: "OU = swarm-worker" in subject_and_issuer(fleet, "s3")[0], timeout=30)
    ok(write(fleet, "s2", 13))  # two managers of two: the quorum holds

    ok(fleet.docker("s2", "node", "promote", "s3"))
    assert until(lambda: swarm_info(fleet, "s3")["ControlAvailable"] is True, timeout=45)
    for name in NAMES:
        assert until(lambda name=name: managers_ready(fleet, name) == ["Leader", "Reachable", "Reachable"],
                     timeout=30)
    assert history_limit(fleet, "s3") == 13
    assert node_key(fleet, "s3").startswith(ENCRYPTED_KEY)  # promoted in an autolocked swarm: locked

    # A manager demoted while it is down: the leader takes its member out of the store's membership
    # (the swarm is two managers of two again); back, and unlocked, it finds itself a worker.
    key = unlock_key(fleet)
    ok(fleet.machine("kill", "s3"))
    assert until(lambda: node_rows(fleet, "s1")["s3"][4:] == ["Unreachable"], timeout=30)
    ok(fleet.docker("s1", "node", "demote", "s3"))
    assert until(lambda: managers("s1") == ["s1", "s2"], timeout=30)
    assert swarm_info(fleet, "s2")["Managers"] == 2
    ok(write(fleet, "s1", 14))
    start(fleet, "s3")
    unlock(fleet, key, "s3")
    info = swarm_info(fleet, "s3")
    assert (info["LocalNodeState"], info["ControlAvailable"]) == ("active", False)
    assert until(lambda: node_rows(fleet, "s1")["s3"][2] == "Ready", timeout=30)

    ok(fleet.docker("s1", "node", "promote", "s3"))  # three managers again, for what follows
    for name in NAMES:
        assert until(lambda name=name: managers_ready(fleet, name) == ["Leader", "Reachable", "Reachable"],
                     timeout=45)


def test_workers_leave_and_are_removed(fleet):
    for name in WORKERS:
        assert ok(fleet.docker(name, "swarm", "leave")).strip() == "Node left the swarm."
        assert swarm_info(fleet, name)["LocalNodeState"] == "inactive"
    assert until(lambda: all(node_rows(fleet, "s2")[name][2] == "Down" for name in WORKERS), timeout=30)
    ids = ok(fleet.docker("s2", "node", "ls", "-q", "--filter", "role=worker")).split()
    assert len(ids) == 3
    ok(fleet.docker("s2", "node", "rm", *ids))  # Down: no --force needed
    assert sorted(node_rows(fleet, "s1")) == list(NAMES)


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
