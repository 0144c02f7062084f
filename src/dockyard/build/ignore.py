"""`.dockerignore` patterns with Docker's rules (moby/patternmatcher): Go filepath.Match syntax plus
`**` for any number of directories, `!` exceptions, the last matching pattern wins, and a pattern
that matches a directory matches everything under it."""

from __future__ import annotations

import os
import posixpath

TYPE_CHECKING = False  # not from `typing`, which is slow to import
if TYPE_CHECKING:
    import re

_SPECIAL = set(".+()|{}$^")


class Pattern:
    # A plain class and `re` imported on use: the CLI reads .dockerignore on every build, and
    # `dataclasses` (with `inspect`) and `re` cost more to import than most contexts take to send.
    __slots__ = ("text", "exclusion", "regex", "depth")

    def __init__(self, text: str, exclusion: bool, regex: re.Pattern, depth: int) -> None:
        self.text = text
        self.exclusion = exclusion
        self.regex = regex
        self.depth = depth  # path components in the pattern


def _compile(text: str) -> re.Pattern:
    import re

    out = "^"
    i = 0
    while i < len(text):
        ch = text[i]
        i += 1
        if ch == "*":
            if i < len(text) and text[i] == "*":
                i += 1
                if i < len(text) and text[i] == "/":
                    i += 1
                out += ".*" if i >= len(text) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i < len(text):
            out += re.escape(text[i])
            i += 1
        elif ch == "[":
            end = text.find("]", i)
            if end < 0:
                out += r"\["
            else:
                body = text[i:end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out += "[" + body + "]"
                i = end + 1
        elif ch in _SPECIAL:
            out += "\\" + ch
        else:
            out += ch
    return re.compile(out + "$")


def parse(text: str) -> list[Pattern]:
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        line = posixpath.normpath(line).lstrip("/") or "."
        if line == ".":
            continue
        patterns.append(Pattern(line, exclusion, _compile(line), len(line.split("/"))))
    return patterns


def read(context_dir: str) -> list[Pattern]:
    try:
        with open(os.path.join(context_dir, ".dockerignore"), encoding="utf-8") as f:
            return parse(f.read())
    except FileNotFoundError:
        return []


class Matcher:
    def __init__(self, patterns: list[Pattern]) -> None:
        self.patterns = patterns
        self.has_exclusions = any(p.exclusion for p in patterns)

    def excluded(self, path: str) -> bool:
        """Whether the context-relative ``path`` (slash-separated) is left out."""
        parts = path.split("/")
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # only a pattern of the other kind can change the answer
            hit = bool(pattern.regex.match(path))
            if not hit and len(parts) > 1 and pattern.depth < len(parts):
                hit = bool(pattern.regex.match("/".join(parts[:pattern.depth])))
            if hit:
                matched = not pattern.exclusion
        return matched
