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
import tempfile
import time
from dataclasses import dataclass

from dockyard.network import netns

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


class MeshLab:
    def __init__(self, prefixes: tuple[str, str, str], tasks: int = 3, big_mb: int = 0,
                 host_node: bool = False) -> None:
        """``host_node``: this host's own namespace is the node (its nat and filter tables, beside
        whatever else has rules there); its links are named dy<tag>... and removed by ``close``."""
        self.tag = os.urandom(3).hex()
        self.ingress_net, self.gw_net, self.outside_net = prefixes  # three free 10.a.b prefixes
        self.names: list[str] = []
        self.dir = tempfile.mkdtemp(prefix="dockyard-meshlab-")
        self.node = "" if host_node else self._ns("node")
        self.sbox, self.ovl, self.client = (self._ns(n) for n in ("sbox", "ovl", "client"))
        self.gw = f"dy{self.tag}gw"  # docker_gwbridge's stand-in, on the node
        self.host_links: list[str] = [self.gw, f"dy{self.tag}out"] if host_node else []
        self.tasks: list[Task] = []
        self.node_ip = f"{self.outside_net}.1"
        self.client_ip = f"{self.outside_net}.2"
        self.sbox_gw_ip = f"{self.gw_net}.2"
        self.sbox_ingress_ip = f"{self.ingress_net}.2"
        self.vip = f"{self.ingress_net}.100"
        try:
            self._build(tasks, big_mb)
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

    def _build(self, tasks: int, big_mb: int) -> None:
        for ns, bridge in ((self.ovl, "br0"), (self.node, self.gw)):
            sh("ip", "link", "add", bridge, "type", "bridge", ns=ns)
            sh("ip", "link", "set", bridge, "up", ns=ns)
        sh("ip", "addr", "add", f"{self.gw_net}.1/24", "dev", self.gw, ns=self.node)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=self.node)
        # The outside client.
        self._veth(self.client, "eth0", self.node, f"dy{self.tag}out")
        sh("ip", "addr", "add", f"{self.client_ip}/24", "dev", "eth0", ns=self.client)
        sh("ip", "addr", "add", f"{self.node_ip}/24", "dev", f"dy{self.tag}out", ns=self.node)
        sh("ip", "route", "add", "default", "via", self.node_ip, ns=self.client)
        # The ingress sandbox: a leg on the ingress network, one on the gateway bridge.
        self._attach(self.sbox, "eth0", self.ovl, "br0", f"{self.sbox_ingress_ip}/24", "sbox")
        self._attach(self.sbox, "eth1", self.node, self.gw, f"{self.sbox_gw_ip}/24", "sbox")
        sh("ip", "route", "add", "default", "via", f"{self.gw_net}.1", ns=self.sbox)
        for i in range(tasks):
            self.add_task(i, big_mb)

    def _attach(self, ns: str, ifname: str, bridge_ns: str, bridge: str, cidr: str, role: str) -> None:
        host_end = f"dy{self.tag}{role[:4]}{ifname[-1]}"
        if not bridge_ns:
            self.host_links.append(host_end)
        self._veth(ns, ifname, bridge_ns, host_end)
        sh("ip", "link", "set", host_end, "master", bridge, ns=bridge_ns)
        sh("ip", "addr", "add", cidr, "dev", ifname, ns=ns)

    def add_task(self, i: int, big_mb: int = 0) -> Task:
        name = f"t{i}"
        task = Task(name, self._ns(name), f"{self.ingress_net}.{10 + i}", f"{self.gw_net}.{10 + i}")
        self._attach(task.ns, "eth0", self.ovl, "br0", f"{task.ingress_ip}/24", name)
        self._attach(task.ns, "eth1", self.node, self.gw, f"{task.gw_ip}/24", name)
        sh("ip", "route", "add", "default", "via", f"{self.gw_net}.1", ns=task.ns)
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
        self.tasks.append(task)
        self.wait_listening(task.ns, task.ingress_ip, 80)
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
    def socket_in(self, ns: str) -> socket.socket:
        return netns.run_in(self.path(ns), lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))

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

    def close(self) -> None:
        for task in self.tasks:
            if task.server is not None and task.server.poll() is None:
                task.server.terminate()
                task.server.wait()
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        for link in self.host_links:  # a veth goes with its namespace end; the bridge does not
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
