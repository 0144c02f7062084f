"""Registry credentials and the `WWW-Authenticate` challenge flow (Basic, and Bearer tokens)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from dockyard.errors import InvalidParameter


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # an OAuth refresh token (the IdentityToken of `POST /auth`)
    server: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def decode_registry_auth(header: str) -> Credentials:
    """`X-Registry-Auth`: base64url JSON {username, password, serveraddress} or {identitytoken}; Docker
    also accepts the standard alphabet and missing padding."""
    header = header.strip()
    if not header:
        return Credentials()
    padded = header + "=" * (-len(header) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidParameter("invalid X-Registry-Auth header: expected base64url-encoded JSON") from None
    if not isinstance(data, dict):
        raise InvalidParameter("invalid X-Registry-Auth header: expected a JSON object")
    return credentials_from_json(data)


def credentials_from_json(data: dict) -> Credentials:
    """The AuthConfig object of the Engine API (also the body of `POST /auth`)."""
    username, password = str(data.get("username") or ""), str(data.get("password") or "")
    if not username and data.get("auth"):  # the config.json form: base64(user:pass)
        try:
            username, _, password = base64.b64decode(str(data["auth"])).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidParameter("invalid auth field: expected base64 of username:password") from None
    return Credentials(username, password, str(data.get("identitytoken") or ""),
                       str(data.get("serveraddress") or ""))


_PARAM = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """`Bearer realm="https://auth/token",service="registry",scope="..."` or `Basic realm="..."`."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)
