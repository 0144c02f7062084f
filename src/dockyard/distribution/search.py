"""`docker search`: the v1 search endpoint where a registry has one, else the v2 catalog filtered by
the term."""

from __future__ import annotations

import urllib.parse

from dockyard.distribution.auth import Credentials
from dockyard.distribution.client import RegistryClient
from dockyard.distribution.endpoints import DOCKER_HUB, RegistryOptions
from dockyard.distribution.errors import RegistryError
from dockyard.errors import InvalidParameter, NotFound

INDEX_HOST = "index.docker.io"


def split_term(term: str) -> tuple[str, str]:
    """"localhost:5000/busy" -> ("localhost:5000", "busy"); "busy" -> ("docker.io", "busy")."""
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return (DOCKER_HUB if first in ("docker.io", INDEX_HOST) else first), rest
    return DOCKER_HUB, term


def search(options: RegistryOptions, term: str, limit: int, credentials: Credentials) -> list[dict]:
    if not term:
        raise InvalidParameter("the search term must not be empty")
    if not 1 <= limit <= 100:
        raise InvalidParameter(f"Limit {limit} is outside the range of [1, 100]")
    domain, remote = split_term(term)
    client = RegistryClient(options, INDEX_HOST if domain == DOCKER_HUB else domain, credentials,
                            scopes=["registry:catalog:*"])
    try:
        return _v1(client, remote, limit)
    except (RegistryError, NotFound):
        pass
    try:
        return _catalog(client, domain, remote, limit)
    except RegistryError as exc:
        raise NotFound(f"the registry {domain} offers neither the v1 search endpoint (/v1/search) nor the v2 "
                       f"catalog (/v2/_catalog): {exc}") from None
    finally:
        client.close()


def _v1(client: RegistryClient, term: str, limit: int) -> list[dict]:
    query = urllib.parse.urlencode({"q": term, "n": limit})
    data, _response = client.json(f"/v1/search?{query}")
    results = data.get("results")
    if not isinstance(results, list):
        raise NotFound("no v1 search results")
    return [_result(r) for r in results if isinstance(r, dict)][:limit]


def _catalog(client: RegistryClient, domain: str, term: str, limit: int) -> list[dict]:
    found: list[dict] = []
    path = "/v2/_catalog?n=1000"
    while path and len(found) < limit:
        data, response = client.json(path)
        for name in data.get("repositories") or []:
            if term.lower() in name.lower():
                found.append(_result({"name": f"{domain}/{name}"}))
        link = response.headers.get("Link", "")
        path = link.partition("<")[2].partition(">")[0] if 'rel="next"' in link else ""
    return found[:limit]


def _result(raw: dict) -> dict:
    return {"name": str(raw.get("name", "")), "description": str(raw.get("description") or ""),
            "star_count": int(raw.get("star_count") or 0), "is_official": bool(raw.get("is_official")),
            "is_automated": bool(raw.get("is_automated"))}

