"""The swarm port (2377) of a manager: where nodes join and where they talk to the managers.

It is HTTPS on dockyard's HTTP server, with the manager's node certificate, in a thread and event
loop of its own (the cluster's calls block on etcd; the Engine API's loop never waits for them):

- `GET /ca`: the swarm's root certificate. Anyone may ask; a joining node trusts it only once its
  sha256 matches the digest in its join token.
- `POST /join`: a join token, the node's description and a CSR; the answer is the node's
  certificate and its place in the swarm (admission.py decides). The caller has no certificate yet
  but checks ours against the root it just verified.
- `POST /rpc/<name>` and `POST /watch/<name>`: the manager/worker channel (channel.py). Only a
  caller whose certificate the swarm's root signed gets in; its node ID and role come from that
  certificate (CN, OU), never from what it says.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from dockyard.cluster.channel import Caller, ChannelError, Handlers
from dockyard.errors import DockyardError
from dockyard.httpserver import Server
from dockyard.httpserver.request import Request
from dockyard.httpserver.response import Response

MAX_BODY = 1 << 20
JoinHandler = Callable[[dict[str, Any], str], dict[str, Any]]  # (request body, caller's IP) -> answer


def _error(status: int, message: str) -> Response:
    return Response(status, {"message": message})


def caller_of(certificate: dict | None) -> Caller | None:
    """The node a verified client certificate names (CN: node ID, OU: swarm-manager/swarm-worker)."""
    if not certificate:
        return None
    fields = {key: value for rdn in certificate.get("subject", ()) for key, value in rdn}
    role = {"swarm-manager": "manager", "swarm-worker": "worker"}.get(fields.get("organizationalUnitName", ""))
    node_id = fields.get("commonName", "")
    return Caller(node_id, role) if node_id and role else None


class SwarmPort:
    def __init__(self, root_pem: bytes, join: JoinHandler, handlers: Handlers) -> None:
        self._root_pem = root_pem
        self._join = join
        self._handlers = handlers

    async def handle(self, request: Request) -> Response | None:
        path = request.path
        try:
            if request.method == "GET" and path == "/ca":
                return Response(200, self._root_pem, {"Content-Type": "application/x-pem-file"})
            if request.method != "POST":
                return _error(405, f"{request.method} is not allowed on {path}")
            body = json.loads(await request.body(MAX_BODY) or b"{}")
            if not isinstance(body, dict):
                return _error(400, "the request body must be a JSON object")
            if path == "/join":
                peer = request.peer[0] if isinstance(request.peer, tuple) else ""
                return Response(200, await asyncio.to_thread(self._join, body, peer))
            caller = caller_of(request.peer_certificate)
            if caller is None:
                return _error(401, "a node certificate signed by this swarm's root CA is required")
            kind, _, name = path.lstrip("/").partition("/")
            if kind == "rpc":
                return Response(200, await asyncio.to_thread(self._handlers.call, name, caller, body))
            if kind == "watch":
                await self._watch(request, name, caller, body)
                return None
            return _error(404, f"no such call: {path}")
        except ValueError as exc:
            return _error(400, f"bad request: {exc}")
        except ChannelError as exc:
            return _error(exc.status, str(exc))
        except DockyardError as exc:
            return _error(exc.status, str(exc))

    async def _watch(self, request: Request, name: str, caller: Caller, body: dict[str, Any]) -> None:
        """A stream of JSON lines from the handler's iterator, until it ends or the caller hangs up."""
        items = self._handlers.stream(name, caller, body)  # refuses before the head is sent
        stream = await request.start_stream(200, {"Content-Type": "application/x-ndjson"})
        done = object()
        try:
            while not request.disconnected:
                item = await asyncio.to_thread(next, items, done)
                if item is done:
                    break
                await stream.write_json(item)
            await stream.finish()
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                await asyncio.to_thread(close)


WORKERS = 64


class PortServer:
    """Serves a SwarmPort on host:port from a thread running an event loop of its own."""

    def __init__(self, port: SwarmPort, context: ssl.SSLContext) -> None:
        self._port = port
        self._context = context
        self._loop = asyncio.new_event_loop()
        # Every watch (a worker's tasks, its overlay peers) holds a thread while it waits for the
        # store; the default pool (CPUs + 4) would leave no thread for the calls with a few workers.
        self._loop.set_default_executor(ThreadPoolExecutor(WORKERS, thread_name_prefix="swarm-port"))
        self._server = Server(port.handle)
        self._thread = threading.Thread(target=self._loop.run_forever, name="swarm-port", daemon=True)

    def start(self, host: str, port: int) -> None:
        self._thread.start()
        future: Future = asyncio.run_coroutine_threadsafe(self._server.listen_tcp(host, port, ssl=self._context),
                                                          self._loop)
        try:
            future.result(10)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()


def server_context(ca_file: str, cert_file: str, key_file: str) -> ssl.SSLContext:
    """The manager's side: its node certificate; a client certificate is asked for and verified
    against the swarm's root, but not required (a joining node has none yet)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    context.load_verify_locations(ca_file)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context
