"""Networking with real containers: the four modes, user-defined networks with DNS, --icc=false,
published ports, links, connect/disconnect and a daemon restart. Every test runs a daemon of its
own and checks that it left no links, netfilter rules or mounts behind. Traffic goes only to
loopback and to the namespaces these daemons make."""

import os
import random
import signal
import socket
import struct
import threading
import time

import pytest
from conftest import PrivateDaemon
from netstate import free_port_pair, free_prefix, host_network_state, settled_leftovers, wait_http

HTTPD = "mkdir -p /www && echo hello-$HOSTNAME > /www/index.html && exec httpd -f -p 80 -h /www"




def out(result) -> str:
    return result.stdout.decode()


def ok(result) -> str:
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    return out(result)


@pytest.fixture
def net(busybox_tar):
    """A daemon of the test's own; afterwards the host's links, rules and mounts are as before."""
    before = host_network_state()
    d = PrivateDaemon(busybox_tar).start()
    d.import_busybox()
    yield d
    d.cleanup()
    assert settled_leftovers(before, own=d.own_marks()) == [], d.log()[-3000:]


def _inspect(d, ref: str, template: str) -> str:
    return ok(d.cli("inspect", "-f", template, ref)).strip()


def test_none_has_only_loopback_and_no_route(net):
    r = net.cli("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ip -o link; ping -c1 -W1 10.1.2.3")
    assert r.returncode != 0
    links = [line.split(":")[1].strip() for line in out(r).splitlines() if line[:1].isdigit()]
    assert links == ["lo"]
    assert "Network is unreachable" in r.stderr.decode()


def test_default_bridge_address_mac_gateway_hosts_and_no_embedded_dns(net):
    cid = ok(net.cli("run", "-d", "--name", "d1", "busybox", "sh", "-c", HTTPD)).strip()
    ip = _inspect(net, "d1", "{{.NetworkSettings.IPAddress}}")
    assert _inspect(net, "d1", "{{.NetworkSettings.Networks.bridge.IPAddress}}") == ip
    mac = "02:42:" + ":".join(f"{int(b):02x}" for b in ip.split("."))
    assert _inspect(net, "d1", "{{.NetworkSettings.MacAddress}}") == mac
    gateway = _inspect(net, "d1", "{{.NetworkSettings.Gateway}}")
    assert gateway.endswith(".1") and ip.rsplit(".", 1)[0] == gateway.rsplit(".", 1)[0]
    assert wait_http(f"http://{ip}/") == f"hello-{cid[:12]}\n"  # host -> container over the bridge
    hosts = ok(net.cli("exec", "d1", "cat", "/etc/hosts"))
    assert f"{ip}\t{cid[:12]}\n" in hosts and hosts.startswith("127.0.0.1\tlocalhost\n")
    inside = ok(net.cli("exec", "d1", "ip", "-o", "addr", "show", "eth0"))
    assert ip in inside
    r = net.cli("run", "--rm", "busybox", "sh", "-c", f"wget -qO- http://{ip}/ && ping -c1 -W1 d1")
    assert out(r) == f"hello-{cid[:12]}\n"
    assert "bad address 'd1'" in r.stderr.decode()
    ok(net.cli("rm", "-f", "d1"))


def test_host_network_sees_the_hosts_interfaces(net):
    r = ok(net.cli("run", "--rm", "--network", "host", "busybox", "sh", "-c",
                   "hostname; readlink /proc/self/ns/net; ls /sys/class/net"))
    hostname, namespace, *interfaces = r.split()
    assert hostname == socket.gethostname()
    # The host's own network namespace (other suites add and remove links meanwhile, so the set
    # of links is no proof), with the links that live as long as this test: lo and our bridge.
    assert namespace == os.readlink("/proc/self/ns/net")
    assert {"lo", net.own_marks()[0]} <= set(interfaces), interfaces


def test_container_mode_shares_localhost(net):
    ok(net.cli("run", "-d", "--name", "srv", "busybox", "sh", "-c",
               "mkdir /www; echo shared > /www/index.html; exec httpd -f -p 127.0.0.1:8080 -h /www"))
    r = net.cli("run", "--rm", "--network", "container:srv", "busybox", "sh", "-c",
                "for i in 1 2 3 4 5; do wget -qO- http://127.0.0.1:8080/ && break; sleep 0.2; done; hostname")
    assert out(r).splitlines()[0] == "shared"
    assert out(r).splitlines()[1] == _inspect(net, "srv", "{{.Config.Hostname}}")
    r = net.cli("run", "--rm", "--network", "container:srv", "-p", "80:80", "busybox", "true")
    assert "conflicting options: port publishing and the container type network mode" in r.stderr.decode()


def test_user_networks_resolve_names_aliases_and_ids_and_stay_apart(net):
    ok(net.cli("network", "create", "front"))
    ok(net.cli("network", "create", "back"))
    a = ok(net.cli("run", "-d", "--name", "aa", "--network", "front", "--network-alias", "api", "busybox",
                   "sleep", "60")).strip()
    ok(net.cli("run", "-d", "--name", "bb", "--network", "back", "busybox", "sleep", "60"))
    a_ip = _inspect(net, "aa", "{{.NetworkSettings.Networks.front.IPAddress}}")
    b_ip = _inspect(net, "bb", "{{.NetworkSettings.Networks.back.IPAddress}}")
    script = (f"ping -c1 -W1 aa && ping -c1 -W1 api && ping -c1 -W1 {a[:12]} && ping -c1 -W1 {a_ip} && "
              "grep -x 'nameserver 127.0.0.11' /etc/resolv.conf && nslookup aa.front 127.0.0.11; "
              f"ping -c1 -W1 bb; ping -c1 -W1 {b_ip} || echo isolated")
    r = net.cli("run", "--rm", "--network", "front", "busybox", "sh", "-c", script)
    text = out(r)
    assert text.count("1 packets received") == 4, text + r.stderr.decode()
    assert f"Address: {a_ip}" in text
    assert "bad address 'bb'" in r.stderr.decode()
    assert text.rstrip().endswith("isolated")
    inspect = ok(net.cli("network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
                         "front"))
    assert inspect.strip() == f"aa {a_ip}/24"
    r = net.cli("network", "rm", "front")
    assert "has active endpoints" in r.stderr.decode()
    ok(net.cli("rm", "-f", "aa", "bb"))
    assert ok(net.cli("network", "rm", "front", "back")) == "front\nback\n"


class FakeResolver:
    """A DNS server on a loopback address: known.test is 10.9.9.9, every other name NXDOMAIN."""

    def __init__(self) -> None:
        self.address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.address, 53))
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        from dockyard.network.dns import answer, parse_question

        while not self.stop:
            try:
                packet, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            name, qtype, end = parse_question(packet)
            if name == "known.test":
                records = [(1, bytes([10, 9, 9, 9]))] if qtype == 1 else []
                self.sock.sendto(answer(packet, end, 0, records), peer)
            else:
                self.sock.sendto(answer(packet, end, 3, []), peer)

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


def test_embedded_dns_forwards_other_names_and_reports_nxdomain(net):
    resolver = FakeResolver()
    try:
        ok(net.cli("network", "create", "dnsnet"))
        r = net.cli("run", "--rm", "--network", "dnsnet", "--dns", resolver.address, "busybox", "sh", "-c",
                    "nslookup -type=a known.test; nslookup -type=a nothing.test")
        text = out(r) + r.stderr.decode()
        assert "Address: 10.9.9.9" in text, text
        assert "NXDOMAIN" in text, text
        ok(net.cli("network", "rm", "dnsnet"))
    finally:
        resolver.close()


def test_icc_false_isolates_the_default_bridge(busybox_tar):
    before = host_network_state()
    d = PrivateDaemon(busybox_tar, ["--icc=false"]).start()
    try:
        d.import_busybox()
        ok(d.cli("run", "-d", "--name", "one", "busybox", "sleep", "60"))
        ip = _inspect(d, "one", "{{.NetworkSettings.IPAddress}}")
        r = d.cli("run", "--rm", "busybox", "ping", "-c1", "-W1", ip)
        assert r.returncode != 0 and "0 packets received" in out(r)
        assert "enable_icc\": \"false" in ok(d.cli("network", "inspect", "bridge")).replace(".", "_").replace(
            "com_docker_network_bridge_", "")
    finally:
        d.cleanup()
    assert settled_leftovers(before, own=d.own_marks()) == []


def test_published_ports_from_the_host_port_command_ps_and_conflicts(net):
    p = free_port_pair()
    ok(net.cli("run", "-d", "--name", "web", "-p", "127.0.0.1::80", "-p", "80/udp", "-p", f"{p}-{p + 1}:7000-7001",
               "busybox", "sh", "-c", HTTPD))
    port = ok(net.cli("port", "web", "80")).strip()
    assert port.startswith("127.0.0.1:")
    host_port = int(port.rsplit(":", 1)[1])
    low, high = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    assert low <= host_port <= high
    assert wait_http(f"http://127.0.0.1:{host_port}/").startswith("hello-")
    listing = ok(net.cli("port", "web")).splitlines()
    assert f"80/tcp -> 127.0.0.1:{host_port}" in listing and f"7000/tcp -> 0.0.0.0:{p}" in listing
    assert any(line.startswith("80/udp -> 0.0.0.0:") for line in listing)
    ps = ok(net.cli("ps", "--format", "{{.Ports}}", "-f", "name=web")).strip()
    assert f"127.0.0.1:{host_port}->80/tcp" in ps and f"0.0.0.0:{p}-{p + 1}->7000-7001/tcp" in ps
    # a port of our own on 127.0.0.1: the second container must not get it
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        r = net.cli("run", "-d", "--name", "clash", "-p", f"127.0.0.1:{taken.getsockname()[1]}:80", "busybox",
                    "true")
        assert "port is already allocated" in r.stderr.decode()
    finally:
        taken.close()
    assert _inspect(net, "clash", "{{.State.Status}}") == "created"
    # -P publishes EXPOSEd ports on ephemeral ports
    ok(net.cli("run", "-d", "--name", "all", "-P", "--expose", "80", "busybox", "sh", "-c", HTTPD))
    mapped = ok(net.cli("port", "all", "80/tcp")).strip()
    assert wait_http(f"http://127.0.0.1:{mapped.rsplit(':', 1)[1]}/").startswith("hello-")
    ok(net.cli("rm", "-f", "web", "clash", "all"))
    r = net.cli("run", "--rm", "-p", "70000:80", "busybox", "true")
    assert r.returncode != 0 and "invalid" in r.stderr.decode()


def test_links_give_environment_and_hosts_one_way(net):
    ok(net.cli("run", "-d", "--name", "db", "-e", "SECRET=s3", "--expose", "5432", "busybox", "sleep", "60"))
    db_ip = _inspect(net, "db", "{{.NetworkSettings.IPAddress}}")
    env = ok(net.cli("run", "--rm", "--name", "app", "--link", "db:store", "busybox", "sh", "-c",
                     "env | grep ^STORE_ | sort; grep store /etc/hosts")).splitlines()
    assert f"STORE_PORT=tcp://{db_ip}:5432" in env
    assert f"STORE_PORT_5432_TCP_ADDR={db_ip}" in env and "STORE_PORT_5432_TCP_PROTO=tcp" in env
    assert "STORE_ENV_SECRET=s3" in env and "STORE_NAME=/app/store" in env
    assert env[-1].startswith(f"{db_ip}\tstore ") and env[-1].endswith(" db")
    assert "store" not in ok(net.cli("exec", "db", "cat", "/etc/hosts"))  # one-way
    ok(net.cli("stop", "-t", "0", "db"))
    r = net.cli("run", "--rm", "--name", "late", "--link", "db:store", "busybox", "true")
    assert "Cannot link to a non running container: /db AS /late/store" in r.stderr.decode()
    r = net.cli("run", "--rm", "--link", "ghost", "busybox", "true")
    assert "Could not get container for ghost" in r.stderr.decode()


def test_connect_and_disconnect_a_running_container(net):
    x = free_prefix()
    ok(net.cli("network", "create", "--subnet", f"{x}.0/24", "--gateway", f"{x}.1", "extra"))
    ok(net.cli("network", "create", "first"))
    ok(net.cli("run", "-d", "--name", "mover", "--network", "first", "busybox", "sleep", "60"))
    ok(net.cli("run", "-d", "--name", "peer", "--network", "extra", "--ip", f"{x}.50", "busybox", "sleep", "60"))
    ok(net.cli("network", "connect", "--ip", f"{x}.9", "--alias", "moved", "extra", "mover"))
    assert f"inet {x}.9/24" in ok(net.cli("exec", "mover", "ip", "-o", "addr", "show", "eth1"))
    ok(net.cli("exec", "mover", "ping", "-c1", "-W1", "peer"))  # DNS started by the connect
    ok(net.cli("exec", "peer", "ping", "-c1", "-W1", "moved"))
    networks = _inspect(net, "mover", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}")
    assert networks.split() == ["extra", "first"]
    r = net.cli("network", "connect", "extra", "mover")
    assert "already exists in network extra" in r.stderr.decode()
    ok(net.cli("network", "disconnect", "extra", "mover"))
    assert "eth1" not in ok(net.cli("exec", "mover", "ip", "-o", "link"))
    r = net.cli("network", "disconnect", "extra", "mover")
    assert "is not connected to network extra" in r.stderr.decode()
    ok(net.cli("rm", "-f", "mover", "peer"))
    ok(net.cli("network", "rm", "extra", "first"))


def test_daemon_restart_keeps_running_networks_and_drops_stale_rules(net):
    ok(net.cli("network", "create", "keep"))
    ok(net.cli("run", "-d", "--name", "stay", "--network", "keep", "-p", "127.0.0.1::80", "busybox", "sh", "-c",
               HTTPD))
    ok(net.cli("run", "-d", "--name", "goes", "--network", "keep", "-p", "127.0.0.1::80", "busybox", "sleep", "60"))
    stay_port = int(ok(net.cli("port", "stay", "80")).rsplit(":", 1)[1])
    goes_pid = int(_inspect(net, "goes", "{{.State.Pid}}"))
    goes_ip = _inspect(net, "goes", "{{.NetworkSettings.Networks.keep.IPAddress}}")
    net.proc.send_signal(signal.SIGKILL)
    net.proc.wait()
    os.kill(goes_pid, signal.SIGKILL)  # exits while no daemon watches
    net.start()
    assert wait_http(f"http://127.0.0.1:{stay_port}/").startswith("hello-")
    ok(net.cli("exec", "stay", "nslookup", "stay"))  # the embedded DNS server is back
    for _ in range(100):
        if _inspect(net, "goes", "{{.State.Status}}") == "exited":
            break
        time.sleep(0.05)
    import subprocess

    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    assert goes_ip not in rules
    assert _inspect(net, "goes", "{{.NetworkSettings.Networks.keep.IPAddress}}") == ""
    ok(net.cli("rm", "-f", "stay", "goes"))
    ok(net.cli("network", "rm", "keep"))


def test_name_file_options_and_their_validation(net):
    gateway = ok(net.cli("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", "bridge")).strip()
    r = ok(net.cli("run", "--rm", "-h", "box", "--domainname", "example.org", "--dns", "10.0.0.53", "--dns-search",
                   "corp.test", "--dns-option", "ndots:2", "--add-host", "db.local:10.1.1.1", "--add-host",
                   "gw:host-gateway", "busybox", "sh", "-c", "cat /etc/resolv.conf /etc/hosts; hostname"))
    assert "search corp.test\nnameserver 10.0.0.53\noptions ndots:2\n" in r
    assert "10.1.1.1\tdb.local\n" in r and f"{gateway}\tgw\n" in r
    assert "\tbox.example.org box\n" in r and r.endswith("box\n")
    r = net.cli("run", "--rm", "--dns", "foo", "busybox", "true")
    assert 'invalid argument "foo" for "--dns" flag: foo is not an ip address' in r.stderr.decode()
    r = net.cli("run", "--rm", "--add-host", "nocolon", "busybox", "true")
    assert "bad format for add-host" in r.stderr.decode()
    r = net.client.call  # the API validates too (other clients skip our CLI's checks)
    from dockyard.cli.client import APIError

    with pytest.raises(APIError, match="foo is not an ip address"):
        r("POST", "/containers/create", body={"Image": "busybox", "HostConfig": {"Dns": ["foo"]}})


def test_network_commands_create_ls_inspect_prune(net):
    y = free_prefix()
    bridge = f"dytb{random.randint(0, 0xFFFFFF):06x}"
    nid = ok(net.cli("network", "create", "--subnet", f"{y}.0/24", "--ip-range", f"{y}.128/25", "--label",
                     "team=a", "-o", f"com.docker.network.bridge.name={bridge}", "--internal", "lab")).strip()
    assert os.path.exists(f"/sys/class/net/{bridge}")
    assert ok(net.cli("network", "ls", "-q", "--filter", "label=team=a")).strip() == nid[:12]
    assert ok(net.cli("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Internal}}", "-f", "type=custom")) \
        == "lab bridge true\n"
    r = net.cli("network", "create", "lab")
    assert "network with name lab already exists" in r.stderr.decode()
    r = net.cli("network", "create", "--subnet", f"{y}.0/25", "overlap")
    assert "Pool overlaps" in r.stderr.decode()
    ip = ok(net.cli("run", "--rm", "--network", "lab", "busybox", "sh", "-c",
                    "ip -o -4 addr show eth0; ip route | grep -c default || true"))
    assert f"inet {y}.12" in ip and ip.strip().endswith("0")  # from the range; internal: no default route
    r = net.cli("run", "--rm", "--ip", f"{y}.5", "busybox", "true")
    assert "user specified IP address is supported on user defined networks only" in r.stderr.decode()
    r = net.cli("network", "rm", "bridge")
    assert "pre-defined network and cannot be removed" in r.stderr.decode()
    assert ok(net.cli("network", "prune", "-f")) == "Deleted Networks:\nlab\n"
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    r = net.cli("network", "inspect", "lab")
    assert r.returncode == 1 and "No such network: lab" in r.stderr.decode()


def test_parse_dns_question_roundtrip():
    from dockyard.network.dns import answer, parse_question

    query = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\x01a\x04test\x00" + struct.pack("!HH", 1, 1)
    name, qtype, end = parse_question(query)
    assert (name, qtype, end) == ("a.test", 1, len(query))
    reply = answer(query, end, 0, [(1, bytes([1, 2, 3, 4]))])
    assert reply[:2] == query[:2] and reply.endswith(bytes([1, 2, 3, 4]))


def _proxy_processes(daemon_pid: int) -> list[int]:
    children = open(f"/proc/{daemon_pid}/task/{daemon_pid}/children").read().split()
    return [int(pid) for pid in children
            if b"dockyard.network.proxyd" in open(f"/proc/{pid}/cmdline", "rb").read()]


def test_userland_proxy_serves_loopback_and_hairpin_from_its_own_process(net):
    cid = ok(net.cli("run", "-d", "--name", "web", "-p", "80", "busybox", "sh", "-c", HTTPD)).strip()
    port = int(ok(net.cli("port", "web", "80")).strip().rsplit(":", 1)[1])
    assert wait_http(f"http://127.0.0.1:{port}/") == f"hello-{cid[:12]}\n"
    gateway = _inspect(net, "web", "{{.NetworkSettings.Gateway}}")
    # hairpin: the container, and a neighbour, through the host's side of the bridge
    assert ok(net.cli("exec", "web", "wget", "-qO-", f"http://{gateway}:{port}/")) == f"hello-{cid[:12]}\n"
    r = net.cli("run", "--rm", "busybox", "wget", "-qO-", f"http://{gateway}:{port}/")
    assert out(r) == f"hello-{cid[:12]}\n"
    [proxy] = _proxy_processes(net.proc.pid)  # one process for the daemon, not one per port
    ok(net.cli("rm", "-f", "web"))
    again = socket.socket()
    again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    again.bind(("0.0.0.0", port))  # freed: neither the daemon nor its proxy process listens there
    again.listen(1)
    again.close()
    net.stop()
    assert not os.path.exists(f"/proc/{proxy}")  # gone with the daemon


def test_a_bridge_deleted_behind_the_daemons_back_is_made_again(net):
    import subprocess

    bridge = net.own_marks()[0]
    ok(net.cli("run", "--rm", "busybox", "true"))
    subprocess.run(["ip", "link", "del", bridge], check=True)
    text = ok(net.cli("run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr show eth0"))
    assert "inet 10." in text and os.path.exists(f"/sys/class/net/{bridge}")
