"""Registry errors, worded as Docker words them and mapped onto the Engine API's statuses."""

import json

from dockyard.errors import DockyardError


class Unauthorized(DockyardError):
    status = 401


class RegistryUnavailable(DockyardError):
    status = 500


class RegistryError(DockyardError):
    """An error answer from the registry; ``code`` is its first errcode ("MANIFEST_UNKNOWN", ...)."""

    def __init__(self, message: str, status: int, code: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.status = {401: 401, 403: 401, 404: 404, 400: 400, 405: 400}.get(status, 500)

    def wrap(self, prefix: str) -> "RegistryError":
        wrapped = RegistryError(f"{prefix}: {self}", 0, self.code)
        wrapped.status = self.status
        return wrapped


def registry_error(body: bytes, status: int, reason: str) -> RegistryError:
    """distribution's errcode formatting: "manifest unknown: manifest unknown", one line per error."""
    try:
        errors = json.loads(body).get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    texts, codes = [], []
    for item in errors:
        if isinstance(item, dict) and item.get("code"):
            codes.append(str(item["code"]))
            texts.append(f"{str(item['code']).lower().replace('_', ' ')}: {item.get('message', '')}")
    if not texts:
        text = {401: "unauthorized: authentication required", 404: "not found"}.get(
            status, f"unexpected status from registry: {status} {reason}".strip())
        return RegistryError(text, status, {401: "UNAUTHORIZED", 404: "NOT_FOUND"}.get(status, ""))
    text = texts[0] if len(texts) == 1 else "errors:\n" + "\n".join(texts)
    return RegistryError(text, status, codes[0])
