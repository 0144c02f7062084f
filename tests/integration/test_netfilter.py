"""Netfilter rules that heal, and a Docker daemon with its own iptables rules beside Dockyard.

The hard case the issue met: FORWARD policy DROP and br_netfilter on (so traffic inside a bridge
crosses iptables FORWARD), a dockerd that starts before or after dockyardd, and jumps into our
chains deleted by someone else. Each test sets the policy and bridge-nf-call-iptables as Docker
does and puts them back as found; the private dockerd runs on a bridge and subnet of its own and
its rules, bridge and files are removed afterwards. Traffic stays on this host.
"""

import ipaddress
import os
import subprocess
import time

import pytest
from conftest import DOCKER_CLI, PrivateDaemon, PrivateDocker, _bench_daemons
from netstate import free_port_pair, free_prefix, host_network_state, settled_leftovers, wait_http

from dockyard.network import ipam

HTTPD = "mkdir -p /www && echo hello-$HOSTNAME > /www/index.html && exec httpd -f -p 80 -h /www"
# Inside a container: retry until the peer answers (httpd may still be starting), bounded.
RETRY = "for i in $(seq 50); do {cmd} && exit 0; sleep 0.1; done; exit 1"
BRIDGE_NF = "net/bridge/bridge-nf-call-iptables"


def ok(result) -> str:
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    return result.stdout.decode()


def _sysctl(path: str) -> str | None:
    try:
        with open(f"/proc/sys/{path}") as f:
            return f.read().strip()
    except OSError:
        return None


def _set_sysctl(path: str, value: str) -> None:
    with open(f"/proc/sys/{path}", "w") as f:
        f.write(value)


def _forward_policy() -> str:
    first = subprocess.run(["iptables", "-w", "-S", "FORWARD"], capture_output=True, text=True).stdout.split("\n")[0]
    return first.split()[-1]  # "-P FORWARD DROP"


@pytest.fixture
def docker_like_host():
    """FORWARD policy DROP and bridged traffic through iptables, as a Docker daemon leaves the host;
    both put back as found. br_netfilter is built into this kernel or already loaded when
    /proc/sys/net/bridge exists (modules cannot be loaded here)."""
    policy, bridge_nf, forward = _forward_policy(), _sysctl(BRIDGE_NF), _sysctl("net/ipv4/ip_forward")
    subprocess.run(["iptables", "-w", "-P", "FORWARD", "DROP"], check=True)
    if bridge_nf is not None:
        _set_sysctl(BRIDGE_NF, "1")
    before = host_network_state()
    yield before
    subprocess.run(["iptables", "-w", "-P", "FORWARD", policy], check=True)
    if bridge_nf is not None:
        _set_sysctl(BRIDGE_NF, bridge_nf)
    if forward is not None:
        _set_sysctl("net/ipv4/ip_forward", forward)


def _host_address() -> str:
    """A non-loopback address of this host that is not on a container bridge (DNAT, not the proxy)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        words = line.split()
        if not words[1].startswith(("dy", "dk", "br-", "docker")):
            return words[3].split("/")[0]
    pytest.skip("this host has no global IPv4 address outside container bridges")


def _dockyard(busybox_tar, *, bip: bool = True, extra: list[str] | None = None) -> PrivateDaemon:
    d = PrivateDaemon(busybox_tar, extra)
    if not bip:  # let the daemon choose its default bridge's subnet
        i = d.extra_args.index("--bip")
        del d.extra_args[i:i + 2]
    return d


def _free16(*candidates: str) -> str | None:
    """The first of ``candidates`` (/16s) that no route and no address of this host overlaps."""
    taken = [n for _iface, n in (*ipam.host_routes(), *ipam.host_address_networks())]
    return next((c for c in candidates if not any(ipaddress.ip_network(c).overlaps(t) for t in taken)), None)


class HostDocker:
    """The Docker daemon already running on this host (default socket), used as the neighbour
    rather than starting a second dockerd with iptables, which would flush its DOCKER chains."""

    host = "unix:///var/run/docker.sock"
    bridge = None

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
        return subprocess.run([DOCKER_CLI, "-H", self.host, *args], input=input, capture_output=True,
                              timeout=timeout, env=env)

    def cleanup(self) -> None:
        self.docker("rmi", "busybox:nf")

    def unusable(self) -> str | None:
        """Why this dockerd cannot run a container on its default bridge, if it cannot: it answers
        but its bridge is gone (deleted behind its back; it makes it again only at a restart)."""
        r = self.docker("network", "inspect", "-f", '{{index .Options "com.docker.network.bridge.name"}}', "bridge")
        if r.returncode != 0:
            return r.stderr.decode().strip()
        name = r.stdout.decode().strip() or "docker0"
        return None if os.path.exists(f"/sys/class/net/{name}") else f"its bridge {name} is gone"


def _docker(bridge_cidr: str, *, may_share: bool) -> PrivateDocker | HostDocker:
    """A dockerd with iptables on its own bridge; or, when one runs on this host already, that one
    (``may_share``: a test that needs Docker started after Dockyard cannot use it and is skipped)."""
    running = _bench_daemons().iptables_dockerds()
    if running:
        if may_share and os.path.exists("/var/run/docker.sock") and HostDocker().docker("version").returncode == 0:
            why = HostDocker().unusable()
            if why is not None:
                pytest.skip(f"the Docker daemon on this host cannot run containers: {why}")
            return HostDocker()
        pytest.skip(f"a dockerd with iptables already runs here ({running[0][:120]}); a second one would "
                    "flush its DOCKER chains")
    docker = PrivateDocker(bridge_cidr)
    why = docker.start()
    if why is not None:
        docker.cleanup()
        pytest.skip(f"no Docker daemon to run beside Dockyard: {why}")
    return docker


def _import(docker, busybox_tar) -> None:
    with open(busybox_tar, "rb") as tar:
        ok(docker.docker("import", "-c", 'CMD ["sh"]', "-", "busybox:nf", input=tar.read()))


class Walkthrough:
    """The books' networking walkthroughs (Docker in Action ch.5, Deep Dive ch.11) on one daemon,
    driven by the real docker CLI: the default bridge with a link, a user-defined network with
    names, a published port from the host (userland proxy and DNAT)."""

    def __init__(self, docker, image: str = "busybox") -> None:
        self.docker, self.image = docker, image
        self.port = free_port_pair()
        tag = os.urandom(2).hex()  # names of our own, should the daemon be shared
        self.net, self.web, self.api = f"walk{tag}", f"web{tag}", f"api{tag}"

    def start(self) -> None:
        ok(self.docker("run", "-d", "--name", self.web, "-p", f"{self.port}:80", self.image, "sh", "-c", HTTPD))
        ok(self.docker("network", "create", "--subnet", f"{free_prefix()}.0/24", self.net))
        ok(self.docker("run", "-d", "--name", self.api, "--network", self.net, "--network-alias", "backend",
                       self.image, "sh", "-c", HTTPD))

    def gateway(self) -> str:
        return ok(self.docker("inspect", "-f", "{{.NetworkSettings.Gateway}}", self.web)).strip()

    def check(self, host_address: str) -> None:
        linked = ok(self.docker("run", "--rm", "--link", f"{self.web}:site", self.image, "sh", "-c",
                                RETRY.format(cmd="ping -c1 -W1 site >/dev/null && wget -qO- http://site/")))
        assert linked.startswith("hello-"), linked
        named = ok(self.docker("run", "--rm", "--network", self.net, self.image, "sh", "-c",
                               RETRY.format(cmd=f"ping -c1 -W1 {self.api} >/dev/null && wget -qO- http://backend/")))
        assert named.startswith("hello-"), named
        assert wait_http(f"http://127.0.0.1:{self.port}/").startswith("hello-")
        assert wait_http(f"http://{host_address}:{self.port}/").startswith("hello-")

    def reach(self, address: str, port: int) -> str:
        """From a container on the default bridge, a published port of the other daemon."""
        return ok(self.docker("run", "--rm", self.image, "sh", "-c",
                              RETRY.format(cmd=f"wget -qO- http://{address}:{port}/")))

    def cleanup(self) -> None:
        self.docker("rm", "-f", self.web, self.api)
        self.docker("network", "rm", self.net)


def _side_by_side(dockyard: PrivateDaemon, docker: PrivateDocker) -> None:
    ours = Walkthrough(dockyard.docker)
    theirs = Walkthrough(docker.docker, "busybox:nf")
    try:
        ours.start()
        theirs.start()
        host = _host_address()
        ours.check(host)
        theirs.check(host)
        # Each daemon's containers reach the other's published port through their own gateway.
        assert ours.reach(ours.gateway(), theirs.port).startswith("hello-")
        assert theirs.reach(theirs.gateway(), ours.port).startswith("hello-")
    finally:
        ours.cleanup()
        theirs.cleanup()


def _jumps(prefix: str) -> list[tuple[str, str, str]]:
    return [("nat", "PREROUTING", prefix), ("nat", "OUTPUT", prefix), ("nat", "POSTROUTING", f"{prefix}-POST"),
            ("filter", "FORWARD", f"{prefix}-FWD")]


def _jump_rules(prefix: str) -> dict[tuple[str, str, str], list[str]]:
    """Each of our four jumps -> the rules that make it (iptables -S form, without -A CHAIN)."""
    found = {}
    for table, chain, target in _jumps(prefix):
        lines = subprocess.run(["iptables", "-w", "-t", table, "-S", chain], capture_output=True,
                               text=True).stdout.splitlines()
        found[(table, chain, target)] = [line.split(None, 2)[2] for line in lines
                                         if line.startswith("-A ") and line.split()[-2:] == ["-j", target]]
    return found


def test_jumps_and_rules_removed_behind_the_daemons_back_come_back(docker_like_host, busybox_tar):
    d = _dockyard(busybox_tar).start()
    try:
        d.import_busybox()
        prefix = f"DY-{d.own_marks()[0]}"
        assert "WARNING" not in d.docker("info").stderr.decode()
        walk = Walkthrough(d.docker)
        walk.start()
        before = _jump_rules(prefix)
        assert all(len(rules) == 1 for rules in before.values()), before
        for (table, chain, _target), rules in before.items():
            subprocess.run(["iptables", "-w", "-t", table, "-D", chain, *rules[0].split()], check=True)
        subprocess.run(["iptables", "-w", "-F", f"{prefix}-FWD"], check=True)
        deadline = time.monotonic() + 15
        while _jump_rules(prefix) != before or "restored rules of filter" not in d.log():
            assert time.monotonic() < deadline, f"not restored: {_jump_rules(prefix)}\n{d.log()[-2000:]}"
            time.sleep(0.05)
        log = d.log()
        for table, chain, target in _jumps(prefix):
            assert f"restored jump {chain if table == 'filter' else f'nat {chain}'} -> {target}" in log, log
        walk.check(_host_address())
        warning = "WARNING: netfilter rules of dockyardd were removed by another program and restored"
        assert warning in d.cli("info").stderr.decode()
        assert warning in d.docker("info").stderr.decode()
        walk.cleanup()
    finally:
        d.cleanup()
    assert settled_leftovers(docker_like_host, own=d.own_marks()) == []


def test_docker_started_before_dockyard_keeps_both_working(docker_like_host, busybox_tar):
    # Docker's docker0 usually sits on 172.17.0.0/16 (or 172.18.0.0/16): give ours that subnet.
    docker_net = _free16("172.17.0.0/16", "172.18.0.0/16") or f"{free_prefix()}.0/24"
    gateway = ipaddress.ip_network(docker_net)[1]
    docker = _docker(f"{gateway}/{ipaddress.ip_network(docker_net).prefixlen}", may_share=True)
    d = _dockyard(busybox_tar, bip=False)
    try:
        if isinstance(docker, HostDocker):
            docker_net = ok(docker.docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
                                          "bridge")).strip()
        _import(docker, busybox_tar)
        d.start()
        d.import_busybox()
        # The default bridge chose a subnet away from Docker's bridge.
        subnet = ok(d.docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
                             "bridge")).strip()
        assert not ipaddress.ip_network(subnet).overlaps(ipaddress.ip_network(docker_net)), subnet
        _side_by_side(d, docker)
    finally:
        d.cleanup()
        docker.cleanup()
    assert settled_leftovers(docker_like_host, own=d.own_marks()) == []


def test_docker_started_after_dockyard_keeps_both_working(docker_like_host, busybox_tar):
    d = _dockyard(busybox_tar).start()
    docker = None
    try:
        d.import_busybox()
        ok(d.docker("run", "-d", "--name", "early", "busybox", "sh", "-c", HTTPD))
        docker = _docker(f"{free_prefix()}.1/24", may_share=False)
        _import(docker, busybox_tar)
        _side_by_side(d, docker)
        early = ok(d.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "early")).strip()
        page = ok(d.docker("run", "--rm", "busybox", "sh", "-c", RETRY.format(cmd=f"wget -qO- http://{early}/")))
        assert page.startswith("hello-")
    finally:
        d.cleanup()
        if docker is not None:
            docker.cleanup()
    assert settled_leftovers(docker_like_host, own=d.own_marks()) == []


def test_default_bridge_avoids_the_subnet_of_a_bridge_that_is_down(busybox_tar):
    """A stopped Docker leaves docker0 down with 172.17.0.1/16 and no route; it takes the subnet
    back when it starts, so the default bridge must not choose it. The subnet the daemon would
    choose first (172.17.0.0/16, or its pool's first free /24 when that is taken) is put on a
    bridge left down."""
    d = _dockyard(busybox_tar, bip=False)
    pool = d.extra_args[d.extra_args.index("--default-address-pool") + 1].split(",")[0].split("=")[1]
    taken = [n for _iface, n in (*ipam.host_routes(), *ipam.host_address_networks())]
    first = ipam.free_subnet([("172.17.0.0/16", 16), (pool, 24)], taken)
    fake = f"dk{os.urandom(3).hex()}"
    subprocess.run(["ip", "link", "add", fake, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{first[1]}/{first.prefixlen}", "dev", fake], check=True)  # left down
        d.start()
        chosen = ok(d.docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
                             "bridge")).strip()
        assert not ipaddress.ip_network(chosen).overlaps(first), (chosen, first)
    finally:
        d.cleanup()
        subprocess.run(["ip", "link", "delete", fake], check=True)
