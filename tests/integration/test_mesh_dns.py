"""Service names in a real container on a user-defined bridge: busybox's nslookup asks the
embedded DNS resolver (network/dns.py's Resolver, serving the daemon's way: sockets made in the
container's namespace, answered from the daemon's event loop) whose answers come from the
service record source (network/mesh/records.py), as the swarm side will fill it.

The resolver here is the test's own, on 127.0.0.12 in the container's namespace beside the
daemon's on 127.0.0.11: nothing fills the daemon's record source before swarm services exist
(docs/design/mesh.md, "The seam"); DNSView's use of the source is covered in
tests/unit/test_mesh_records.py."""

import asyncio
import re
import socket
import threading

import pytest
from netstate import free_prefix

from dockyard.network import netns
from dockyard.network.dns import Resolver
from dockyard.network.mesh.model import Backend
from dockyard.network.mesh.records import MemoryRecords, ServiceRecord, resolve


def ok(result) -> str:
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    return result.stdout.decode()


def _sockets() -> tuple[socket.socket, socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    udp.bind(("127.0.0.12", 53))
    tcp.bind(("127.0.0.12", 53))
    tcp.listen(8)
    udp.setblocking(False)
    tcp.setblocking(False)
    return udp, tcp


class ServedResolver:
    """A Resolver on its own event loop thread, stopped and its sockets closed by ``close``."""

    def __init__(self, sandbox: str, lookup) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        udp, tcp = netns.run_in(sandbox, _sockets)
        self.resolver = Resolver(lookup, lambda _ip: None, lambda: [])
        asyncio.run_coroutine_threadsafe(self.resolver.serve(udp, tcp), self.loop).result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.resolver.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def container(daemon):
    prefix = free_prefix()
    net, name = f"svc{prefix.replace('.', '')}", f"dnsc{prefix.replace('.', '')}"
    ok(daemon.docker("network", "create", "--subnet", f"{prefix}.0/24", net))
    try:
        ok(daemon.docker("run", "-d", "--name", name, "--network", net, "busybox", "sleep", "300"))
        pid = int(ok(daemon.docker("inspect", "-f", "{{.State.Pid}}", name)))
        yield daemon, net, name, prefix, f"/proc/{pid}/ns/net"
    finally:
        daemon.docker("rm", "-f", name)
        daemon.docker("network", "rm", net)


def _addresses(out: str) -> list[str]:
    """The answer's addresses in busybox nslookup's output (after the server's own lines)."""
    answer = out.split("Name:", 1)[1] if "Name:" in out else ""
    return sorted(re.findall(r"Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)", answer))


def test_service_names_aliases_and_tasks_resolve_in_a_container_from_the_record_source(container):
    daemon, net, name, prefix, sandbox = container
    records = MemoryRecords()
    tasks = (Backend(f"{prefix}.11"), Backend(f"{prefix}.12"), Backend(f"{prefix}.13", healthy=False))
    records.put(net, ServiceRecord("web", vip=f"{prefix}.100", tasks=tasks, aliases=("site",)))
    records.put(net, ServiceRecord("db", endpoint_mode="dnsrr", tasks=tasks[:2]))
    served = ServedResolver(sandbox, lambda q: resolve(records, [net], q))
    try:
        def ask(query: str) -> list[str]:
            return _addresses(ok(daemon.docker("exec", name, "nslookup", "-type=a", query, "127.0.0.12")))

        assert ask("web") == [f"{prefix}.100"]
        assert ask("site") == [f"{prefix}.100"]
        assert ask("tasks.web") == [f"{prefix}.11", f"{prefix}.12"]
        assert ask("db") == [f"{prefix}.11", f"{prefix}.12"]
        records.remove(net, "web")  # the service was removed: the name no longer answers from here
        missing = daemon.docker("exec", name, "nslookup", "-type=a", "web", "127.0.0.12")
        assert _addresses(missing.stdout.decode()) == []
    finally:
        served.close()
