"""The Dockerfile parser: directives, comments, continuations, heredocs, flags, JSON and shell forms.

Follows BuildKit's frontend/dockerfile/parser (the grammar the docker CLI documents): parser
directives only at the very top, the escape character from `# escape=`, comment and blank lines
skipped inside continuations, `<<EOF` heredocs on RUN/COPY/ADD. Variable substitution is not done
here; the builder does it per instruction (shell_words.py), because it depends on build state.
No PyPI parser matches that grammar (dockerfile-parse has no heredocs and different escapes), so
this is our own; see docs/compat.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dockyard.errors import InvalidParameter

INSTRUCTIONS = ("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
                "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")
# Instructions whose argument may be a JSON array (exec form).
JSON_FORMS = ("ADD", "CMD", "COPY", "ENTRYPOINT", "RUN", "SHELL", "VOLUME")
HEREDOC_FORMS = ("ADD", "COPY", "RUN")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*(\"[^\"]*\"|'[^']*'|[A-Za-z_][A-Za-z0-9_]*)")


class ParseError(InvalidParameter):
    """A syntax error, naming the file, the line and the instruction."""


@dataclass
class Heredoc:
    name: str
    content: str
    expand: bool  # an unquoted terminator: variables in the body are expanded
    chomp: bool  # <<-: leading tabs stripped


@dataclass
class Instruction:
    cmd: str  # upper case: RUN
    original: str  # the instruction as written, continuations joined (for messages and ONBUILD)
    rest: str  # everything after the instruction word and its flags
    flags: list[str] = field(default_factory=list)  # ["--from=build", "--chown=1:1"]
    line: int = 0  # first line, 1-based
    json_args: list[str] | None = None  # the exec form, when the argument is a JSON array of strings
    heredocs: list[Heredoc] = field(default_factory=list)

    def flag(self, name: str) -> str | None:
        """The value of --name (the last one given), or None."""
        found = None
        for text in self.flags:
            key, sep, value = text[2:].partition("=")
            if key == name:
                found = value if sep else "true"
        return found


@dataclass
class Dockerfile:
    instructions: list[Instruction]
    escape: str = "\\"
    directives: dict[str, str] = field(default_factory=dict)


def parse(text: str, filename: str = "Dockerfile") -> Dockerfile:
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    directives: dict[str, str] = {}
    index = 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        if not match:
            break
        key, value = match.group(1).lower(), match.group(2)
        if key in ("escape", "syntax", "check"):
            if key in directives:
                raise ParseError(f"failed to parse {filename}: only one {key} parser directive can be used")
            directives[key] = value
        index += 1
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise ParseError(f"failed to parse {filename}: invalid escape token '{escape}' does not match ` or \\")
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[Instruction] = []
    while index < len(lines):
        raw = lines[index]
        start = index + 1
        index += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        logical = raw.lstrip()
        while continuation.search(logical):
            logical = continuation.sub("", logical)
            # Comments and blank lines inside a continuation are dropped, as Docker does.
            while index < len(lines) and (not lines[index].strip() or lines[index].lstrip().startswith("#")):
                index += 1
            if index >= len(lines):
                break
            logical += lines[index]
            index += 1
        instruction = _instruction(logical, start, filename)
        if instruction.cmd in HEREDOC_FORMS or (instruction.cmd == "ONBUILD" and _onbuild_heredoc(logical)):
            index = _read_heredocs(instruction, lines, index, filename)
        out.append(instruction)
    return Dockerfile(out, escape, directives)


def parse_line(text: str, filename: str = "Dockerfile", line: int = 1) -> Instruction:
    """One instruction (an ONBUILD trigger, a `commit -c` change)."""
    return _instruction(text.strip(), line, filename)


def _onbuild_heredoc(logical: str) -> bool:
    word = logical.split(None, 2)
    return len(word) > 1 and word[1].upper() in HEREDOC_FORMS


def _instruction(logical: str, line: int, filename: str) -> Instruction:
    word, _, rest = logical.strip().partition(" ")
    if "\t" in word:
        word, _, more = word.partition("\t")
        rest = more + " " + rest
    cmd = word.upper()
    if cmd not in INSTRUCTIONS:
        raise ParseError(f"failed to parse {filename}: dockerfile parse error on line {line}: "
                         f"unknown instruction: {word}")
    rest = rest.strip()
    flags: list[str] = []
    if cmd in ("ADD", "COPY", "FROM", "HEALTHCHECK", "RUN"):
        while rest.startswith("--"):
            token, _, rest = rest.partition(" ")
            flags.append(token)
            rest = rest.lstrip()
    instruction = Instruction(cmd, logical.strip(), rest, flags, line)
    if cmd in JSON_FORMS and rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            instruction.json_args = value
    if not rest and cmd not in ("CMD", "ENTRYPOINT", "RUN"):
        raise ParseError(f"failed to parse {filename}: dockerfile parse error on line {line}: {cmd} requires "
                         "at least one argument")
    return instruction


def _read_heredocs(instruction: Instruction, lines: list[str], index: int, filename: str) -> int:
    if instruction.json_args is not None:
        return index
    for chomp, quoted in _HEREDOC.findall(instruction.rest):
        name = quoted.strip("\"'")
        body: list[str] = []
        while True:
            if index >= len(lines):
                raise ParseError(f"failed to parse {filename}: dockerfile parse error on line "
                                 f"{instruction.line}: {instruction.cmd}: unterminated heredoc {name}")
            text = lines[index]
            index += 1
            check = text.lstrip("\t") if chomp else text
            if check == name:
                break
            body.append(check if chomp else text)
        content = "\n".join(body) + ("\n" if body else "")
        instruction.heredocs.append(Heredoc(name, content, quoted == name, bool(chomp)))
    return index


def split_words(text: str, escape: str = "\\") -> list[str]:
    """BuildKit's parseWords: whitespace-separated words, quotes and escapes kept (for later expansion)."""
    words: list[str] = []
    word = ""
    quote = ""
    in_word = False
    i = 0
    while i < len(text):
        ch = text[i]
        if not in_word:
            if ch.isspace():
                i += 1
                continue
            in_word = True
        if ch.isspace() and not quote:
            words.append(word)
            word, in_word = "", False
            i += 1
            continue
        if ch == escape and i + 1 < len(text) and quote != "'":
            word += ch + text[i + 1]
            i += 2
            continue
        if quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote = ch
        word += ch
        i += 1
    if in_word:
        words.append(word)
    return words


def name_values(instruction: Instruction, escape: str = "\\") -> list[tuple[str, str | None]]:
    """ENV/LABEL/ARG pairs, quotes kept: `K=V K2="a b"` or the legacy `K value with spaces`."""
    words = split_words(instruction.rest, escape)
    if not words:
        raise ParseError(f"{instruction.cmd} requires at least one argument")
    if "=" not in words[0] and instruction.cmd != "ARG":
        key, _, value = instruction.rest.strip().partition(" ")
        if not value.strip():
            raise ParseError(f"{instruction.cmd} must have two arguments")
        return [(key, value.strip())]
    out: list[tuple[str, str | None]] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not key:
            raise ParseError(f"{instruction.cmd} names can not be blank")
        if not sep:
            if instruction.cmd == "ARG":
                out.append((key, None))
                continue
            raise ParseError(f"Syntax error - can't find = in \"{word}\". Must be of the form: name=value")
        out.append((key, value))
    return out
