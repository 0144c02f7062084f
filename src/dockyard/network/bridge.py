"""Linux bridges: made (or adopted after a daemon restart) with the gateway address, and removed.

These run rarely (network create, daemon start), so the `ip` tool is good enough here; the
per-container path uses netlink (netlink.py).
"""

import socket
import subprocess

from dockyard.errors import SystemError_


def exists(name: str) -> bool:
    """Asked of the kernel in the daemon's own network namespace: /sys/class/net shows the namespace
    of whoever mounted /sys, which is not ours in a machine (a daemon entered with nsenter)."""
    try:
        socket.if_nametoindex(name)
        return True
    except OSError:
        return False


def addresses(name: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", name], capture_output=True, text=True)
    return [line.split()[3] for line in out.stdout.splitlines() if len(line.split()) > 3]


def _ip_batch(commands: list[str]) -> None:
    result = subprocess.run(["ip", "-batch", "-"], input="\n".join(commands) + "\n", capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemError_(f"configuring the network failed: {result.stderr.strip() or result.stdout.strip()}")


def ensure(name: str, gateway_cidr: str | None, mtu: int) -> None:
    """The bridge ``name`` up with ``gateway_cidr`` (e.g. 172.17.0.1/16) on it; None for no gateway."""
    commands = []
    if not exists(name):
        commands.append(f"link add name {name} type bridge")
    have = addresses(name) if not commands else []
    if gateway_cidr and gateway_cidr not in have:
        commands.append(f"addr add {gateway_cidr} dev {name}")
    commands.append(f"link set dev {name} mtu {mtu} up")
    _ip_batch(commands)


def ensure_ipv6(name: str, gateway_cidr: str) -> None:
    """IPv6 on the bridge ``name`` with ``gateway_cidr`` (e.g. 2001:db8::1/64) on it."""
    write_sysctl(f"net/ipv6/conf/{name}/disable_ipv6", "0")
    out = subprocess.run(["ip", "-o", "-6", "addr", "show", "dev", name], capture_output=True, text=True)
    if gateway_cidr not in [line.split()[3] for line in out.stdout.splitlines() if len(line.split()) > 3]:
        _ip_batch([f"addr add {gateway_cidr} dev {name} nodad"])


def remove(name: str) -> None:
    if exists(name):
        subprocess.run(["ip", "link", "del", "dev", name], capture_output=True)


def write_sysctl(path: str, value: str) -> bool:
    """Set /proc/sys/``path``; False when the kernel refuses (it is then left as it was)."""
    try:
        with open(f"/proc/sys/{path}", "w") as f:
            f.write(value)
        return True
    except OSError:
        return False


def read_sysctl(path: str) -> str:
    try:
        with open(f"/proc/sys/{path}") as f:
            return f.read().strip()
    except OSError:
        return ""
