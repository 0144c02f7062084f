"""Image references with Docker's grammar and normalisation.

``busybox`` -> ``docker.io/library/busybox:latest``; ``localhost:5000/a/b:tag`` keeps
its registry; ``name@sha256:...`` pins a manifest digest.
"""

import re
from dataclasses import dataclass

from dockyard.errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_ANCHORED_ID = re.compile(r"^[a-f0-9]{64}$")
NAME_TOTAL_LENGTH_MAX = 255


@dataclass(frozen=True)
class Reference:
    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Fully qualified repository name: docker.io/library/busybox."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The name as Docker prints it: busybox, user/app, localhost:5000/app."""
        if self.domain == DEFAULT_DOMAIN:
            return self.path.removeprefix(OFFICIAL_PREFIX)
        return self.name

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        return self.familiar_name + self._suffix()

    def _suffix(self) -> str:
        out = ""
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def with_tag(self, tag: str) -> "Reference":
        return Reference(self.domain, self.path, tag, None)


def _invalid(text: str) -> InvalidParameter:
    if text.lower() != text and (lowered := _REFERENCE.match(text.lower())):
        name = lowered.group("name")
        _domain, path = _split_domain(text[: len(name)])
        return InvalidParameter(f"invalid reference format: repository name ({path}) must be lowercase")
    return InvalidParameter("invalid reference format")


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        domain, remainder = first, rest
    else:
        domain, remainder = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def parse(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise a reference the way `docker pull`/`docker run` do.

    A bare 64-hex string is refused here (it is an image ID, not a name), as Docker does.
    """
    if not text or _ANCHORED_ID.match(text):
        raise InvalidParameter("invalid reference format: repository name must be canonical"
                               if text else "invalid reference format")
    match = _REFERENCE.match(text)
    if not match:
        raise _invalid(text)
    name = match.group("name")
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidParameter("invalid reference format: repository name must not be more than 255 characters")
    domain, path = _split_domain(name)
    if path.lower() != path:
        raise InvalidParameter(f"invalid reference format: repository name ({path}) must be lowercase")
    tag, digest = match.group("tag"), match.group("digest")
    if digest and digest.startswith("sha256:") and len(digest) != 71:
        raise InvalidParameter("invalid reference format: invalid checksum digest length")
    if default_tag and not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def parse_repository_and_tag(repo: str, tag: str) -> Reference:
    """The API's (repo, tag) pair, as in `POST /images/create?repo=&tag=`."""
    ref = parse(repo, default_tag=False)
    if tag:
        if ref.tag or ref.digest:
            raise InvalidParameter("invalid reference format")
        if not re.fullmatch(_TAG, tag):
            raise InvalidParameter(f"invalid tag format: {tag}")
        return ref.with_tag(tag)
    return ref if ref.tag or ref.digest else ref.with_tag(DEFAULT_TAG)
