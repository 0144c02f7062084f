"""Timestamps in Docker's formats (RFC 3339 with nanoseconds, UTC)."""

import time
from datetime import UTC, datetime

ZERO_TIME = "0001-01-01T00:00:00Z"


def now_ns() -> int:
    return time.time_ns()


def rfc3339_ns(ns: int) -> str:
    """2026-11-23T21:04:05.123456789Z, as Go's time.RFC3339Nano prints UTC times."""
    if ns <= 0:
        return ZERO_TIME
    seconds, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def rfc3339_fixed(ns: int) -> str:
    """Nine fractional digits always, as `docker logs -t` prints (RFC3339NanoFixed)."""
    seconds, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"


def parse_rfc3339(text: str) -> int:
    """Inverse of rfc3339_ns; returns nanoseconds since the epoch (0 for Go's zero time)."""
    if not text or text.startswith("0001-01-01"):
        return 0
    main, _, rest = text.partition(".")
    frac_ns = 0
    if rest:
        digits = ""
        for ch in rest:
            if not ch.isdigit():
                break
            digits += ch
        frac_ns = int((digits + "000000000")[:9])
        suffix = rest[len(digits):]
    else:
        suffix = ""
        if main.endswith("Z"):
            main, suffix = main[:-1], "Z"
        elif len(main) > 19:
            main, suffix = main[:19], main[19:]
    dt = datetime.strptime(main[:19], "%Y-%m-%dT%H:%M:%S")
    offset = 0
    if suffix and suffix != "Z":
        sign = 1 if suffix[0] == "+" else -1
        hh, mm = suffix[1:].split(":")
        offset = sign * (int(hh) * 3600 + int(mm) * 60)
    seconds = int(dt.replace(tzinfo=UTC).timestamp()) - offset
    return seconds * 1_000_000_000 + frac_ns


def human_duration(seconds: float) -> str:
    """Go's go-units HumanDuration, which `docker ps` uses for CREATED and STATUS."""
    if seconds < 1:
        return "Less than a second"
    if int(seconds) == 1:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // (24 * 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // (24 * 30)} months"
    return f"{int(hours / 24 / 365)} years"
