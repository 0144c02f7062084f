"""The routing mesh's rules as text: the nftables table of a sandbox, the node's iptables
chains, and the model's refusals (nothing here touches the kernel)."""

import pytest

from dockyard.errors import InvalidParameter
from dockyard.network.iptables import parse_save
from dockyard.network.mesh.model import (
    Backend,
    HostPort,
    IngressPeer,
    IngressSandbox,
    IngressService,
    LocalBridge,
    NodeMesh,
    PublishedPort,
    VirtualIP,
)
from dockyard.network.mesh.nftrender import ReturnPath, SandboxMesh, render, replace_script, route_commands
from dockyard.network.mesh.noderules import NodeRules

B1, B2, B3 = Backend("10.0.0.11", task="a"), Backend("10.0.0.12", task="b"), Backend("10.0.0.13", task="c")


def test_a_vip_is_balanced_round_robin_over_its_healthy_backends_on_every_port():
    text = render(SandboxMesh(vips=[VirtualIP("web", "10.0.0.100", (B1, Backend("10.0.0.12", healthy=False), B3))]))
    assert ("ip daddr 10.0.0.100 meta l4proto { tcp, udp, sctp, icmp } dnat ip to numgen inc mod 2 "
            "map { 0 : 10.0.0.11, 1 : 10.0.0.13 }") in text
    assert "10.0.0.12" not in text
    assert "type nat hook output priority -100" in text


def test_a_vip_with_one_backend_needs_no_numgen_and_one_without_any_is_refused():
    text = render(SandboxMesh(vips=[VirtualIP("one", "10.0.0.100", (B1,)), VirtualIP("none", "10.0.0.101", ())]))
    assert "ip daddr 10.0.0.100 meta l4proto { tcp, udp, sctp, icmp } dnat ip to 10.0.0.11 " in text
    assert "ip daddr 10.0.0.101 meta l4proto tcp reject with tcp reset" in text
    assert "type filter hook output priority 0" in text


def test_ingress_ports_are_dnated_to_the_target_port_in_the_sandbox_and_never_masqueraded():
    svc = IngressService("web", (PublishedPort(8080, 80), PublishedPort(5353, 53, "udp")), (B1, B2))
    text = render(SandboxMesh(ingress=[svc]))
    assert "tcp dport 8080 dnat ip to numgen inc mod 2 map { 0 : 10.0.0.11, 1 : 10.0.0.12 }:80" in text
    assert "udp dport 5353 dnat ip to numgen inc mod 2 map { 0 : 10.0.0.11, 1 : 10.0.0.12 }:53" in text
    assert "masquerade" not in text and "snat" not in text


def test_the_return_path_marks_connections_by_peer_mac_and_routes_replies_to_that_peer():
    peers = [IngressPeer("n1", "10.0.0.2", "02:42:0A:00:00:02"), IngressPeer("n2", "10.0.0.3", "02:42:0a:00:00:03")]
    rp = ReturnPath("eth0", peers)
    text = render(SandboxMesh(return_path=rp))
    assert ('iifname "eth0" ct state new ct mark set ether saddr map '
            "{ 02:42:0a:00:00:02 : 0x6d730000, 02:42:0a:00:00:03 : 0x6d730001 }") in text
    assert "type route hook output" in text and "meta mark set ct mark" in text
    assert route_commands(rp) == [
        ["route", "replace", "default", "via", "10.0.0.2", "dev", "eth0", "table", "3100"],
        ["rule", "add", "pref", "3100", "fwmark", "0x6d730000/0xffffffff", "lookup", "3100"],
        ["route", "replace", "default", "via", "10.0.0.3", "dev", "eth0", "table", "3101"],
        ["rule", "add", "pref", "3101", "fwmark", "0x6d730001/0xffffffff", "lookup", "3101"]]


def test_the_table_is_replaced_in_one_script_and_an_empty_mesh_only_deletes_it():
    script = replace_script(SandboxMesh(vips=[VirtualIP("web", "10.0.0.100", (B1,))]))
    assert script.startswith("table ip dockyard_mesh\ndelete table ip dockyard_mesh\ntable ip dockyard_mesh {")
    assert replace_script(SandboxMesh()) == "table ip dockyard_mesh\ndelete table ip dockyard_mesh\n"


def test_node_rules_send_ingress_ports_to_the_sandbox_and_host_ports_to_the_local_task():
    rules = NodeRules("DYMESH-t")
    node = NodeMesh(ingress=[IngressService("web", (PublishedPort(8080, 80),), (B1,))],
                    host_ports=[HostPort("api", PublishedPort(9090, 90, mode="host"), "172.18.0.9")])
    tables = parse_save(rules.render(node, IngressSandbox("/run/netns/x", "172.18.0.2", "gw0")))
    assert tables["nat"]["DYMESH-t"] == [
        "-p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:8080",
        "-p tcp -m tcp --dport 9090 -j DNAT --to-destination 172.18.0.9:90"]
    assert tables["nat"]["DYMESH-t-POST"] == ["-s 127.0.0.0/8 -o gw0 -j MASQUERADE"]
    assert "-d 172.18.0.2/32 -o gw0 -p tcp -m tcp --dport 8080 -j ACCEPT" in tables["filter"]["DYMESH-t-FWD"]
    assert ("-s 172.18.0.9/32 -i gw0 -p tcp -m tcp --sport 90 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
            in tables["filter"]["DYMESH-t-FWD"])
    assert rules.watched_chains() >= {("nat", "PREROUTING"), ("filter", "FORWARD"), ("nat", "DYMESH-t")}


def test_node_rules_put_back_a_missing_jump_and_a_flushed_chain():
    rules = NodeRules("DYMESH-t")
    node = NodeMesh(ingress=[IngressService("web", (PublishedPort(8080, 80),), (B1,))])
    rules._wanted = rules.render(node, IngressSandbox("/run/netns/x", "172.18.0.2", "gw0"))
    saved = "*nat\n:PREROUTING ACCEPT [0:0]\n:DYMESH-t - [0:0]\n:DYMESH-t-POST - [0:0]\nCOMMIT\n"
    saved += "*filter\n:DYMESH-t-FWD - [0:0]\n"
    saved += "-A FORWARD -j DYMESH-t-FWD\n" + "".join(f"-A DYMESH-t-FWD {r}\n" for r in
                                                  parse_save(rules._wanted)["filter"]["DYMESH-t-FWD"]) + "COMMIT\n"
    gone, lines = rules.missing(saved)
    assert "rules of nat/DYMESH-t (0 found, 1 expected)" in gone
    assert "jump nat PREROUTING -> DYMESH-t" in gone and "jump FORWARD -> DYMESH-t-FWD" not in gone
    assert "-A DYMESH-t -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:8080" in lines


@pytest.mark.parametrize("make, words", [
    (lambda: PublishedPort(0, 80), "published port 0 is not a port number"),
    (lambda: PublishedPort(80, 80, "icmp"), "invalid protocol 'icmp'"),
    (lambda: PublishedPort(80, 80, mode="global"), "invalid publish mode 'global'"),
    (lambda: Backend("10.0.0.300"), "is not an IPv4 address"),
    (lambda: VirtualIP("web", "fe80::1"), "virtual IP of service web 'fe80::1' is not an IPv4 address"),
    (lambda: IngressPeer("n1", "10.0.0.2", "02:42"), "is not a MAC address"),
    (lambda: IngressService("web", (PublishedPort(80, 80, mode="host"),)), "not ingress"),
    (lambda: HostPort("web", PublishedPort(80, 80), "10.0.0.2"), "not host"),
])
def test_bad_input_is_refused_with_the_object_named(make, words):
    with pytest.raises(InvalidParameter, match=words.replace("(", r"\(")):
        make()


def test_two_services_cannot_publish_the_same_port_on_a_node():
    node = NodeMesh(ingress=[IngressService("web", (PublishedPort(8080, 80),))],
                    host_ports=[HostPort("api", PublishedPort(8080, 90, mode="host"), "172.18.0.9")])
    with pytest.raises(InvalidParameter, match="port '8080/tcp' is already in use by service 'web'"):
        node.validate()


def test_only_connections_translated_to_a_task_that_left_are_forgotten():
    from dockyard.network.mesh.conntrack import stale

    entries = [(("10.0.0.50", "10.0.0.100"), ("10.0.0.11", "10.0.0.50")),  # via the VIP to the gone task
               (("10.0.0.50", "10.0.0.100"), ("10.0.0.12", "10.0.0.50")),  # via the VIP to another task
               (("10.0.0.50", "10.0.0.11"), ("10.0.0.11", "10.0.0.50"))]  # straight to the task: not ours
    assert stale(entries, {"10.0.0.11"}) == [0]


def test_without_an_ingress_sandbox_the_node_balances_round_robin_over_its_local_tasks():
    rules = NodeRules("DYMESH-t")
    svc = IngressService("web", (PublishedPort(8080, 80),), (B1, Backend("10.0.0.12", healthy=False), B3,
                                                             Backend("10.0.0.14")))
    bridges = (LocalBridge("dockyard0", "10.0.0.0/24"), LocalBridge("docker_gwbridge"))
    tables = parse_save(rules.render(NodeMesh(ingress=[svc], local_bridges=bridges), None))
    assert tables["nat"]["DYMESH-t"] == [
        "-p tcp -m tcp --dport 8080 -m statistic --mode nth --every 3 --packet 0 -j DNAT --to-destination 10.0.0.11:80",
        "-p tcp -m tcp --dport 8080 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 10.0.0.13:80",
        "-p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.14:80"]
    assert "-d 10.0.0.13/32 -p tcp -m tcp --dport 80 -j ACCEPT" in tables["filter"]["DYMESH-t-FWD"]
    assert tables["nat"]["DYMESH-t-POST"] == [
        "-s 127.0.0.0/8 -o dockyard0 -j MASQUERADE",
        "-s 10.0.0.0/24 -o dockyard0 -m conntrack --ctstate DNAT -j MASQUERADE",
        "-s 127.0.0.0/8 -o docker_gwbridge -j MASQUERADE"]
    # No healthy task: nothing answers the port (no rule), rather than a DNAT to nowhere.
    gone = IngressService("web", (PublishedPort(8080, 80),), (Backend("10.0.0.12", healthy=False),))
    empty = rules.render(NodeMesh(ingress=[gone], local_bridges=bridges), None)
    assert parse_save(empty)["nat"]["DYMESH-t"] == [] and parse_save(empty)["nat"]["DYMESH-t-POST"] == []
