"""Docker's JSON progress messages, as dockerd writes them into pull and push streams."""

from collections.abc import Callable

Emit = Callable[[dict], None]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float) -> str:
    """go-units HumanSize: decimal units, 4 significant digits ("1.049MB", "772.8kB")."""
    index = 0
    while size >= 1000.0 and index < len(_UNITS) - 1:
        size /= 1000.0
        index += 1
    return f"{size:.4g}{_UNITS[index]}"


def progress_bar(current: int, total: int) -> str:
    """jsonmessage.JSONProgress.String() at the daemon's width (200 columns, no start time)."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    percentage = min(int(current / total * 100) // 2, 50)
    bar = "[" + "=" * percentage + ">" + " " * (50 - percentage) + "] "
    if current > total:
        return bar + f"{human_size(current):>8}"
    return bar + f"{human_size(current):>8}/{human_size(total)}"


def status(text: str, ident: str = "") -> dict:
    """A plain status line ("Pulling from library/busybox", "Digest: sha256:...")."""
    return {"status": text, "id": ident} if ident else {"status": text}


def layer_status(text: str, ident: str) -> dict:
    """A per-layer state change: Docker sends an empty progressDetail with these."""
    return {"status": text, "progressDetail": {}, "id": ident}


def layer_progress(text: str, ident: str, current: int, total: int) -> dict:
    return {"status": text, "progressDetail": {"current": current, "total": total},
            "progress": progress_bar(current, total), "id": ident}


def error(message: str) -> dict:
    return {"errorDetail": {"message": message}, "error": message}


def short(digest: str) -> str:
    """The 12-hex-digit id Docker shows for a layer."""
    return digest.removeprefix("sha256:")[:12]
