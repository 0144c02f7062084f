"""Variable substitution with Docker's rules (BuildKit's shell.Lex): `$V`, `${V}`, `${V:-w}`, `${V-w}`,
`${V:+w}`, `${V+w}`, `${V:?msg}`, `${V?msg}`; single quotes are literal, double quotes group, the
escape character makes the next character literal (inside double quotes only before `"`, `$` and
itself). `process_word` gives one string; `process_words` splits on unquoted whitespace (EXPOSE,
VOLUME, COPY sources)."""

from __future__ import annotations

from dockyard.errors import InvalidParameter


class Lexer:
    def __init__(self, text: str, env: dict[str, str], escape: str = "\\", *, quotes: bool = True) -> None:
        self.quotes = quotes  # False for heredoc bodies: quotes are just characters there
        self.text = text
        self.env = env
        self.escape = escape
        self.pos = 0

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _next(self) -> str:
        ch = self._peek()
        self.pos += 1
        return ch

    def words(self) -> list[str]:
        out: list[str] = []
        word: list[str] = []
        started = False
        while self.pos < len(self.text):
            ch = self._peek()
            if ch.isspace():
                self.pos += 1
                if started:
                    out.append("".join(word))
                    word, started = [], False
                continue
            started = True
            word.append(self._piece())
        if started:
            out.append("".join(word))
        return out

    def word(self) -> str:
        parts: list[str] = []
        while self.pos < len(self.text):
            parts.append(self._piece())
        return "".join(parts)

    def _piece(self, stop: str = "") -> str:
        """One unit: a quoted string, a variable, an escaped character or a plain character."""
        ch = self._next()
        if ch == "'" and self.quotes:
            return self._single_quoted()
        if ch == '"' and self.quotes:
            return self._double_quoted()
        if ch == "$":
            return self._dollar()
        if ch == self.escape:
            nxt = self._next()
            return nxt  # "\" at the very end is dropped
        return ch

    def _single_quoted(self) -> str:
        start = self.pos
        end = self.text.find("'", start)
        if end < 0:
            raise InvalidParameter("unexpected end of statement while looking for matching single-quote")
        self.pos = end + 1
        return self.text[start:end]

    def _double_quoted(self) -> str:
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise InvalidParameter("unexpected end of statement while looking for matching double-quote")
            ch = self._next()
            if ch == '"':
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
            elif ch == self.escape and self._peek() in ('"', "$", self.escape) and self._peek():
                out.append(self._next())
            else:
                out.append(ch)

    def _name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "_"):
            self.pos += 1
        return self.text[start:self.pos]

    def _dollar(self) -> str:
        if self._peek() != "{":
            name = self._name()
            if not name:
                return "$"
            return self.env.get(name, "")
        self.pos += 1
        name = self._name()
        if not name:
            raise InvalidParameter(f"bad substitution: {self.text}")
        ch = self._next()
        if ch == "}":
            return self.env.get(name, "")
        colon = ch == ":"
        if colon:
            ch = self._next()
        if ch not in ("-", "+", "?"):
            raise InvalidParameter(f"unsupported modifier ({ch}) in substitution: {self.text}")
        word = self._until_brace()
        value = self.env.get(name)
        is_set = value is not None and (value != "" or not colon)
        if ch == "-":
            return value if value is not None and is_set else word
        if ch == "+":
            return word if is_set else ""
        if value is None or not is_set:
            raise InvalidParameter(f"{name}: {word or 'is not allowed to be unset'}")
        return value

    def _until_brace(self) -> str:
        parts: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise InvalidParameter(f"missing '}}' in substitution: {self.text}")
            if self._peek() == "}":
                self.pos += 1
                return "".join(parts)
            parts.append(self._piece())


def process_word(text: str, env: dict[str, str], escape: str = "\\") -> str:
    return Lexer(text, env, escape).word()


def process_words(text: str, env: dict[str, str], escape: str = "\\") -> list[str]:
    return Lexer(text, env, escape).words()


def expand_heredoc(text: str, env: dict[str, str], escape: str = "\\") -> str:
    return Lexer(text, env, escape, quotes=False).word()


def env_map(env_list: list[str]) -> dict[str, str]:
    out = {}
    for entry in env_list or []:
        key, _, value = entry.partition("=")
        out[key] = value
    return out
