"""What networking leaves on the host: links, netfilter rules and namespace mounts, compared
before and after a test so a daemon that forgets to undo something is caught."""

import subprocess
from dataclasses import dataclass


def _lines(cmd: list[str]) -> set[str]:
    return set(subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines())


@dataclass(frozen=True)
class NetState:
    links: frozenset
    rules: frozenset
    mounts: frozenset

    def leftovers(self, before: "NetState", own: tuple[str, ...] = ()) -> list[str]:
        """What is here now and was not before (ours only: dy*, br-*, veth*; DY-*/DOCKYARD rules;
        nsfs and dockyard-test mounts), so other users of the host do not make tests fail. While
        other test daemons run (suites side by side), only what names ``own`` (the daemon's bridge,
        its directory) counts: their bridges, veths, rules and mounts come and go meanwhile."""
        found = [f"link {name}" for name in sorted(self.links - before.links)
                 if name.startswith(("dy", "br-", "veth"))]
        found += [f"rule {rule}" for rule in sorted(self.rules - before.rules) if "DY-" in rule or "DOCKYARD" in rule]
        found += [f"mount {m}" for m in sorted(self.mounts - before.mounts) if "nsfs" in m or "dockyard-test" in m]
        if own and _other_test_daemons():
            found = [item for item in found if any(mark in item for mark in own)]
        return found


def _other_test_daemons() -> bool:
    """Is any dockyardd running that another test started (data roots under /tmp/dockyard-test-)?"""
    procs = subprocess.run(["pgrep", "-af", "dockyardd"], capture_output=True, text=True).stdout
    return any("dockyard-test-" in line for line in procs.splitlines())


def settled_leftovers(before: NetState, timeout: float = 5, own: tuple[str, ...] = ()) -> list[str]:
    """``leftovers`` once the kernel had time to delete unpinned namespaces (and their veths)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = host_network_state().leftovers(before, own)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def host_network_state() -> NetState:
    links = {line.split(":")[1].strip().split("@")[0] for line in _lines(["ip", "-o", "link"]) if ":" in line}
    rules = {line for line in _lines(["iptables-save"]) if line.startswith(("-A", ":")) and not
             line.startswith((":INPUT", ":OUTPUT", ":FORWARD", ":PREROUTING", ":POSTROUTING"))}
    with open("/proc/mounts") as f:
        mounts = {line for line in f.read().splitlines()}
    return NetState(frozenset(links), frozenset({r.split(" [")[0] for r in rules}), frozenset(mounts))


def free_prefix() -> str:
    """A random 10.a.b /24 no route on this host covers (test suites may run side by side)."""
    import ipaddress
    import random

    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    taken = []
    for line in routes.splitlines():
        word = line.split()[0] if line.split() else ""
        try:
            taken.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            continue
    while True:
        prefix = f"10.{random.randint(200, 254)}.{random.randint(0, 255)}"
        subnet = ipaddress.ip_network(prefix + ".0/24")
        if not any(subnet.overlaps(t) for t in taken if t.prefixlen > 0):
            return prefix


def free_port_pair() -> int:
    """Two consecutive free TCP ports on 0.0.0.0 (the first returned)."""
    import socket

    while True:
        first = socket.socket()
        first.bind(("0.0.0.0", 0))
        port = first.getsockname()[1]
        second = socket.socket()
        try:
            second.bind(("0.0.0.0", port + 1))
            return port
        except OSError:
            continue
        finally:
            first.close()
            second.close()


def wait_http(url: str, timeout: float = 10) -> str:
    """The body at ``url`` once something answers there (a server may still be starting)."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
