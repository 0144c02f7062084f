"""The registry's errors, with the codes and statuses Docker's registry v2 API and the OCI
distribution spec give them; rendered as ``{"errors": [{"code", "message", "detail"}]}``."""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, distribution's message)
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "TAG_INVALID": (400, "manifest tag did not match URI"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "The operation is unsupported."),
    "TOOMANYREQUESTS": (429, "too many requests"),
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
    "RANGE_INVALID": (416, "invalid content range"),
    "UNAVAILABLE": (503, "service unavailable"),
}


class RegistryError(Exception):
    def __init__(self, code: str, message: str = "", detail: Any = None, *, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        default_status, default_message = CODES[code]
        self.code = code
        self.message = message or default_message
        self.detail = detail
        self.status = status or default_status
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict:
        entry: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}
