"""Registry logins in the docker CLI's config file (`$DOCKER_CONFIG/config.json`, else
`~/.docker/config.json`), `auths` entries holding base64("user:password"), so Docker and Dockyard
share logins; and the `X-Registry-Auth` header made from them."""

import base64
import os

from dockyard.util import fastjson as json

INDEX_SERVER = "https://index.docker.io/v1/"


def config_path() -> str:
    directory = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(directory, "config.json")


def load() -> dict:
    try:
        with open(config_path(), "rb") as f:
            data = json.loads(f.read() or b"{}")
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def save(config: dict) -> None:
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(_pretty(config) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def _pretty(value, indent: str = "") -> str:
    """JSON with a tab indent, as the docker CLI writes config.json."""
    inner = indent + "\t"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {_pretty(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + _pretty(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value)


def server_key(server: str) -> str:
    """The `auths` key: Docker Hub's index URL, else the host[:port] of the server."""
    server = server.strip()
    bare = server.partition("://")[2] or server
    host = bare.partition("/")[0]
    if not server or host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return INDEX_SERVER
    return host


def registry_of(image: str) -> str:
    """The registry part of an image name (Docker Hub when there is none)."""
    first, sep, _rest = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return server_key(first)
    return INDEX_SERVER


def lookup(key: str) -> dict | None:
    auths = load().get("auths") or {}
    for candidate in (key, "https://" + key, "http://" + key):
        entry = auths.get(candidate)
        if entry:
            return entry
    return None


def store(key: str, username: str, password: str, identity_token: str = "") -> None:
    config = load()
    auths = config.setdefault("auths", {})
    entry = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
    if identity_token:
        entry = {"auth": base64.b64encode(f"{username}:".encode()).decode(), "identitytoken": identity_token}
    auths[key] = entry
    save(config)


def erase(key: str) -> bool:
    config = load()
    auths = config.get("auths") or {}
    found = [k for k in (key, "https://" + key, "http://" + key) if k in auths]
    for k in found:
        del auths[k]
    if found:
        save(config)
    return bool(found)


def decoded(entry: dict) -> tuple[str, str]:
    raw = base64.b64decode(entry.get("auth") or "").decode(errors="replace")
    username, _, password = raw.partition(":")
    return entry.get("username") or username, entry.get("password") or password


def registry_auth_header(image_or_server: str, *, is_server: bool = False) -> dict[str, str]:
    """`X-Registry-Auth` for the registry of an image (base64url JSON), from the stored login."""
    key = server_key(image_or_server) if is_server else registry_of(image_or_server)
    entry = lookup(key)
    if not entry:
        return {}
    username, password = decoded(entry)
    body = {"username": username, "password": password, "serveraddress": key}
    if entry.get("identitytoken"):
        body = {"identitytoken": entry["identitytoken"], "serveraddress": key}
    return {"X-Registry-Auth": base64.urlsafe_b64encode(json.dumps(body).encode()).decode()}
