"""Docker's size strings (go-units RAMInBytes): 100, 512k, 64m, 1.5g; binary multiples."""

import re

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([bkmgtp]?)(?:i?b)?")


def parse_bytes(text: str) -> int:
    """Raise ValueError when ``text`` is not a size."""
    match = _SIZE.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(f"invalid size: '{text}'")
    return int(float(match.group(1)) * 1024 ** "bkmgtp".index(match.group(2) or "b"))
