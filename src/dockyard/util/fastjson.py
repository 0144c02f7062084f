"""JSON for the CLI's start path, built on the C accelerator `_json` directly.

`import json` pulls in `re` and compiles several patterns, which costs milliseconds on every
`dockyard` invocation. The C scanner and string encoder need none of that.
"""

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it; other interpreters fall back
    _json = None  # type: ignore[assignment]


class _ScannerContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None
    memo: dict = {}

    def __init__(self) -> None:
        def constant(name: str) -> float:
            return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]

        self.parse_constant = constant


# The C scanner reads its settings off any object, as json.JSONDecoder passes itself.
_scanner = _json.make_scanner(_ScannerContext()) if _json else None  # type: ignore[arg-type]
_WHITESPACE = " \t\n\r"


def loads(text: str | bytes):
    if _scanner is None:
        import json

        return json.loads(text)
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scanner(text, start)
    except StopIteration as exc:  # the C scanner's way of saying "no value here"
        raise ValueError(f"invalid JSON at position {exc.value}") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"extra data after JSON value at position {end}")
    return value


def dumps(value, *, ensure_ascii: bool = True) -> str:
    if _json is None:
        import json

        return json.dumps(value, ensure_ascii=ensure_ascii)
    encode = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    return _dump(value, encode)


def _dump(value, encode) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return encode(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{encode(str(k))}: {_dump(v, encode)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_dump(v, encode) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
