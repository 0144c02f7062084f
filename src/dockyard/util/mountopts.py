"""fstab/OCI mount options ("ro", "nosuid", "rbind", "rprivate", "size=64m") as mount(2) flags, propagation
flags and the data string: shared by the runtime's mounts and the local volume driver."""

from dockyard.util import syscalls as sc

# OCI/fstab mount options -> (set flags, clear flags). Anything else is passed as data.
_FLAG_OPTIONS = {
    "ro": (sc.MS_RDONLY, 0), "rw": (0, sc.MS_RDONLY),
    "nosuid": (sc.MS_NOSUID, 0), "suid": (0, sc.MS_NOSUID),
    "nodev": (sc.MS_NODEV, 0), "dev": (0, sc.MS_NODEV),
    "noexec": (sc.MS_NOEXEC, 0), "exec": (0, sc.MS_NOEXEC),
    "sync": (sc.MS_SYNCHRONOUS, 0), "async": (0, sc.MS_SYNCHRONOUS),
    "dirsync": (sc.MS_DIRSYNC, 0), "remount": (sc.MS_REMOUNT, 0),
    "mand": (sc.MS_MANDLOCK, 0), "nomand": (0, sc.MS_MANDLOCK),
    "atime": (0, sc.MS_NOATIME), "noatime": (sc.MS_NOATIME, 0),
    "diratime": (0, sc.MS_NODIRATIME), "nodiratime": (sc.MS_NODIRATIME, 0),
    "relatime": (sc.MS_RELATIME, 0), "norelatime": (0, sc.MS_RELATIME),
    "strictatime": (sc.MS_STRICTATIME, 0), "nostrictatime": (0, sc.MS_STRICTATIME),
    "bind": (sc.MS_BIND, 0), "rbind": (sc.MS_BIND | sc.MS_REC, 0),
    "nosymfollow": (sc.MS_NOSYMFOLLOW, 0),
}
_PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """Return (flags, propagation flags, data string)."""
    flags = propagation = 0
    data = []
    for option in options:
        if option in _FLAG_OPTIONS:
            set_flags, clear_flags = _FLAG_OPTIONS[option]
            flags = (flags | set_flags) & ~clear_flags
        elif option in _PROPAGATION:
            propagation |= _PROPAGATION[option]
        else:
            data.append(option)
    return flags, propagation, ",".join(data)
