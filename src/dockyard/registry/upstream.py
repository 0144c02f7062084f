"""A small blocking client for the pull-through cache's upstream registry: GET with Basic or
Bearer-token auth (the token fetched from the challenge's realm and kept until it expires)."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
import time
import urllib.parse

from dockyard.distribution.auth import parse_challenge

TIMEOUT = 10.0


class UpstreamError(Exception):
    """The upstream could not answer (down, refusing, rate-limiting, 5xx)."""


class Upstream:
    def __init__(self, url: str, username: str = "", password: str = "") -> None:
        self.url = url.rstrip("/")
        self.username, self.password = username, password
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def _open(self, url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        parts = urllib.parse.urlsplit(url)
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.netloc, timeout=TIMEOUT, context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(parts.netloc, timeout=TIMEOUT)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", target, headers={"User-Agent": "dockyard-registry-proxy", **headers})
            return conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise UpstreamError(f"{parts.netloc}: {exc}") from None

    def get(self, path: str, headers: dict[str, str] | None = None, scope: str = "") -> http.client.HTTPResponse:
        """GET ``path``; the caller reads and closes. 404 is returned; other failures raise."""
        headers = dict(headers or {})
        token = self._cached_token(scope)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self.username:
            headers["Authorization"] = self._basic()
        response = self._open(self.url + path, headers)
        if response.status == 401:
            challenge = response.getheader("WWW-Authenticate", "")
            response.read()
            response.close()
            headers["Authorization"] = self._answer(challenge, scope)
            response = self._open(self.url + path, headers)
        if response.status in (200, 206, 404):
            return response
        status = response.status
        response.read()
        response.close()
        raise UpstreamError(f"upstream answered {status}")

    def _cached_token(self, scope: str) -> str:
        with self._lock:
            token, expires = self._tokens.get(scope, ("", 0.0))
        return token if time.time() < expires else ""

    def _answer(self, header: str, scope: str) -> str:
        challenge = parse_challenge(header)
        if challenge is None or challenge.scheme.lower() == "basic":
            return self._basic()
        realm = challenge.params.get("realm", "")
        query = {"service": challenge.params.get("service", "")}
        if scope:
            query["scope"] = scope
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        response = self._open(url, {"Authorization": self._basic()} if self.username else {})
        body = response.read()
        response.close()
        if response.status != 200:
            raise UpstreamError(f"token server answered {response.status}")
        try:
            answer = json.loads(body)
        except ValueError:
            raise UpstreamError("token server sent no JSON") from None
        token = answer.get("token") or answer.get("access_token") or ""
        lifetime = float(answer.get("expires_in") or 60)
        with self._lock:
            self._tokens[scope] = (token, time.time() + max(lifetime - 10, 1))
        return f"Bearer {token}"
