"""``tags/list`` and ``_catalog``: sorted, paginated by ``n`` and ``last`` with RFC 5988 Link headers."""

from __future__ import annotations

import os
from urllib.parse import urlencode

from dockyard.registry.context import Registry
from dockyard.registry.errors import RegistryError
from dockyard.registry.http import Request, Response

MAX_ENTRIES = 1000  # distribution's default catalog page


def _limit(request: Request) -> int:
    n_text = request.arg("n")
    if not n_text:
        return MAX_ENTRIES
    try:
        limit = int(n_text)
    except ValueError:
        limit = -1
    if limit < 0:
        raise RegistryError("PAGINATION_NUMBER_INVALID", detail={"n": n_text})
    return limit


def _page(request: Request, items: list[str], path: str) -> tuple[list[str], dict[str, str]]:
    limit, last = _limit(request), request.arg("last")
    if last:
        items = [item for item in items if item > last]
    page = items[:limit]
    headers = {}
    if limit and len(items) > limit:
        headers["Link"] = f'<{path}?{urlencode({"last": page[-1], "n": limit})}>; rel="next"'
    return page, headers


async def tags_list(app: Registry, request: Request, name: str) -> Response:
    _limit(request)  # a bad n is refused before anything is looked up
    if not os.path.isdir(os.path.join(app.storage.repo_path(name), "_manifests")):
        raise RegistryError("NAME_UNKNOWN", detail={"name": name})
    tags = [tag for tag, _ in app.storage.tags(name)]
    page, headers = _page(request, tags, f"/v2/{name}/tags/list")
    return Response.json({"name": name, "tags": page}, headers=headers)


async def catalog(app: Registry, request: Request) -> Response:
    page, headers = _page(request, app.storage.repositories(), "/v2/_catalog")
    return Response.json({"repositories": page}, headers=headers)
