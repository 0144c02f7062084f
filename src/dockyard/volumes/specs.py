"""Mount specifications as the Engine API carries them: `HostConfig.Binds` strings
(`src:dst[:mode]`), `HostConfig.Mounts` objects and `HostConfig.Tmpfs`, parsed and validated with
Docker's rules and messages (moby volume/mounts/linux_parser.go)."""

import os
import re

from dockyard.errors import InvalidParameter

PROPAGATIONS = ("shared", "slave", "private", "rshared", "rslave", "rprivate")
DEFAULT_PROPAGATION = "rprivate"
_MODE_GROUPS = (("rw", "ro"), ("z", "Z"), ("nocopy",), PROPAGATIONS)
_TMPFS_FLAGS = {"ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "sync", "async", "dirsync",
                "remount", "mand", "nomand", "atime", "noatime", "diratime", "nodiratime", "relatime",
                "norelatime", "strictatime", "nostrictatime", "lazytime", "nolazytime"}
_TMPFS_DATA = {"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol", "huge"}
_SIZE = re.compile(r"^\d+[kKmMgG%]?$")


def valid_mode(mode: str) -> bool:
    if not mode:
        return True
    seen = [0] * len(_MODE_GROUPS)
    for part in mode.split(","):
        for i, group in enumerate(_MODE_GROUPS):
            if part in group:
                seen[i] += 1
                break
        else:
            return False
    return all(count <= 1 for count in seen)


def parse_bind(raw: str, volume_driver: str = "") -> dict:
    """A `-v` string as the daemon receives it in HostConfig.Binds -> a Mounts-style spec plus Mode."""
    parts = raw.split(":", 3)
    if not parts[0]:
        raise InvalidParameter(f"invalid volume specification: '{raw}'")
    mode = ""
    if len(parts) == 1:
        source, target = "", parts[0]
    elif len(parts) == 2:
        if valid_mode(parts[1]):
            raise InvalidParameter(f"invalid volume specification: '{raw}'")  # /foo:rw names no source
        source, target = parts
    elif len(parts) == 3:
        source, target, mode = parts
    else:
        raise InvalidParameter(f"invalid volume specification: '{raw}'")
    if not valid_mode(mode):
        raise InvalidParameter(f"invalid mode: {mode}")
    modes = mode.split(",") if mode else []
    spec: dict = {"Type": "bind" if source.startswith("/") else "volume", "Source": source, "Target": target,
                  "ReadOnly": "ro" in modes}
    if volume_driver and spec["Type"] == "volume":
        spec["VolumeOptions"] = {"DriverConfig": {"Name": volume_driver}}
    if "nocopy" in modes:
        spec.setdefault("VolumeOptions", {})["NoCopy"] = True
    propagation = next((m for m in modes if m in PROPAGATIONS), "")
    if propagation:
        spec["BindOptions"] = {"Propagation": propagation}
    try:
        validate(spec, bind_must_exist=False)
    except InvalidParameter as exc:
        raise InvalidParameter(f"invalid volume specification: '{raw}': {exc}") from None
    spec["Mode"] = mode
    return spec


def validate(spec: dict, *, bind_must_exist: bool = True) -> None:
    """Docker's validateMountConfig: every error names the mount type."""
    kind = spec.get("Type") or ""
    try:
        _validate(spec, kind, bind_must_exist)
    except InvalidParameter as exc:
        raise InvalidParameter(f'invalid mount config for type "{kind}": {exc}') from None


def _validate(spec: dict, kind: str, bind_must_exist: bool) -> None:
    target = spec.get("Target") or ""
    if not target:
        raise InvalidParameter("field Target must not be empty")
    if not target.startswith("/"):
        raise InvalidParameter(f"invalid mount path: '{target}' mount path must be absolute")
    if os.path.normpath(target) == "/":
        raise InvalidParameter("invalid specification: destination can't be '/'")
    source = spec.get("Source") or ""
    if kind == "bind":
        if not source:
            raise InvalidParameter("field Source must not be empty")
        if spec.get("VolumeOptions"):
            raise InvalidParameter("VolumeOptions must not be specified")
        if spec.get("TmpfsOptions"):
            raise InvalidParameter("TmpfsOptions must not be specified")
        if not source.startswith("/"):
            raise InvalidParameter(f"invalid mount path: '{source}' mount path must be absolute")
        if bind_must_exist and not os.path.exists(source):
            raise InvalidParameter(f"bind source path does not exist: {source}")
        propagation = (spec.get("BindOptions") or {}).get("Propagation") or ""
        if propagation and propagation not in PROPAGATIONS:
            raise InvalidParameter(f"invalid propagation mode: {propagation}")
    elif kind == "volume":
        if spec.get("BindOptions"):
            raise InvalidParameter("BindOptions must not be specified")
        if spec.get("TmpfsOptions"):
            raise InvalidParameter("TmpfsOptions must not be specified")
        if source:
            from dockyard.volumes.store import validate_name

            validate_name(source)
    elif kind == "tmpfs":
        if source:
            raise InvalidParameter("Source must not be specified")
        if spec.get("BindOptions"):
            raise InvalidParameter("BindOptions must not be specified")
        if spec.get("VolumeOptions"):
            raise InvalidParameter("VolumeOptions must not be specified")
        tmpfs = spec.get("TmpfsOptions") or {}
        if int(tmpfs.get("SizeBytes") or 0) < 0:
            raise InvalidParameter("invalid tmpfs size: it must not be negative")
    else:
        raise InvalidParameter("mount type unknown")


def tmpfs_options(opts: str) -> list[str]:
    """Validate `--tmpfs /path:opts` options; return them as a list."""
    out = []
    for option in filter(None, opts.split(",")):
        key, eq, value = option.partition("=")
        if not eq and key in _TMPFS_FLAGS:
            out.append(option)
        elif eq and key in _TMPFS_DATA:
            if key == "size" and not _SIZE.match(value):
                raise InvalidParameter(f"invalid tmpfs option: size={value} is not a size such as 64m")
            if key == "mode" and not re.fullmatch(r"[0-7]{1,4}", value):
                raise InvalidParameter(f"invalid tmpfs option: mode={value} is not an octal mode")
            out.append(option)
        else:
            raise InvalidParameter(f'invalid tmpfs option ["{option}"]')
    return out


def tmpfs_mount_options(spec: dict) -> list[str]:
    """`--mount type=tmpfs` options (TmpfsOptions.SizeBytes, .Mode) as mount data."""
    tmpfs = spec.get("TmpfsOptions") or {}
    out = []
    if tmpfs.get("SizeBytes"):
        out.append(f"size={int(tmpfs['SizeBytes']) // 1024}k")
    if tmpfs.get("Mode"):
        out.append(f"mode={int(tmpfs['Mode']) & 0o7777:o}")
    if spec.get("ReadOnly"):
        out.append("ro")
    return out
