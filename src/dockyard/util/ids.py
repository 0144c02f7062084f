"""Object IDs: 64 lowercase hex characters, never all digits (Docker avoids those too)."""

import os
import re

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def new_id() -> str:
    while True:
        candidate = os.urandom(32).hex()
        # An all-numeric short ID would read as a number in the CLI (Docker re-rolls these).
        if not candidate[:12].isdigit():
            return candidate


def is_full_id(text: str) -> bool:
    return bool(_HEX64.match(text))


def short_id(full: str) -> str:
    return full.removeprefix("sha256:")[:12]
