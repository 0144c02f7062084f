"""Join tokens as swarmkit writes them (ca/config.go GenerateJoinToken, format v1):

    SWMTKN-1-<sha256 of the root CA's PEM, base 36, 0-padded to 50>-<16 random bytes, base 36, 0-padded to 25>

A joining node checks the CA it downloads against the digest in the token before trusting it;
the secret part tells the role (the worker and manager tokens differ only there).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from dockyard.errors import InvalidParameter

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_DIGEST_LEN = 50  # 36**50 > 2**256
_SECRET_LEN = 25  # 36**25 > 2**128
_SECRET_BYTES = 16


def base36(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = _DIGITS[rest] + digits
    return digits.rjust(width, "0")


def ca_digest(root_ca_pem: bytes) -> str:
    return hashlib.sha256(root_ca_pem).hexdigest()


def generate_join_token(root_ca_pem: bytes) -> str:
    digest = int(ca_digest(root_ca_pem), 16)
    secret = int.from_bytes(secrets.token_bytes(_SECRET_BYTES), "big")
    return f"SWMTKN-1-{base36(digest, _DIGEST_LEN)}-{base36(secret, _SECRET_LEN)}"


def ca_digest_from_token(token: str) -> str:
    """The hex sha256 of the root CA the token names; Docker's "invalid join token" otherwise."""
    parts = token.split("-")
    if len(parts) != 4 or parts[0] != "SWMTKN" or parts[1] != "1":
        raise InvalidParameter("invalid join token")
    try:
        digest = int(parts[2], 36)
    except ValueError:
        raise InvalidParameter("invalid join token") from None
    if digest >= 1 << 256:
        raise InvalidParameter("invalid join token")
    return f"{digest:064x}"


def tokens_match(given: str, expected: str) -> bool:
    """Constant-time comparison: a token is a secret."""
    return hmac.compare_digest(given.encode(), expected.encode())
