"""Overlay networks on a one-node swarm, through the real docker CLI: the refusals (no swarm,
--opt encrypted, a network not made --attachable), a swarm-scoped network in ls and inspect,
containers on it reaching each other by name, the network's namespace made when the first
container joins and removed when the last one leaves, and nothing left behind.

The swarm uses a data path port of the test's own: other daemons on this host (tests side by
side) may hold VNI 4096 on port 4789 in the same network namespace.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import urllib.request

import pytest
from netstate import host_network_state, settled_leftovers
from swarming import free_udp_port
from waiting import until

from dockyard.network import netns


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


HTTPD = "mkdir -p /www && echo hello-from-overlay > /www/index.html && exec httpd -f -p 80 -h /www"


def fetch(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            return answer.read().decode().strip()
    except OSError:
        return ""


def ok(result) -> str:
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")
    return result.stdout.decode()


@pytest.fixture
def swarm(fresh_daemon):
    before = host_network_state()
    d = fresh_daemon
    d.data_path_port = free_udp_port()  # in Docker's range (1024-49151)
    yield d
    d.docker("rm", "-f", "ov-a", "ov-b")
    d.docker("swarm", "leave", "--force")
    d.stop()
    assert settled_leftovers(before, own=d.own_marks()) == []


def test_overlay_network_on_a_one_node_swarm(swarm) -> None:
    d = swarm
    refused = d.docker("network", "create", "-d", "overlay", "ov")
    assert refused.returncode != 0
    assert b'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join"' in refused.stderr

    ok(d.docker("swarm", "init", "--listen-addr", f"127.0.0.1:{_free_port()}", "--advertise-addr", "127.0.0.1",
                "--data-path-port", str(d.data_path_port)))
    encrypted = d.docker("network", "create", "-d", "overlay", "--opt", "encrypted", "secret-ov")
    assert encrypted.returncode != 0 and b"IPsec ESP" in encrypted.stderr and b"--opt encrypted" in encrypted.stderr

    octet = secrets.randbelow(200) + 20
    network_id = ok(d.docker("network", "create", "-d", "overlay", "--attachable", "--subnet", f"10.{octet}.7.0/24",
                             "--label", "tier=test", "ov")).strip()
    ok(d.docker("network", "create", "-d", "overlay", "fixed-only"))
    rows = [line.split() for line in ok(d.docker("network", "ls", "--filter", "driver=overlay")).splitlines()[1:]]
    assert sorted((name, driver, scope) for _id, name, driver, scope in rows) == [
        ("fixed-only", "overlay", "swarm"), ("ingress", "overlay", "swarm"), ("ov", "overlay", "swarm")]
    ingress = json.loads(ok(d.docker("network", "inspect", "ingress")))[0]  # made by swarm init, as Docker's
    assert ingress["Ingress"] is True and ingress["Attachable"] is False
    assert ingress["IPAM"]["Config"] == [{"Subnet": "10.0.0.0/24", "Gateway": "10.0.0.1"}]
    assert ingress["Options"] == {"com.docker.network.driver.overlay.vxlanid_list": "4096"}
    second = d.docker("network", "create", "-d", "overlay", "--ingress", "ingress2")
    assert second.returncode != 0 and f"ingress network ({ingress['Id']}) is already present".encode() in second.stderr
    view = json.loads(ok(d.docker("network", "inspect", "ov")))[0]
    assert view["Id"] == network_id and view["Scope"] == "swarm" and view["Driver"] == "overlay"
    assert view["Attachable"] is True and view["Labels"] == {"tier": "test"}
    assert view["IPAM"]["Config"] == [{"Subnet": f"10.{octet}.7.0/24", "Gateway": f"10.{octet}.7.1"}]
    vni = int(view["Options"]["com.docker.network.driver.overlay.vxlanid_list"])
    assert vni > 4096  # the ingress network has 4096
    other = json.loads(ok(d.docker("network", "inspect", "fixed-only")))[0]
    assert other["IPAM"]["Config"][0]["Subnet"] == "10.0.1.0/24"  # the swarm pool's, after ingress's 10.0.0.0/24
    assert int(other["Options"]["com.docker.network.driver.overlay.vxlanid_list"]) != vni
    again = d.docker("network", "create", "-d", "overlay", "ov")
    assert again.returncode != 0 and b"network with name ov already exists" in again.stderr

    not_attachable = d.docker("run", "--rm", "--network", "fixed-only", "busybox", "true")
    assert not_attachable.returncode != 0
    assert b"network fixed-only not manually attachable" in not_attachable.stderr

    # Lazy: no namespace until a container joins on this node.
    plane = os.path.join(d.exec_root, "overlay", network_id[:12])
    assert not netns.is_pinned(plane)
    ok(d.docker("run", "-d", "--name", "ov-a", "--network", "ov", "busybox", "sleep", "300"))
    assert netns.is_pinned(plane)
    ok(d.docker("run", "-d", "--name", "ov-b", "--network", "ov", "busybox", "sleep", "300"))
    a_ip = ok(d.docker("inspect", "-f", "{{.NetworkSettings.Networks.ov.IPAddress}}", "ov-a")).strip()
    b_ip = ok(d.docker("inspect", "-f", "{{.NetworkSettings.Networks.ov.IPAddress}}", "ov-b")).strip()
    assert {a_ip, b_ip} == {f"10.{octet}.7.2", f"10.{octet}.7.3"}
    ok(d.docker("exec", "ov-a", "ping", "-c", "1", "-W", "5", "ov-b"))
    ok(d.docker("exec", "ov-b", "ping", "-c", "1", "-W", "5", a_ip))
    mtu = ok(d.docker("exec", "ov-a", "cat", "/sys/class/net/eth0/mtu")).strip()
    assert mtu == "1450"
    details = netns.run_in(plane, lambda: os.popen("ip -d link show vxlan0").read())
    assert f"vxlan id {vni}" in details and f"dstport {d.data_path_port}" in details and "nolearning" in details
    members = json.loads(ok(d.docker("network", "inspect", "ov")))[0]["Containers"]
    assert sorted(m["Name"] for m in members.values()) == ["ov-a", "ov-b"]

    # The way out: eth1 on docker_gwbridge (a local bridge network, no ICC, masqueraded), the default route.
    gw = json.loads(ok(d.docker("network", "inspect", "docker_gwbridge")))[0]
    assert (gw["Driver"], gw["Scope"]) == ("bridge", "local")
    assert gw["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    assert gw["Options"]["com.docker.network.bridge.enable_ip_masquerade"] == "true"
    gateway = gw["IPAM"]["Config"][0]["Gateway"]
    routes = ok(d.docker("exec", "ov-a", "ip", "route"))
    assert f"default via {gateway} dev eth1" in routes and f"10.{octet}.7.0/24 dev eth0" in routes
    assert len(gw["Containers"]) == 2 and all(e["Name"].startswith("gateway_") for e in gw["Containers"].values())
    ok(d.docker("exec", "ov-a", "ping", "-c", "1", "-W", "5", gateway))
    # An internal overlay gives no way out.
    ok(d.docker("network", "create", "-d", "overlay", "--internal", "--attachable", "inside"))
    inside = ok(d.docker("run", "--rm", "--network", "inside", "busybox", "sh", "-c", "ls /sys/class/net; ip route"))
    assert "eth1" not in inside and "default" not in inside

    busy = d.docker("network", "rm", "ov")
    assert busy.returncode != 0 and b"has active endpoints" in busy.stderr
    ok(d.docker("rm", "-f", "ov-a"))
    assert netns.is_pinned(plane)  # ov-b is still on it
    ok(d.docker("stop", "-t", "0", "ov-b"))
    assert until(lambda: not netns.is_pinned(plane))
    ok(d.docker("start", "ov-b"))  # made again for the restarted container
    assert netns.is_pinned(plane)
    ok(d.docker("rm", "-f", "ov-b"))
    assert not netns.is_pinned(plane)
    ok(d.docker("network", "rm", "ov", "fixed-only", "inside"))
    assert json.loads(ok(d.docker("network", "inspect", "docker_gwbridge")))[0]["Containers"] == {}
    assert ok(d.docker("network", "ls", "--format", "{{.Name}}", "--filter", "driver=overlay")).split() == ["ingress"]


def test_a_restarted_daemon_follows_its_overlay_again(swarm) -> None:
    """The daemon stops with containers on an overlay; one of them dies meanwhile. At the next
    start the plane is followed again, the dead container's endpoint withdrawn and its address
    given back to the swarm, and the plane goes with the last container that was left."""
    d = swarm
    ok(d.docker("swarm", "init", "--listen-addr", f"127.0.0.1:{_free_port()}", "--advertise-addr", "127.0.0.1",
                "--data-path-port", str(d.data_path_port)))
    octet = secrets.randbelow(200) + 20
    network_id = ok(d.docker("network", "create", "-d", "overlay", "--attachable", "--subnet",
                             f"10.{octet}.9.0/24", "ov")).strip()
    plane = os.path.join(d.exec_root, "overlay", network_id[:12])
    ok(d.docker("run", "-d", "--name", "ov-a", "--network", "ov", "-p", "127.0.0.1::80", "busybox", "sh", "-c", HTTPD))
    ok(d.docker("run", "-d", "--name", "ov-b", "--network", "ov", "busybox", "sleep", "300"))
    # A published port of an overlay container is forwarded to its docker_gwbridge address.
    port = int(ok(d.docker("port", "ov-a", "80")).strip().rpartition(":")[2])
    assert until(lambda: fetch(port) == "hello-from-overlay")
    dead = ok(d.docker("inspect", "-f", "{{.NetworkSettings.Networks.ov.IPAddress}}", "ov-b")).strip()
    assert dead == f"10.{octet}.9.3"
    pid = int(ok(d.docker("inspect", "-f", "{{.State.Pid}}", "ov-b")).strip())
    d.stop()
    assert netns.is_pinned(plane)  # ov-a runs on: its plane stays
    os.kill(pid, signal.SIGKILL)
    d.start()
    assert until(lambda: fetch(port) == "hello-from-overlay")  # and again after the restart
    # ov-b's address comes back to the swarm once the restarted daemon saw its endpoint gone.
    ok(d.docker("rm", "-f", "ov-b"))
    assert until(lambda: ok(d.docker("run", "--rm", "--network", "ov", "busybox", "sh", "-c",
                                     "ip -4 -o addr show eth0")).split()[3] == f"{dead}/24", timeout=20)
    ok(d.docker("exec", "ov-a", "ping", "-c", "1", "-W", "5", f"10.{octet}.9.1"))
    ok(d.docker("rm", "-f", "ov-a"))
    assert not netns.is_pinned(plane)
    ok(d.docker("network", "rm", "ov"))
