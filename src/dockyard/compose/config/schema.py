"""Validation against the Compose Specification's JSON schema (compose-spec.json, vendored beside this
file from github.com/compose-spec/compose-spec), with Compose v2's wording: the file and the key."""

from __future__ import annotations

import functools
import json
import os

from dockyard.compose.errors import ComposeError

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "compose-spec.json")


@functools.cache
def _validator():
    import jsonschema

    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    return jsonschema.Draft7Validator(schema)


def _where(path) -> str:
    return ".".join(str(p) for p in path)


def _describe(error) -> str:
    where = _where(error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties") or {}))
        extra = [e for e in extra if not str(e).startswith("x-")] or extra
        names = ", ".join(f"'{e}'" for e in extra)
        return f"{where or '(root)'} additional properties {names} not allowed"
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{where} must be a {expected}"
    if error.validator == "oneOf" and error.context:
        # the most specific of the alternatives' errors says most
        best = max(error.context, key=lambda e: len(e.absolute_path))
        return _describe(best) if len(best.absolute_path) > len(error.absolute_path) else \
            f"{where} must be one of the allowed forms ({_short(error.instance)} is not)"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"{where} must be one of the following: {allowed}"
    if error.validator == "required":
        return f"{where or '(root)'}: {error.message}"
    return f"{where}: {error.message}" if where else error.message


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) < 60 else text[:57] + "..."


def _cache_marker(document: dict) -> str | None:
    """Where a document once found valid is remembered: the digest of its canonical JSON and of the
    schema. Importing jsonschema and building its validator cost more than the rest of a command's
    start, and most runs read the same files again."""
    import hashlib

    try:
        text = json.dumps(document, sort_keys=True, default=str)
        stat = os.stat(SCHEMA_PATH)
    except (TypeError, ValueError, OSError):
        return None
    digest = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}\n{text}".encode()).hexdigest()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dockyard", "compose-valid", digest)


def validate(document: dict, filename: str) -> None:
    """Raise ComposeError naming the file and the key of the first problem."""
    marker = _cache_marker(document)
    if marker is not None and os.path.exists(marker):
        return
    _validate(document, filename)
    if marker is not None:
        try:
            os.makedirs(os.path.dirname(marker), exist_ok=True)
            with open(marker, "w"):
                pass
        except OSError:
            pass  # a read-only home: validate every time


def _validate(document: dict, filename: str) -> None:
    import jsonschema

    errors = sorted(_validator().iter_errors(document), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors) or errors[0]
    raise ComposeError(f"validating {filename}: {_describe(error)}", exit_code=15)
