"""The channel between a node and the swarm's managers: calls and watches over mutual TLS.

A node (a worker's agent, a manager's daemon) reaches a manager's swarm port with its node
certificate; the manager knows the caller from that certificate alone. Two shapes:

- a call: `POST /rpc/<name>` with a JSON object, answered with one JSON object;
- a watch: `POST /watch/<name>`, answered with JSON lines for as long as the handler yields them
  (the caller's agent follows its tasks this way).

Handlers are registered by name on a manager's `Handlers`, each saying which roles may use it.
`ManagerChannel` is the caller's side: it tries the managers it knows in turn, so a dead manager
(or a lost leader) costs one connection attempt, not the call.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

ROLES = ("manager", "worker")


@dataclass(frozen=True)
class Caller:
    """Who is calling, from its verified certificate."""

    node_id: str
    role: str  # "manager" or "worker"


class ChannelError(Exception):
    """A call the manager answered with an error (status and Docker-style message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ManagersUnreachable(ChannelError):
    def __init__(self, message: str) -> None:
        super().__init__(503, message)


Call = Callable[[Caller, dict[str, Any]], dict[str, Any]]
Stream = Callable[[Caller, dict[str, Any]], Iterator[dict[str, Any]]]


class Handlers:
    """A manager's named calls and watches, and who may use them."""

    def __init__(self) -> None:
        self._calls: dict[str, tuple[Call, tuple[str, ...]]] = {}
        self._streams: dict[str, tuple[Stream, tuple[str, ...]]] = {}

    def add_call(self, name: str, handler: Call, roles: Sequence[str] = ROLES) -> None:
        self._calls[name] = (handler, tuple(roles))

    def add_stream(self, name: str, handler: Stream, roles: Sequence[str] = ROLES) -> None:
        self._streams[name] = (handler, tuple(roles))

    @staticmethod
    def _allowed(name: str, caller: Caller, roles: tuple[str, ...]) -> None:
        if caller.role not in roles:
            raise ChannelError(403, f"{name} is not allowed to a {caller.role} node")

    def call(self, name: str, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        if name not in self._calls:
            raise ChannelError(404, f"no such call: {name}")
        handler, roles = self._calls[name]
        self._allowed(name, caller, roles)
        return handler(caller, body)

    def stream(self, name: str, caller: Caller, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if name not in self._streams:
            raise ChannelError(404, f"no such watch: {name}")
        handler, roles = self._streams[name]
        self._allowed(name, caller, roles)
        return handler(caller, body)


def client_context(ca_file: str, cert_file: str | None = None, key_file: str | None = None) -> ssl.SSLContext:
    """A node's side: the swarm's root is the only trust; a manager is known by the name its
    certificate carries for its role ("swarm-manager", as swarmkit's clients ask for)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file and key_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def post(addr: str, path: str, body: dict[str, Any], context: ssl.SSLContext, timeout: float,
         idle: float | None = -1.0) -> http.client.HTTPResponse:
    """One HTTPS POST to a manager's swarm port; the response is open (a watch reads it by lines).
    `timeout` bounds the connection and the answer's head; `idle` then bounds each read (None: a
    watch, which may be quiet for long; -1: as `timeout`)."""
    host, port = _split(addr)
    connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        # The certificate is checked against the role's name, not the address dialled.
        connection.sock = context.wrap_socket(raw, server_hostname="swarm-manager")
    except BaseException:
        raw.close()
        raise
    payload = json.dumps(body).encode()
    connection.request("POST", path, payload, {"Content-Type": "application/json", "Host": addr})
    response = connection.getresponse()
    if idle != -1.0:
        connection.sock.settimeout(idle)
    return response


def answer(response: http.client.HTTPResponse) -> dict[str, Any]:
    raw = response.read()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {"message": raw.decode(errors="replace")}
    if response.status != 200:
        raise ChannelError(response.status, str(body.get("message", body)))
    return body


class ManagerChannel:
    """Calls to the swarm's managers from this node, with its certificate. The manager that
    answered last (in this process: a daemon is in one swarm) is tried first, so a dead manager
    early in the list costs one connection attempt, not one per call (heartbeats, task reports)."""

    answered_by: ClassVar[str] = ""

    def __init__(self, managers: Callable[[], Sequence[str]], context: ssl.SSLContext, timeout: float = 10.0) -> None:
        self._managers = managers  # the managers' swarm addresses, host:port, best first
        self._context = context
        self._timeout = timeout

    def to(self, addr: str) -> ManagerChannel:
        """The same node's channel to one manager only (the one that asked for something)."""
        return ManagerChannel(lambda: [addr], self._context, self._timeout)

    def _each(self) -> Iterator[str]:
        managers = list(self._managers())
        if not managers:
            raise ManagersUnreachable("this node knows no manager of its swarm")
        if ManagerChannel.answered_by in managers:
            managers.remove(ManagerChannel.answered_by)
            managers.insert(0, ManagerChannel.answered_by)
        yield from managers

    def call(self, name: str, body: dict[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any]:
        errors = []
        for addr in self._each():
            try:
                result = answer(post(addr, f"/rpc/{name}", body or {}, self._context, timeout or self._timeout))
                ManagerChannel.answered_by = addr
                return result
            except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
                errors.append(f"{addr}: {exc}")
        raise ManagersUnreachable("no manager of the swarm answered: " + "; ".join(errors))

    def watch(self, name: str, body: dict[str, Any] | None = None,
              idle: float | None = None) -> Iterator[dict[str, Any]]:
        """The watch's items as they come, from the first manager that accepts it; it ends when that
        manager's stream ends (the caller watches again, from where it was). With `idle`, a read
        waiting longer than that raises TimeoutError (a watch whose handler sends keepalives)."""
        errors = []
        for addr in self._each():
            try:
                response = post(addr, f"/watch/{name}", body or {}, self._context, self._timeout, idle=idle)
            except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
                errors.append(f"{addr}: {exc}")
                continue
            if response.status != 200:
                answer(response)
            ManagerChannel.answered_by = addr
            return _lines(response)
        raise ManagersUnreachable("no manager of the swarm answered: " + "; ".join(errors))


def _lines(response: http.client.HTTPResponse) -> Iterator[dict[str, Any]]:
    try:
        while line := response.readline():
            if line.strip():
                yield json.loads(line)
    finally:
        response.close()
