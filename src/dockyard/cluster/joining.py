"""The joining node's side of `docker swarm join`: trust the swarm's root, then ask for a certificate.

As swarmkit's GetRemoteCA: the root is fetched from the manager without checking the manager
(there is nothing to check it with yet), and trusted only if its sha256 is the digest in the join
token. From then on the manager must present a certificate that root signed for the manager role,
and the node's key never leaves the node (the manager signs a CSR).
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
from dataclasses import dataclass
from typing import Any

from dockyard.cluster.channel import ChannelError, answer, post
from dockyard.cluster.tokens import ca_digest_from_token
from dockyard.errors import DockyardError, InvalidParameter


class Unreachable(Exception):
    """The manager did not answer (refused, timed out, no route): worth trying again."""


class JoinRefused(DockyardError):
    """The manager answered and said no (a bad or rotated token): not worth trying again."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Grant:
    """What a manager gives a node it admits (admission.py writes it)."""

    node_id: str
    cluster_id: str
    role: str
    certificate: bytes
    members: list[tuple[str, str]]  # a manager's etcd members: (name, peer URL); empty for a worker
    managers: list[str]  # the managers' swarm addresses
    # A manager's grant in an autolocked swarm: the unlock key, which the new manager locks its node
    # key with (it travels only inside this mutual-TLS answer, never through the store).
    unlock_key: str = ""

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Grant:
        try:
            return cls(str(raw["NodeID"]), str(raw["ClusterID"]), str(raw["Role"]), str(raw["Certificate"]).encode(),
                       [(str(m["Name"]), str(m["PeerURL"])) for m in raw.get("Members") or []],
                       [str(a) for a in raw.get("Managers") or []], str(raw.get("UnlockKey") or ""))
        except (KeyError, TypeError) as exc:
            raise JoinRefused(502, f"the manager's answer to the join is incomplete: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        return {"NodeID": self.node_id, "ClusterID": self.cluster_id, "Role": self.role,
                "Certificate": self.certificate.decode(),
                "Members": [{"Name": n, "PeerURL": u} for n, u in self.members], "Managers": list(self.managers),
                **({"UnlockKey": self.unlock_key} if self.unlock_key else {})}


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def fetch_root(addr: str, token: str, timeout: float) -> tuple[bytes, str]:
    """The swarm's root certificate from the manager at `addr`, checked against the token's digest;
    also the local address this node reached the manager from (its address as the swarm sees it)."""
    expected = ca_digest_from_token(token)  # "invalid join token" before any traffic
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # not yet: the digest below is the check
    host, port = _split(addr)
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise Unreachable(f"{addr}: {exc}") from None
    local = raw.getsockname()[0]
    try:
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        connection.sock = context.wrap_socket(raw, server_hostname=host)
        connection.request("GET", "/ca", headers={"Host": addr})
        response = connection.getresponse()
        pem = response.read()
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        raw.close()
        raise Unreachable(f"{addr}: {exc}") from None
    if response.status != 200:
        raise JoinRefused(response.status, f"the manager at {addr} did not give its root CA ({response.status})")
    if hashlib.sha256(pem).hexdigest() != expected:
        raise JoinRefused(400, f"remote CA does not match fingerprint. Expected: {expected}")
    return pem, local


def request_join(addr: str, context: ssl.SSLContext, body: dict[str, Any], timeout: float) -> Grant:
    """Present the token and the CSR to the manager at `addr` (verified against the root)."""
    try:
        response = post(addr, "/join", body, context, timeout)
        return Grant.from_json(answer(response))
    except ChannelError as exc:
        raise JoinRefused(exc.status, str(exc)) from None
    except ssl.SSLCertVerificationError as exc:
        raise JoinRefused(400, f"the manager at {addr} is not a manager of the swarm the token names: "
                               f"{exc.verify_message}") from None
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        raise Unreachable(f"{addr}: {exc}") from None


def validate_remote(addr: str, default_port: int) -> str:
    """host:port of a remote manager as Docker accepts it (a bare host gets the swarm port)."""
    if not addr:
        raise InvalidParameter("invalid remoteAddr \"\": invalid empty address")
    host, sep, port = addr.rpartition(":")
    if not sep or (host.count(":") and not host.startswith("[")):
        return f"{addr}:{default_port}" if ":" not in addr else f"[{addr}]:{default_port}"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidParameter(f"invalid remoteAddr {addr!r}: invalid port")
    return addr
