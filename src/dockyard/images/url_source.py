"""`docker import URL`: the daemon opens the root filesystem tarball at an http(s) URL as a stream."""

from typing import BinaryIO
from urllib.parse import urlsplit

from dockyard.errors import InvalidParameter

TIMEOUT = 60  # seconds without progress, connecting or reading


def normalize(source: str) -> str:
    """Docker's rule: a source without a scheme is a host name, fetched over plain HTTP."""
    if "://" not in source:
        return f"http://{source}"
    return source


def open_url(source: str) -> BinaryIO:
    """The response body of a GET of ``source``, for reading as it arrives; Docker's error words."""
    import urllib.error  # here: urllib.request and the email package cost the daemon's start-up
    import urllib.request

    url = normalize(source)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParameter(f"cannot import from {source!r}: give an http:// or https:// URL, or - for the "
                               "request body")
    request = urllib.request.Request(url, headers={"User-Agent": "dockyard"})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT)  # noqa: S310 - the scheme is checked above
    except urllib.error.HTTPError as exc:
        detail = exc.read(512).decode(errors="replace").strip()
        raise InvalidParameter(f"failed to GET {url} with status {exc.code} {exc.reason}: {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InvalidParameter(f'Get "{url}": {reason}') from None
