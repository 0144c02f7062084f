"""Docker's jsonmessage display: pull/push progress streams rendered per layer, redrawn in place on a
terminal (cursor movements), plain status lines otherwise (progress-bar updates are skipped)."""

import sys


class StreamError(Exception):
    """An `error` message in the stream; the text is what Docker prints."""


def display(messages, out=None, *, tty: bool | None = None, on_aux=None) -> None:
    out = out or sys.stdout
    if tty is None:
        tty = out.isatty()
    lines: dict[str, int] = {}  # layer id -> line index, counted from the first progress line
    for message in messages:
        if "aux" in message:
            if on_aux:
                on_aux(message["aux"])
            continue
        if message.get("error") or message.get("errorDetail"):
            raise StreamError((message.get("errorDetail") or {}).get("message") or message.get("error") or "")
        ident = message.get("id", "")
        has_progress = "progressDetail" in message
        diff = 0
        if ident and has_progress:
            if ident not in lines:
                lines[ident] = len(lines)
                if tty:
                    out.write("\n")
            diff = len(lines) - lines[ident]
            if tty:
                out.write(f"\x1b[{diff}A")
        else:
            lines = {}  # a line that is not per-layer progress: start a new block
        _line(out, message, tty)
        if tty and ident and has_progress:
            out.write(f"\x1b[{diff}B")
        out.flush()


def _line(out, message: dict, tty: bool) -> None:
    detail = message.get("progressDetail")
    bar = message.get("progress", "") if detail is not None else ""
    end = ""
    if tty and detail is not None:
        out.write("\x1b[2K\r")
        end = "\r"
    elif bar:
        return  # progress-bar updates are not shown without a terminal
    ident = message.get("id", "")
    prefix = f"{ident}: " if ident else ""
    if message.get("stream"):
        out.write(message["stream"] + end)
    elif tty and detail is not None:
        out.write(f"{prefix}{message.get('status', '')} {bar}{end}")
    else:
        out.write(f"{prefix}{message.get('status', '')}{end}\n")
