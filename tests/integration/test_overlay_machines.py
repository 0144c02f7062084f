"""An attachable overlay across two `dockyard machine` hosts in one swarm (a manager and a worker,
which keeps no store and reaches the swarm's networks, addresses and peers through the managers'
channel), driven by the real docker CLI: `docker run --network` on both nodes, the containers
reaching each other over VXLAN on the machines' underlay, each node's overlay namespace holding
one static forwarding entry for the other's container (through the other's address) and no
learned one, docker_gwbridge on both, and every node's namespace gone with its last container.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from conftest import PrivateDaemon
from overlaylab import in_ns
from test_machines import Fleet, ok

from dockyard.network import netns

NAMES = ("o1", "o2")


@pytest.fixture(scope="module")
def fleet(busybox_tar):
    host = PrivateDaemon(busybox_tar).start()
    fleet = Fleet(host)
    try:
        busybox = busybox_tar.read_bytes()
        for name in NAMES:
            ok(fleet.machine("create", name))
            ok(fleet.docker(name, "import", "-c", 'CMD ["sh"]', "-", "busybox:latest", input=busybox))
        yield fleet
    finally:
        for name in reversed(NAMES):
            fleet.docker(name, "rm", "-f", f"c-{name}")
            fleet.docker(name, "swarm", "leave", "--force")
        fleet.machine("rm", "-f", *fleet.machine("ls", "-q").stdout.decode().split())
        with open("/proc/mounts") as f:
            pinned = [line for line in f if fleet.storage in line]
        host.cleanup()
    assert pinned == []  # no overlay namespace of a machine outlived it


def plane_path(fleet: Fleet, name: str, network_id: str) -> str:
    return os.path.join(fleet.storage, "machines", name, "exec", "overlay", network_id[:12])


def test_attachable_overlay_across_two_machines(fleet):
    ips = {name: fleet.ip(name) for name in NAMES}
    ok(fleet.docker("o1", "swarm", "init", "--advertise-addr", ips["o1"]))
    token = ok(fleet.docker("o1", "swarm", "join-token", "-q", "worker")).strip()
    joined = ok(fleet.docker("o2", "swarm", "join", "--token", token, f"{ips['o1']}:2377"))
    assert "joined a swarm as a worker" in joined
    refused = fleet.docker("o2", "network", "create", "-d", "overlay", "--attachable", "from-worker")
    assert refused.returncode != 0 and b"Worker nodes can't be used to view or modify cluster state" in refused.stderr

    network_id = ok(fleet.docker("o1", "network", "create", "-d", "overlay", "--attachable", "ov")).strip()
    # Made on the manager, found on the worker at once (asked of the manager).
    seen = json.loads(ok(fleet.docker("o2", "network", "inspect", "ov")))[0]
    assert (seen["Id"], seen["Scope"], seen["Driver"]) == (network_id, "swarm", "overlay")
    assert not netns.is_pinned(plane_path(fleet, "o1", network_id))  # lazy: nobody joined yet

    for name in NAMES:
        ok(fleet.docker(name, "run", "-d", "--name", f"c-{name}", "--network", "ov", "busybox", "sleep", "600"))
    addr = {name: ok(fleet.docker(name, "inspect", "-f", "{{.NetworkSettings.Networks.ov.IPAddress}}",
                                  f"c-{name}")).strip() for name in NAMES}
    macs = {name: ok(fleet.docker(name, "inspect", "-f", "{{.NetworkSettings.Networks.ov.MacAddress}}",
                                  f"c-{name}")).strip() for name in NAMES}
    assert addr["o1"] != addr["o2"]  # handed out once for the swarm, not per node

    # Each node reaches the other's container (the ping waits for the watch to program the entry).
    ok(fleet.docker("o1", "exec", "c-o1", "sh", "-c",
                    f"for i in $(seq 50); do ping -c 1 -W 1 {addr['o2']} && exit 0; done; exit 1"))
    ok(fleet.docker("o2", "exec", "c-o2", "ping", "-c", "2", "-W", "5", addr["o1"]))
    for here, there in (("o1", "o2"), ("o2", "o1")):
        plane = plane_path(fleet, here, network_id)
        entries = [re.sub(r" link-netnsid \d+", "", line)
                   for line in in_ns(plane, "bridge", "fdb", "show", "dev", "vxlan0").splitlines() if " self" in line]
        assert entries == [f"{macs[there]} dst {ips[there]} self permanent"]
        assert "nolearning" in in_ns(plane, "ip", "-d", "link", "show", "vxlan0")
        routes = ok(fleet.docker(here, "exec", f"c-{here}", "ip", "route"))
        assert "default via" in routes and "dev eth1" in routes  # docker_gwbridge

    busy = fleet.docker("o1", "network", "rm", "ov")
    assert busy.returncode != 0 and b"active endpoints" in busy.stderr
    for name in NAMES:
        ok(fleet.docker(name, "rm", "-f", f"c-{name}"))
        assert not netns.is_pinned(plane_path(fleet, name, network_id))
    ok(fleet.docker("o1", "network", "rm", "ov"))
    assert ok(fleet.docker("o1", "network", "ls", "--format", "{{.Name}}", "--filter", "driver=overlay")).split() \
        == ["ingress"]
