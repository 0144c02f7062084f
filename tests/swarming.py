"""A one-node swarm on a private daemon, for the services tests: init on loopback ports of the
test's own (and a data path port of its own: VXLAN devices of one VNI and port clash between
daemons), and leave at the end, which removes the tasks' containers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from registry import free_port


def free_udp_port() -> int:
    """A free UDP port in Docker's range for the data path port (1024-49151, under the kernel's
    ephemeral ports)."""
    import random
    import socket

    while True:
        port = random.randint(20000, 49151)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
        return port


def ok(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


@contextmanager
def one_node_swarm(daemon) -> Iterator[None]:
    ok(daemon.docker("swarm", "init", "--listen-addr", f"127.0.0.1:{free_port()}", "--advertise-addr", "127.0.0.1",
                     "--data-path-port", str(free_udp_port())))
    try:
        yield
    finally:
        daemon.docker("swarm", "leave", "--force")
