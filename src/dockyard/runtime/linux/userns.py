"""User-namespace remapping (`dockyardd --userns-remap`): root in a container is an unprivileged
range of host IDs, taken from /etc/subuid and /etc/subgid as Docker takes them."""

import pwd
import subprocess
from dataclasses import dataclass

DEFAULT_USER = "dockremap"
_DEFAULT_SIZE = 65536


@dataclass(frozen=True)
class IdMap:
    """Container IDs 0..size-1 are host IDs uid_base.. / gid_base.."""

    uid_base: int
    gid_base: int
    size: int

    def oci(self) -> tuple[list[dict], list[dict]]:
        return ([{"containerID": 0, "hostID": self.uid_base, "size": self.size}],
                [{"containerID": 0, "hostID": self.gid_base, "size": self.size}])

    def host_uid(self, uid: int) -> int:
        return uid + self.uid_base if 0 <= uid < self.size else uid

    def host_gid(self, gid: int) -> int:
        return gid + self.gid_base if 0 <= gid < self.size else gid

    def container_uid(self, uid: int) -> int:
        return uid - self.uid_base if self.uid_base <= uid < self.uid_base + self.size else 65534

    def container_gid(self, gid: int) -> int:
        return gid - self.gid_base if self.gid_base <= gid < self.gid_base + self.size else 65534


def _ranges(path: str, names: set[str] | None = None) -> list[tuple[int, int]]:
    """(start, count) entries of /etc/subuid or /etc/subgid: those of ``names``, or all."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and (names is None or parts[0] in names) and parts[1].isdigit() \
                        and parts[2].isdigit():
                    out.append((int(parts[1]), int(parts[2])))
    except FileNotFoundError:
        pass
    return out


def _free_start(size: int) -> int:
    taken = _ranges("/etc/subuid") + _ranges("/etc/subgid")
    start = 100000
    while any(start < s + n and s < start + size for s, n in taken):
        start = max(s + n for s, n in taken if start < s + n and s < start + size)
    return start


def _ensure_default_user() -> None:
    """Docker's `default`: the system user dockremap with a free range of 65536 IDs."""
    try:
        pwd.getpwnam(DEFAULT_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--shell", "/bin/false", DEFAULT_USER], check=True,
                       capture_output=True)
    if not _ranges("/etc/subuid", {DEFAULT_USER}) or not _ranges("/etc/subgid", {DEFAULT_USER}):
        start = _free_start(_DEFAULT_SIZE)
        span = f"{start}-{start + _DEFAULT_SIZE - 1}"
        subprocess.run(["usermod", "--add-subuids", span, "--add-subgids", span, DEFAULT_USER], check=True,
                       capture_output=True)


def remap(setting: str) -> IdMap:
    """`default`, `user`, `user:group`, `uid` or `uid:gid` -> the first subordinate ranges of that
    user and group (ValueError with Docker-like words when there are none)."""
    user, _, group = setting.partition(":")
    if user == "default":
        _ensure_default_user()
        user, group = DEFAULT_USER, DEFAULT_USER
    names = {user}
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
        names |= {entry.pw_name, str(entry.pw_uid)}
    except (KeyError, ValueError):
        raise ValueError(f"--userns-remap: no user {user!r} on this host") from None
    group_names = {group or entry.pw_name, str(entry.pw_gid)} if group else names | {str(entry.pw_gid)}
    uids = _ranges("/etc/subuid", names)
    gids = _ranges("/etc/subgid", group_names)
    if not uids:
        raise ValueError(f"--userns-remap: no subuid ranges found for user {user!r} in /etc/subuid")
    if not gids:
        raise ValueError(f"--userns-remap: no subgid ranges found for group {group or user!r} in /etc/subgid")
    return IdMap(uids[0][0], gids[0][0], min(uids[0][1], gids[0][1]))


def write_maps(pid: int, uid_mappings: list[dict], gid_mappings: list[dict]) -> None:
    """From the parent (which holds CAP_SETUID/CAP_SETGID here): map the child's new user namespace
    with the spec's `linux.uidMappings` and `gidMappings`."""
    for kind, mappings in (("uid", uid_mappings), ("gid", gid_mappings)):
        with open(f"/proc/{pid}/{kind}_map", "w") as f:
            f.write("".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in mappings))
