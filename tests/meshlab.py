"""A one-node routing mesh built of network namespaces, for tests/integration/test_mesh.py and
bench/mesh: everything lives in namespaces named after a random tag (no address leaves the
machine) and `close` removes all of it.

    client ──veth── node ──gw bridge── sbox (ingress sandbox) ──br0 bridge (in ns ovl)── tasks
                      └──────gw─────────────────────────────── tasks' second leg (default route)

``ovl`` stands in for the overlay's namespace (its bridge is where the VXLAN device would be);
``gw`` (dy<tag>gw) for docker_gwbridge. The node is a namespace of its own, or this host's
(``host_node``: then the gateway bridge and the veths' node ends are in the host, named dy<tag>...).
Each task runs busybox httpd with a CGI that prints its name and the client address it sees, a
small page and, for throughput, a sparse file of ``big_mb`` MB.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from dockyard.network import netns

# A UDP server answering each datagram with the task's name and the client address it sees.
UDP_WHO = ("import socket, sys\n"
           "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
           "s.bind(('0.0.0.0', int(sys.argv[2])))\n"
           "while True:\n"
           "    data, peer = s.recvfrom(512)\n"
           "    s.sendto(f'{sys.argv[1]} {peer[0]}'.encode(), peer)\n")
UDP_PORT = 5300
WHO = "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"{name} $REMOTE_ADDR\"\n"


def sh(*args: str, ns: str = "") -> str:
    cmd = ["ip", "netns", "exec", ns, *args] if ns else list(args)
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip()}")
    return result.stdout


def mac(ns: str, ifname: str) -> str:
    return sh("cat", f"/sys/class/net/{ifname}/address", ns=ns).strip()


@dataclass
class Task:
    name: str
    ns: str
    ingress_ip: str  # on br0 (the ingress network)
    gw_ip: str  # on the node's gateway bridge
    server: subprocess.Popen | None = None
    udp_server: subprocess.Popen | None = None


@dataclass
class Node:
    """A node of the lab: its namespace ("" = this host's), gateway bridge, ingress sandbox and
    the subnet it shares with the client."""

    ns: str
    gw: str
    gw_net: str
    outside_net: str
    sbox: str
    sbox_ingress_ip: str

    @property
    def ip(self) -> str:
        return f"{self.outside_net}.1"

    @property
    def client_ip(self) -> str:
        return f"{self.outside_net}.2"

    @property
    def sbox_gw_ip(self) -> str:
        return f"{self.gw_net}.2"


class MeshLab:
    def __init__(self, prefixes: tuple[str, str, str], tasks: int = 3, big_mb: int = 0,
                 host_node: bool = False) -> None:
        """``host_node``: this host's own namespace is the node (its nat and filter tables, beside
        whatever else has rules there); its links are named dy<tag>... and removed by ``close``."""
        self.tag = os.urandom(3).hex()
        self.ingress_net = prefixes[0]  # three free 10.a.b prefixes: ingress, gateway, outside
        self.names: list[str] = []
        self.host_links: list[str] = []
        self.dir = tempfile.mkdtemp(prefix="dockyard-meshlab-")
        self.tasks: list[Task] = []
        self.nodes: list[Node] = []
        self.vip = f"{self.ingress_net}.100"
        try:
            self.ovl, self.client = self._ns("ovl"), self._ns("client")
            sh("ip", "link", "add", "br0", "type", "bridge", ns=self.ovl)
            sh("ip", "link", "set", "br0", "up", ns=self.ovl)
            first = self.add_node(prefixes[1], prefixes[2], host=host_node)
            # The first node's names, as most tests use one node.
            self.node, self.gw, self.sbox = first.ns, first.gw, first.sbox
            self.node_ip, self.client_ip = first.ip, first.client_ip
            self.sbox_gw_ip, self.sbox_ingress_ip = first.sbox_gw_ip, first.sbox_ingress_ip
            for i in range(tasks):
                self.add_task(i, big_mb)
        except BaseException:
            self.close()
            raise

    def _ns(self, role: str) -> str:
        name = f"dymesh-{self.tag}-{role}"
        sh("ip", "netns", "add", name)
        self.names.append(name)
        sh("ip", "link", "set", "lo", "up", ns=name)
        return name

    @staticmethod
    def path(ns: str) -> str:
        return f"/run/netns/{ns}" if ns else ""

    def _veth(self, a_ns: str, a: str, b_ns: str, b: str) -> None:
        where = ["netns", b_ns] if b_ns else []  # "": the host's own namespace
        sh("ip", "link", "add", a, "netns", a_ns, "type", "veth", "peer", "name", b, *where)
        sh("ip", "link", "set", a, "up", ns=a_ns)
        sh("ip", "link", "set", b, "up", ns=b_ns)

    def add_node(self, gw_net: str, outside_net: str, host: bool = False) -> Node:
        """Another node on the ingress network, with its ingress sandbox and a leg of the client's
        (the client's interface eth<i> on ``outside_net``); tasks stay where they are."""
        i = len(self.nodes)
        suffix = str(i) if i else ""
        node = Node("" if host else self._ns(f"node{suffix}"), f"dy{self.tag}gw{suffix}", gw_net, outside_net,
                    self._ns(f"sbox{suffix}"), f"{self.ingress_net}.{2 + i}")
        self.nodes.append(node)
        if host:
            self.host_links += [node.gw, f"dy{self.tag}out"]
        sh("ip", "link", "add", node.gw, "type", "bridge", ns=node.ns)
        sh("ip", "link", "set", node.gw, "up", ns=node.ns)
        sh("ip", "addr", "add", f"{gw_net}.1/24", "dev", node.gw, ns=node.ns)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=node.ns)
        # The outside client's leg.
        self._veth(self.client, f"eth{i}", node.ns, f"dy{self.tag}out{suffix}")
        sh("ip", "addr", "add", f"{node.client_ip}/24", "dev", f"eth{i}", ns=self.client)
        sh("ip", "addr", "add", f"{node.ip}/24", "dev", f"dy{self.tag}out{suffix}", ns=node.ns)
        if not i:
            sh("ip", "route", "add", "default", "via", node.ip, ns=self.client)
        # The ingress sandbox: a leg on the ingress network, one on the gateway bridge.
        self._attach(node.sbox, "eth0", self.ovl, "br0", f"{node.sbox_ingress_ip}/24", f"sb{i}")
        self._attach(node.sbox, "eth1", node.ns, node.gw, f"{node.sbox_gw_ip}/24", f"sb{i}")
        sh("ip", "route", "add", "default", "via", f"{gw_net}.1", ns=node.sbox)
        return node

    def _attach(self, ns: str, ifname: str, bridge_ns: str, bridge: str, cidr: str, role: str) -> None:
        host_end = f"dy{self.tag}{role[:4]}{ifname[-1]}"
        if not bridge_ns:
            self.host_links.append(host_end)
        self._veth(ns, ifname, bridge_ns, host_end)
        sh("ip", "link", "set", host_end, "master", bridge, ns=bridge_ns)
        sh("ip", "addr", "add", cidr, "dev", ifname, ns=ns)

    def add_task(self, i: int, big_mb: int = 0) -> Task:
        name = f"t{i}"
        task = Task(name, self._ns(name), f"{self.ingress_net}.{10 + i}", f"{self.nodes[0].gw_net}.{10 + i}")
        self._attach(task.ns, "eth0", self.ovl, "br0", f"{task.ingress_ip}/24", name)
        self._attach(task.ns, "eth1", self.node, self.gw, f"{task.gw_ip}/24", name)
        sh("ip", "route", "add", "default", "via", f"{self.nodes[0].gw_net}.1", ns=task.ns)
        www = os.path.join(self.dir, name)
        os.makedirs(os.path.join(www, "cgi-bin"))
        with open(os.path.join(www, "cgi-bin", "who"), "w") as f:
            f.write(WHO.format(name=name))
        os.chmod(os.path.join(www, "cgi-bin", "who"), 0o755)
        with open(os.path.join(www, "small"), "w") as f:
            f.write("ok\n")
        if big_mb:
            with open(os.path.join(www, "big"), "wb") as f:
                f.truncate(big_mb << 20)
        task.server = subprocess.Popen(["ip", "netns", "exec", task.ns, "busybox", "httpd", "-f", "-p", "80",
                                        "-h", www], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        task.udp_server = subprocess.Popen(["ip", "netns", "exec", task.ns, sys.executable, "-c", UDP_WHO, name,
                                            str(UDP_PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.tasks.append(task)
        self.wait_listening(task.ns, task.ingress_ip, 80)
        while self.udp_who(task.ns, task.ingress_ip, UDP_PORT, timeout=0.2) is None:
            if task.udp_server.poll() is not None:
                raise RuntimeError(f"the UDP server of {name} exited")
        return task

    def wait_listening(self, ns: str, address: str, port: int) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                self.connect(ns, address, port).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    # -- clients --------------------------------------------------------------------------------
    def socket_in(self, ns: str, kind: int = socket.SOCK_STREAM) -> socket.socket:
        return netns.run_in(self.path(ns), lambda: socket.socket(socket.AF_INET, kind))

    def connect(self, ns: str, address: str, port: int) -> socket.socket:
        sock = self.socket_in(ns)
        sock.settimeout(5)
        try:
            sock.connect((address, port))
        except BaseException:
            sock.close()
            raise
        return sock

    @staticmethod
    def ask(sock: socket.socket, path: str = "/cgi-bin/who") -> str:
        """One HTTP/1.0 request on a connected socket; the body."""
        with sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        parts = re.split(rb"\r?\n\r?\n", data, maxsplit=1)  # CGI headers end in plain newlines
        return parts[1].decode().strip() if len(parts) == 2 else ""

    def who(self, ns: str, address: str, port: int) -> tuple[str, str]:
        """(task name, client address the task saw) of one request."""
        name, _, seen = self.ask(self.connect(ns, address, port)).partition(" ")
        # httpd listens on IPv6 too: an IPv4 client shows as [::ffff:a.b.c.d]
        return name, seen.strip("[]").removeprefix("::ffff:")

    def udp_who(self, ns: str, address: str, port: int, timeout: float = 5) -> tuple[str, str] | None:
        """(task name, client address it saw) of one datagram from a new socket, None on no answer."""
        with self.socket_in(ns, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(b"who", (address, port))
            try:
                name, _, seen = sock.recv(512).decode().partition(" ")
            except TimeoutError:
                return None
        return name, seen

    def close(self) -> None:
        for task in self.tasks:
            for server in (task.server, task.udp_server):
                if server is not None and server.poll() is None:
                    server.terminate()
                    server.wait()
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        for link in self.host_links:  # a veth goes with its namespace end; the bridge does not
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
