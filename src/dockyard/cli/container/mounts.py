"""`-v`, `--mount`, `--tmpfs` and `--volumes-from` turned into the API's create fields, with the
docker CLI's client-side checks (cli/command/container/opts.go and opts/mount.go)."""

import csv
import os

from dockyard.cli.flags import UsageError

_MOUNT_TYPES = ("bind", "volume", "tmpfs")
_TRUE = ("", "1", "true", "yes")
_FALSE = ("0", "false", "no")


def _bool(key: str, value: str | None) -> bool:
    if value is None or value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise UsageError(f"invalid argument \"{value}\" for \"--mount\" flag: invalid value for {key}: {value}")


def volume_fields(volumes: list[str]) -> tuple[list[str], dict]:
    """`-v` values -> (HostConfig.Binds, Config.Volumes): a lone container path is an anonymous volume
    the config carries; anything with a source is a bind string the daemon parses."""
    binds: list[str] = []
    anonymous: dict = {}
    for spec in volumes:
        parts = spec.split(":")
        if any(p == "" for p in parts[:2]) and len(parts) > 1:
            raise UsageError(f"invalid argument \"{spec}\" for \"-v, --volume\" flag: invalid spec: {spec}: "
                             "empty section between colons")
        if len(parts) == 1:
            anonymous[spec] = {}
            continue
        host = parts[0]
        if host == "." or host.startswith("./") or host == ".." or host.startswith("../"):
            host = os.path.abspath(host)  # the docker CLI makes ./relative host paths absolute
        binds.append(":".join([host, *parts[1:]]))
    return binds, anonymous


def size_flag(text: str, flag: str) -> int:
    from dockyard.util.units import parse_bytes

    try:
        return parse_bytes(text)
    except ValueError:
        raise UsageError(f"invalid argument \"{flag}\" for \"--mount\" flag: invalid value for tmpfs-size: "
                         f"{text}") from None


def parse_mount(text: str) -> dict:
    """One `--mount` value (CSV of key=value) -> a HostConfig.Mounts object."""
    try:
        fields = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        raise UsageError(f"invalid argument \"{text}\" for \"--mount\" flag: invalid CSV") from None
    mount: dict = {"Type": "volume"}
    volume: dict = {}
    bind: dict = {}
    tmpfs: dict = {}
    for field in fields:
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if not eq and key not in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
            raise UsageError(f"invalid argument \"{text}\" for \"--mount\" flag: invalid field '{field}' must be "
                             "a key=value pair")
        value_or_none = value if eq else None
        if key == "type":
            if value not in _MOUNT_TYPES:
                raise UsageError(f"invalid argument \"{text}\" for \"--mount\" flag: invalid mount type: "
                                 f"{value!r}" if value not in ("npipe", "cluster") else
                                 f"invalid argument \"{text}\" for \"--mount\" flag: mount type {value} is not "
                                 "supported on linux")
            mount["Type"] = value
        elif key in ("source", "src"):
            mount["Source"] = value
        elif key in ("target", "dst", "destination"):
            mount["Target"] = value
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = _bool(key, value_or_none)
        elif key == "consistency":
            mount["Consistency"] = value
        elif key == "bind-propagation":
            bind["Propagation"] = value
        elif key == "bind-nonrecursive":
            bind["NonRecursive"] = _bool(key, value_or_none)
        elif key == "volume-nocopy":
            volume["NoCopy"] = _bool(key, value_or_none)
        elif key == "volume-label":
            name, _, label = value.partition("=")
            volume.setdefault("Labels", {})[name] = label
        elif key == "volume-driver":
            volume.setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-opt":
            name, _, option = value.partition("=")
            volume.setdefault("DriverConfig", {}).setdefault("Options", {})[name] = option
        elif key == "tmpfs-size":
            tmpfs["SizeBytes"] = size_flag(value, text)
        elif key == "tmpfs-mode":
            try:
                tmpfs["Mode"] = int(value, 8)
            except ValueError:
                raise UsageError(f"invalid argument \"{text}\" for \"--mount\" flag: invalid value for "
                                 f"tmpfs-mode: {value}") from None
        else:
            raise UsageError(f"invalid argument \"{text}\" for \"--mount\" flag: unexpected key '{key}' in "
                             f"'{field}'")
    if not mount.get("Target"):
        raise UsageError(f"invalid argument \"{text}\" for \"--mount\" flag: target is required")
    if bind:
        if mount["Type"] != "bind":
            raise UsageError(f"invalid argument \"{text}\" for \"--mount\" flag: cannot mix 'bind-*' options with "
                             f"mount type '{mount['Type']}'")
        mount["BindOptions"] = bind
    if volume:
        if mount["Type"] != "volume":
            raise UsageError(f"invalid argument \"{text}\" for \"--mount\" flag: cannot mix 'volume-*' options "
                             f"with mount type '{mount['Type']}'")
        mount["VolumeOptions"] = volume
    if tmpfs:
        if mount["Type"] != "tmpfs":
            raise UsageError(f"invalid argument \"{text}\" for \"--mount\" flag: cannot mix 'tmpfs-*' options "
                             f"with mount type '{mount['Type']}'")
        mount["TmpfsOptions"] = tmpfs
    return mount


def tmpfs_field(values: list[str]) -> dict[str, str]:
    """`--tmpfs /path[:options]` -> HostConfig.Tmpfs."""
    out = {}
    for value in values:
        path, _, options = value.partition(":")
        out[path] = options
    return out


def mount_fields(values: dict) -> tuple[dict, dict]:
    """(Config fields, HostConfig fields) for the mount flags of run/create."""
    binds, anonymous = volume_fields(values["volume"])
    host: dict = {}
    config: dict = {}
    if binds:
        host["Binds"] = binds
    if anonymous:
        config["Volumes"] = anonymous
    if values["mount"]:
        host["Mounts"] = [parse_mount(m) for m in values["mount"]]
    if values["tmpfs"]:
        host["Tmpfs"] = tmpfs_field(values["tmpfs"])
    if values["volumes_from"]:
        host["VolumesFrom"] = list(values["volumes_from"])
    if values["volume_driver"]:
        host["VolumeDriver"] = values["volume_driver"]
    if values["read_only"]:
        host["ReadonlyRootfs"] = True
    return config, host
