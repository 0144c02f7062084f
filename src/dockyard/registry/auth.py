"""Access controllers, as distribution configures them: htpasswd (bcrypt, Basic), token (Bearer
JWTs from a token server such as `dockyard registry token-server`) and silly (any credentials).

Each answers ``authorize(request, needed)`` with the user name, or raises UNAUTHORIZED / DENIED
with the ``WWW-Authenticate`` challenge Docker's clients follow."""

from __future__ import annotations

import base64
import os
import threading

from dockyard.registry.config import AuthConfig
from dockyard.registry.errors import RegistryError
from dockyard.registry.http import Request
from dockyard.registry.jwt import Access, TokenInvalid, granted, load_bundle, verify


class AccessController:
    def authorize(self, request: Request, needed: list[Access]) -> str:
        return ""


def _unauthorized(challenge: str, detail: object = None, message: str = "") -> RegistryError:
    return RegistryError("UNAUTHORIZED", message, detail, headers={"WWW-Authenticate": challenge})


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.header("authorization")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


class Htpasswd:
    """An htpasswd file of bcrypt entries, re-read when it changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime = -1.0
        self._users: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._checked: dict[tuple[str, str], bytes] = {}  # bcrypt is slow on purpose; remember successes

    def _load(self) -> None:
        mtime = os.stat(self.path).st_mtime
        if mtime == self._mtime:
            return
        users = {}
        with open(self.path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                user, _, hashed = line.partition(":")
                users[user] = hashed.encode()
        with self._lock:
            self._users, self._mtime, self._checked = users, mtime, {}

    def check(self, user: str, password: str) -> bool:
        import bcrypt

        try:
            self._load()
        except OSError:
            return False
        hashed = self._users.get(user)
        if hashed is None or not hashed.startswith((b"$2a$", b"$2b$", b"$2y$")):
            return False
        if self._checked.get((user, password)) == hashed:
            return True
        # Apache's htpasswd writes $2y$, which is bcrypt's $2b$ under another name.
        ok = bcrypt.checkpw(password.encode(), b"$2b$" + hashed[4:])
        if ok:
            self._checked[(user, password)] = hashed
        return ok


class HtpasswdController(AccessController):
    def __init__(self, options: dict) -> None:
        self.realm = str(options["realm"])
        self.file = Htpasswd(str(options["path"]))

    def authorize(self, request: Request, needed: list[Access]) -> str:
        challenge = f'Basic realm="{self.realm}"'
        credentials = _basic(request)
        if credentials is None:
            raise _unauthorized(challenge)
        if not self.file.check(*credentials):
            raise _unauthorized(challenge, message="authentication required")
        return credentials[0]


class TokenController(AccessController):
    def __init__(self, options: dict) -> None:
        self.realm = str(options["realm"])
        self.service = str(options["service"])
        self.issuer = str(options["issuer"])
        self.roots = load_bundle(str(options["rootcertbundle"]))

    def _challenge(self, needed: list[Access], error: str = "") -> str:
        text = f'Bearer realm="{self.realm}",service="{self.service}"'
        if needed:
            text += ',scope="' + " ".join(a.scope() for a in needed) + '"'
        if error:
            text += f',error="{error}"'
        return text

    def authorize(self, request: Request, needed: list[Access]) -> str:
        header = request.header("authorization")
        if not header.lower().startswith("bearer "):
            raise _unauthorized(self._challenge(needed))
        try:
            claims = verify(header[7:].strip(), self.roots, issuer=self.issuer, service=self.service)
        except TokenInvalid as exc:
            raise _unauthorized(self._challenge(needed, "invalid_token"), message=str(exc)) from None
        have = granted(claims)
        for want in needed:
            for action in want.actions:
                if not any(g.type == want.type and g.name == want.name and (action in g.actions or "*" in g.actions)
                           for g in have):
                    raise _unauthorized(self._challenge(needed, "insufficient_scope"),
                                        detail=[{"Type": want.type, "Name": want.name, "Action": action}])
        return str(claims.get("sub", ""))


class SillyController(AccessController):
    """distribution's test controller: any Authorization header passes."""

    def __init__(self, options: dict) -> None:
        self.realm = str(options["realm"])
        self.service = str(options["service"])

    def authorize(self, request: Request, needed: list[Access]) -> str:
        if not request.header("authorization"):
            scope = " ".join(a.scope() for a in needed)
            raise _unauthorized(f'Bearer realm="{self.realm}",service="{self.service}"'
                                + (f',scope="{scope}"' if scope else ""))
        return ""


def make(config: AuthConfig) -> AccessController:
    return {"": AccessController, "htpasswd": HtpasswdController, "token": TokenController,
            "silly": SillyController}[config.kind](*([config.options] if config.kind else []))
