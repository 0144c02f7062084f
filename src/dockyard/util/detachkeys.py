"""Detach keys (`--detach-keys`, default ctrl-p,ctrl-q): parsing, and spotting them in a stream."""

from dockyard.errors import InvalidParameter

DEFAULT = "ctrl-p,ctrl-q"
_CTRL_PUNCTUATION = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse(spec: str) -> bytes:
    """"ctrl-p,ctrl-q" -> b"\\x10\\x11", as Docker's term.ToBytes reads it."""
    out = bytearray()
    for key in (spec or DEFAULT).split(","):
        key = key.strip()
        if len(key) == 1:
            out.append(ord(key))
        elif key.startswith("ctrl-") and len(key) == 6:
            ch = key[5]
            if "a" <= ch <= "z":
                out.append(ord(ch) - ord("a") + 1)
            elif ch in _CTRL_PUNCTUATION:
                out.append(_CTRL_PUNCTUATION[ch])
            else:
                raise InvalidParameter(f"Invalid detach keys ({spec}) provided")
        else:
            raise InvalidParameter(f"Invalid detach keys ({spec}) provided")
    return bytes(out)


class DetachScanner:
    """Feed stdin chunks; get back what to forward, and whether the sequence was typed."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        forward = bytearray()
        for byte in data:
            self._held += bytes([byte])
            while self._held and not self.keys.startswith(self._held):
                forward.append(self._held[0])  # not the start of the sequence after all
                self._held = self._held[1:]
            if self._held == self.keys:
                self._held = b""
                return bytes(forward), True
        return bytes(forward), False
