"""`dockyard registry token-server`: the bearer-token service of distribution's token auth flow.

Clients bring Basic credentials (checked against an htpasswd file) to ``GET /token?service=&scope=``
or the OAuth2 password grant (``POST /token``) and receive a JWT signed by ``--key``, carrying the
certificate ``--cert`` in ``x5c`` so that Dockyard's registry and distribution both verify it against
their ``rootcertbundle``. Authenticated users get what they ask for; anonymous clients get pull
access only with ``--anonymous-pull``."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from dockyard.registry.auth import Htpasswd, _basic
from dockyard.registry.http import Request, Response, serve, tls_context
from dockyard.registry.jwt import parse_scope, sign

log = logging.getLogger("dockyard.registry.token")


@dataclass
class TokenServerConfig:
    addr: str
    key: str
    cert: str
    issuer: str
    service: str
    htpasswd: str
    expiration: int = 300
    tls_cert: str = ""
    tls_key: str = ""
    anonymous_pull: bool = False


class TokenService:
    def __init__(self, config: TokenServerConfig) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        self.config = config
        with open(config.key, "rb") as f:
            self.key_pem = f.read()
        with open(config.cert, "rb") as f:
            self.chain = [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(f.read())]
        self.users = Htpasswd(config.htpasswd)

    def issue(self, user: str, service: str, scopes: list[str]) -> dict:
        access = []
        for scope in scopes:
            for wanted in parse_scope(scope):
                if user:
                    actions = list(wanted.actions)
                elif self.config.anonymous_pull and wanted.type == "repository":
                    actions = [a for a in wanted.actions if a == "pull"]
                else:
                    actions = []
                access.append({"type": wanted.type, "name": wanted.name, "actions": actions})
        now = int(time.time())
        claims = {"iss": self.config.issuer, "sub": user, "aud": service or self.config.service,
                  "exp": now + self.config.expiration, "nbf": now - 10, "iat": now, "jti": os.urandom(12).hex(),
                  "access": access}
        token = sign(claims, self.key_pem, self.chain)
        return {"token": token, "access_token": token, "expires_in": self.config.expiration,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}

    async def handle(self, request: Request) -> Response:
        if request.method == "GET":
            credentials = _basic(request)
            user = ""
            if credentials is not None:
                if not await asyncio.to_thread(self.users.check, *credentials):
                    return _denied()
                user = credentials[0]
            elif request.header("authorization"):
                return _denied()
            return Response.json(self.issue(user, request.arg("service"), request.query.get("scope", [])))
        if request.method == "POST":
            form = parse_qs((await request.body(1 << 16)).decode(errors="replace"))
            field = lambda name: (form.get(name) or [""])[-1]  # noqa: E731
            if field("grant_type") != "password":
                return Response.json({"error": "unsupported_grant_type"}, 400)
            user, password = field("username"), field("password")
            if not await asyncio.to_thread(self.users.check, user, password):
                return _denied()
            scopes = [s for s in field("scope").split(" ") if s]
            return Response.json(self.issue(user, field("service"), scopes))
        return Response.json({"error": "method not allowed"}, 405, {"Allow": "GET, POST"})


def _denied() -> Response:
    return Response.json({"details": "incorrect username or password"}, 401,
                         {"WWW-Authenticate": 'Basic realm="dockyard token server"'})


async def run(config: TokenServerConfig) -> None:
    service = TokenService(config)
    host, _, port = config.addr.rpartition(":")
    tls = tls_context(config.tls_cert, config.tls_key) if config.tls_cert else None
    server = await serve(service.handle, host or "0.0.0.0", int(port), tls=tls)
    log.info("token server listening on %s", config.addr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()


def main(config: TokenServerConfig) -> int:
    logging.basicConfig(level=logging.INFO, format="time=%(asctime)s level=%(levelname)s msg=%(message)s")
    asyncio.run(run(config))
    return 0
