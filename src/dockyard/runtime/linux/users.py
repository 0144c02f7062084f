"""Resolve `-u name|uid[:group|gid]` against a container's /etc/passwd and /etc/group, as runc's
user package does (Docker's errors for unknown users)."""

from collections.abc import Callable
from dataclasses import dataclass

from dockyard.errors import InvalidParameter

ReadFile = Callable[[str], str | None]


@dataclass(frozen=True)
class ExecUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


def _rows(text: str | None, fields: int) -> list[list[str]]:
    rows = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        rows.append(parts + [""] * (fields - len(parts)))
    return rows


def resolve(spec: str, read_file: ReadFile, group_add: tuple[str, ...] | list[str] = ()) -> ExecUser:
    """``read_file("/etc/passwd")`` returns the file's text from the container's root, or None.
    ``group_add`` (`--group-add`) names more groups, by name or GID."""
    user_part, _, group_part = (spec or "0").partition(":")
    passwd = _rows(read_file("/etc/passwd"), 7)
    uid = gid = 0
    home = "/"
    name = None
    entry = next((r for r in passwd if r[0] == user_part or (user_part.isdigit() and r[2] == user_part)), None)
    if entry is not None:
        name, uid, gid, home = entry[0], int(entry[2] or 0), int(entry[3] or 0), entry[5] or "/"
    elif user_part.isdigit():
        uid = int(user_part)
    else:
        raise InvalidParameter(f"unable to find user {user_part}: no matching entries in passwd file")
    groups = _rows(read_file("/etc/group"), 4)
    if group_part:
        group = next((g for g in groups if g[0] == group_part or (group_part.isdigit() and g[2] == group_part)),
                     None)
        if group is not None:
            gid = int(group[2] or 0)
        elif group_part.isdigit():
            gid = int(group_part)
        else:
            raise InvalidParameter(f"unable to find group {group_part}: no matching entries in group file")
    additional: list[int] = []
    if name is not None and not group_part:
        for group in groups:
            members = [m for m in group[3].split(",") if m]
            if name in members and group[2].isdigit():
                gid_value = int(group[2])
                if gid_value not in additional:
                    additional.append(gid_value)
    for wanted in group_add:
        group = next((g for g in groups if g[0] == wanted), None)
        if group is not None and group[2].isdigit():
            extra = int(group[2])
        elif wanted.isdigit():
            extra = int(wanted)
        else:
            raise InvalidParameter(f"Unable to find group {wanted}: no matching entries in group file")
        if extra not in additional:
            additional.append(extra)
    if uid > 0x7FFFFFFF or gid > 0x7FFFFFFF:
        raise InvalidParameter(f"uid and gid must be in range 0-{0x7FFFFFFF}")
    return ExecUser(uid, gid, tuple(additional), home)
