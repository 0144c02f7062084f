"""Image archive commands: save, load."""

import os
import sys

from dockyard.cli.client import Client
from dockyard.cli.flags import Command, Opt, command

SAVE = Command("save", "[OPTIONS] IMAGE [IMAGE...]",
               "Save one or more images to a tar archive (streamed to STDOUT by default)", (
    Opt(("-o", "--output"), "output", "str", "Write to a file, instead of STDOUT", metavar="string"),
), min_args=1)
LOAD = Command("load", "[OPTIONS]", "Load an image from a tar archive or STDIN", (
    Opt(("-i", "--input"), "input", "str", "Read from tar archive file, instead of STDIN", metavar="string"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Suppress the load output"),
), max_args=0)


@command(SAVE)
def save(client: Client, values: dict, names: list[str]) -> int:
    output = values["output"]
    if not output and sys.stdout.isatty():
        sys.stderr.write("cowardly refusing to save to a terminal. Use the -o flag or redirect\n")
        return 1
    if output:
        directory = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(directory):
            sys.stderr.write(f'failed to save image: invalid output path: directory "{directory}" does not exist\n')
            return 1
    response = client.send("GET", "/images/get", query={"names": names})
    try:
        if not output:
            while data := response.read_some():
                sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return 0
        # Like the docker CLI: write beside the target and rename, so a failed save leaves no torn file.
        temporary = os.path.join(os.path.dirname(os.path.abspath(output)), f".{os.path.basename(output)}.tmp")
        try:
            with open(temporary, "wb") as out:
                while data := response.read_some():
                    out.write(data)
            os.replace(temporary, output)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        return 0
    finally:
        response.close()


@command(LOAD)
def load(client: Client, values: dict, _args: list[str]) -> int:
    source = sys.stdin.buffer
    if values["input"]:
        try:
            source = open(values["input"], "rb")
        except OSError as exc:
            sys.stderr.write(f"open {values['input']}: {(exc.strerror or str(exc)).lower()}\n")
            return 1
    elif sys.stdin.isatty():
        sys.stderr.write("requested load from stdin, but stdin is empty\n")
        return 1
    tty = sys.stdout.isatty()
    quiet = values["quiet"] or not tty  # as the docker CLI: no progress unless on a terminal
    try:
        response = client.send("POST", "/images/load", query={"quiet": quiet}, body=source,
                               headers={"Content-Type": "application/x-tar"})
    finally:
        source.close()
    try:
        for message in response.json_lines():
            if "error" in message:
                sys.stderr.write(message["error"] + "\n")
                return 1
            if "stream" in message:
                sys.stdout.write(message["stream"])
            elif tty and "progressDetail" in message:
                sys.stdout.write(_progress_line(message))
            sys.stdout.flush()
    finally:
        response.close()
    return 0


def _progress_line(message: dict) -> str:
    """Docker's progress bar, redrawn in place: `<id>: Loading layer [===>   ]  1.2MB/3.4MB`."""
    from dockyard.cli.output import human_size

    detail = message.get("progressDetail") or {}
    current, total = detail.get("current", 0), detail.get("total", 0)
    bar = ""
    if total:
        filled = min(50, int(current / total * 100) // 2)
        bar = "[" + "=" * filled + ">" + " " * (50 - filled) + "] "
    numbers = f"{human_size(current, 4):>8}/{human_size(total, 4)}" if total else ""
    end = "\n" if total and current >= total else ""
    return f"\r{message.get('id', '')}: {message.get('status', '')} {bar}{numbers}{end}"
