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

    def leftovers(self, before: "NetState") -> list[str]:
        """What is here now and was not before (ours only: dy*, br-*, veth*; DY-*/DOCKYARD rules;
        nsfs and dockyard-test mounts), so other users of the host do not make tests fail."""
        found = [f"link {name}" for name in sorted(self.links - before.links)
                 if name.startswith(("dy", "br-", "veth"))]
        found += [f"rule {rule}" for rule in sorted(self.rules - before.rules) if "DY-" in rule or "DOCKYARD" in rule]
        found += [f"mount {m}" for m in sorted(self.mounts - before.mounts) if "nsfs" in m or "dockyard-test" in m]
        return found


def settled_leftovers(before: NetState, timeout: float = 5) -> list[str]:
    """``leftovers`` once the kernel had time to delete unpinned namespaces (and their veths)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = host_network_state().leftovers(before)
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
