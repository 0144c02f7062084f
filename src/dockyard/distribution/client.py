"""An HTTP(S) client for one registry: endpoint fallback, auth challenges, tokens, redirects.

One instance serves one operation (a pull, a push, a login); it is shared by that operation's
download or upload threads, each of which gets its own keep-alive connection.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import urllib.parse
from collections.abc import Iterable

from dockyard.distribution.auth import Challenge, Credentials, parse_challenge
from dockyard.distribution.endpoints import Endpoint, RegistryOptions
from dockyard.distribution.errors import RegistryUnavailable, Unauthorized, registry_error

USER_AGENT = "docker/20.10 dockyard"
TIMEOUT = 60.0
BLOCK = 1 << 20


class Response:
    """A response whose body the caller reads (or closes); wraps http.client's."""

    def __init__(self, raw: http.client.HTTPResponse, url: str) -> None:
        self.raw = raw
        self.url = url
        self.status = raw.status
        self.headers = raw.headers

    def read(self, n: int = -1) -> bytes:
        return self.raw.read(n) if n >= 0 else self.raw.read()

    def readinto(self, buffer) -> int:
        return self.raw.readinto(buffer)

    def close(self) -> None:
        self.raw.read()  # drain, so the connection can be reused
        self.raw.close()


class RegistryClient:
    def __init__(self, options: RegistryOptions, domain: str, credentials: Credentials | None = None, *,
                 scopes: Iterable[str] = (), push: bool = False) -> None:
        self.options = options
        self.domain = domain
        self.credentials = credentials or Credentials()
        self.scopes = list(scopes)
        self.push = push
        self.endpoint: Endpoint | None = None
        self.challenge: Challenge | None = None
        self._token: str | None = None
        self._token_lock = threading.Lock()
        self._local = threading.local()

    # -- connections -------------------------------------------------------------------------
    def _connection(self, scheme: str, host: str, tls: ssl.SSLContext | None) -> http.client.HTTPConnection:
        pool = self._local.__dict__.setdefault("pool", {})
        conn = pool.get((scheme, host))
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(host, timeout=TIMEOUT, context=tls or ssl.create_default_context(),
                                                   blocksize=BLOCK)
            else:
                conn = http.client.HTTPConnection(host, timeout=TIMEOUT, blocksize=BLOCK)
            pool[(scheme, host)] = conn
        return conn

    def _send(self, method: str, url: str, headers: dict[str, str], body) -> http.client.HTTPResponse:
        parts = urllib.parse.urlsplit(url)
        tls = self.endpoint.tls if self.endpoint and parts.netloc == self.endpoint.host else None
        target = parts.path + ("?" + parts.query if parts.query else "")
        for attempt in (0, 1):
            conn = self._connection(parts.scheme, parts.netloc, tls)
            try:
                conn.request(method, target, body=body, headers={"User-Agent": USER_AGENT, **headers})
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()  # a kept-alive connection the server closed: retry once on a new one
                if attempt or (body is not None and not isinstance(body, bytes)):
                    raise
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        for conn in self._local.__dict__.get("pool", {}).values():
            conn.close()

    # -- endpoint selection and auth ----------------------------------------------------------
    def ping(self) -> Endpoint:
        """GET /v2/ on each candidate endpoint; keep the first that answers like a registry."""
        if self.endpoint is not None:
            return self.endpoint
        last_error = ""
        candidates = self.options.endpoints(self.domain) if not self.push else self._push_endpoints()
        preferred = self.options.working.get(self.domain)
        candidates.sort(key=lambda e: e.base != preferred)  # the one that answered last time first
        for endpoint in candidates:
            url = endpoint.base + "/v2/"
            self.endpoint = endpoint
            try:
                response = self._send("GET", url, {}, None)
                response.read()
            except ssl.SSLError as exc:
                last_error = f'Get "{url}": {_tls_message(exc)}'
                self.endpoint = None
                continue
            except (OSError, http.client.HTTPException) as exc:
                last_error = f'Get "{url}": {_os_message(exc)}'
                self.endpoint = None
                continue
            if response.status == 401:
                self.challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            elif response.status >= 400 and response.status != 404:
                last_error = f'Get "{url}": unexpected status {response.status} {response.reason}'
                self.endpoint = None
                continue
            self.options.working[self.domain] = endpoint.base
            return endpoint
        raise RegistryUnavailable(last_error or f"no endpoint for registry {self.domain}")

    def _push_endpoints(self) -> list[Endpoint]:
        return [e for e in self.options.endpoints(self.domain) if self.domain != "docker.io"
                or e.host == "registry-1.docker.io"]

    def _authorization(self, method: str, url: str) -> dict[str, str]:
        if self.challenge is None or self.endpoint is None or not url.startswith(self.endpoint.base):
            return {}
        if self.challenge.scheme == "basic":
            if self.credentials.empty:
                raise Unauthorized(f'{method.capitalize()} "{url}": no basic auth credentials')
            return {"Authorization": self.credentials.basic_header()}
        if self.challenge.scheme == "bearer":
            return {"Authorization": "Bearer " + self.token()}
        return {}

    def token(self, *, refresh: bool = False) -> str:
        with self._token_lock:
            if self._token is None or refresh:
                self._token = self._fetch_token()
            return self._token

    def _fetch_token(self) -> str:
        params = self.challenge.params if self.challenge else {}
        realm = params.get("realm", "")
        if not realm:
            raise Unauthorized(f"the registry {self.domain} asked for a bearer token without naming a realm")
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query += [("scope", scope) for scope in self.scopes]
        creds = self.credentials
        if creds.identity_token:  # OAuth refresh token flow, as Docker does with an identity token
            form = urllib.parse.urlencode([("grant_type", "refresh_token"), ("refresh_token", creds.identity_token),
                                           ("client_id", "docker"), *query]).encode()
            raw = self._send("POST", realm, {"Content-Type": "application/x-www-form-urlencoded"}, form)
        else:
            if not creds.empty:
                query += [("account", creds.username)]
            headers = {"Authorization": creds.basic_header()} if not creds.empty else {}
            url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
            raw = self._send("GET", url, headers, None)
        body = raw.read()
        if raw.status != 200:
            if raw.status in (401, 403):
                try:
                    detail = json.loads(body).get("details") or ""
                except (ValueError, AttributeError):
                    detail = ""
                raise Unauthorized(f'Get "{realm}": unauthorized: {detail or "incorrect username or password"}')
            raise registry_error(body, raw.status, raw.reason).wrap(f'Get "{realm}"')
        try:
            data = json.loads(body)
        except ValueError:
            raise RegistryUnavailable(f"the token server {realm} answered with something that is not JSON") from None
        token = data.get("token") or data.get("access_token")
        if not token:
            raise RegistryUnavailable(f"the token server {realm} answered without a token")
        return str(token)

    # -- requests ---------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.ping().base + path

    def request(self, method: str, path_or_url: str, *, headers: dict[str, str] | None = None, body=None,
                ok: tuple[int, ...] = (200,), follow: bool = True) -> Response:
        """Send a request to the registry (a path like /v2/... or a Location URL) and return the response
        when its status is in ``ok``; otherwise raise Docker's error for it."""
        base = self.ping().base
        url = path_or_url if "://" in path_or_url else base + path_or_url
        for attempt in range(5):
            all_headers = {**self._authorization(method, url), **(headers or {})}
            raw = self._send(method, url, all_headers, body)
            if raw.status == 401 and attempt == 0 and self.challenge and self.challenge.scheme == "bearer" \
                    and _rewindable(body):
                raw.read()
                self.token(refresh=True)  # an expired token, or one for too small a scope
                continue
            if follow and raw.status in (301, 302, 303, 307, 308) and raw.headers.get("Location"):
                raw.read()
                url = urllib.parse.urljoin(url, raw.headers["Location"])
                if raw.status == 303:
                    method, body = "GET", None
                continue
            if raw.status in ok:
                return Response(raw, url)
            raise registry_error(raw.read(), raw.status, raw.reason)
        raise RegistryUnavailable(f"too many redirects from {url}")

    def json(self, path: str, *, headers: dict[str, str] | None = None) -> tuple[dict, Response]:
        response = self.request("GET", path, headers=headers)
        body = response.read()
        try:
            return json.loads(body), response
        except ValueError:
            raise RegistryUnavailable(f"the registry answered {path} with something that is not JSON") from None


def _rewindable(body) -> bool:
    return body is None or isinstance(body, bytes)


def _tls_message(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"tls: failed to verify certificate: x509: {exc.verify_message}"
    if "WRONG_VERSION_NUMBER" in str(exc) or "wrong version number" in str(exc):
        return "http: server gave HTTP response to HTTPS client"
    return f"tls: {exc.reason or exc}"


def _os_message(exc: Exception) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "dial tcp: connect: connection refused"
    if isinstance(exc, TimeoutError):
        return "net/http: request canceled while waiting for connection (Client.Timeout exceeded)"
    return str(exc) or type(exc).__name__
