"""Docker's output conventions: tabwriter tables, human sizes, relative times."""

import sys
import time


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns as Go's tabwriter lays them out with Docker's settings: minwidth 10, padding 3."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    widths = [max(w + 3, 10) for w in widths]
    lines = []
    for row in [headers, *rows]:
        last = len(row) - 1
        lines.append("".join(cell if i == last else cell.ljust(widths[i]) for i, cell in enumerate(row)))
    return "\n".join(lines) + "\n"


_DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]


def human_size(size: float, precision: int = 3) -> str:
    """go-units HumanSizeWithPrecision: decimal units, %.3g."""
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL_UNITS) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{_DECIMAL_UNITS[i]}"


def binary_size(size: float) -> str:
    """go-units BytesSize: binary units, %.4g."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size /= 1024
        i += 1
    return f"{size:.4g}{units[i]}"


def ago(unix_seconds: float) -> str:
    from dockyard.util.timefmt import human_duration  # datetime: only for the commands that show times

    return human_duration(time.time() - unix_seconds) + " ago"


def ellipsis(text: str, width: int) -> str:
    """Docker's formatter.Ellipsis: cut to ``width`` characters, the last one being '…'."""
    if len(text) <= width:
        return text
    return text[: width - 1] + "…"


def formatted(template: str, rows: list[dict], headers: dict[str, str]) -> str:
    """Docker's --format: a Go template per row; a leading `table` adds a header row and aligns
    tab-separated cells like the default tables."""
    from dockyard.cli.template import render

    if template.startswith("table"):
        body = template[len("table"):].lstrip() or "\t".join("{{." + key + "}}" for key in headers)
        header = render(body, headers)
        lines = [render(body, row) for row in rows]
        cells = [line.split("\t") for line in [header, *lines]]
        width = max(len(c) for c in cells)
        cells = [c + [""] * (width - len(c)) for c in cells]
        return table(cells[0], cells[1:])
    return "".join(render(template, row) + "\n" for row in rows)


def confirmed(warning: str) -> bool:
    """Docker's prune prompt: the warning, then `Are you sure you want to continue? [y/N]`."""
    sys.stdout.write(warning + "\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")
