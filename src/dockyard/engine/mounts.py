"""A container's mount points: worked out at create from `--volumes-from`, `-v` (Binds), `--mount`
(Mounts), `VOLUME`s and `--tmpfs`, in Docker's order (moby daemon/volumes.go registerMountPoints),
and turned into OCI mounts at start.

A mount point is kept in the container record as Docker's inspect `Mounts` entry plus a few
private fields (lower-case keys) the engine needs later.
"""

import os

from dockyard.engine.seams import VolumeUse
from dockyard.engine.specs.codec import to_json
from dockyard.engine.specs.containers import ContainerConfig, HostConfig
from dockyard.errors import InvalidParameter, NotFound
from dockyard.volumes import specs

PUBLIC_FIELDS = ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW", "Propagation")
# --tmpfs and --mount type=tmpfs mounts start from these flags, as Docker's do.
TMPFS_DEFAULTS = ["noexec", "nosuid", "nodev"]


def public_view(mount_point: dict) -> dict:
    return {k: mount_point.get(k, "") for k in PUBLIC_FIELDS}


def _duplicate(destination: str) -> InvalidParameter:
    return InvalidParameter(f"Duplicate mount point: {destination}")


def _volumes_from(entry: str) -> tuple[str, bool]:
    name, _, mode = entry.partition(":")
    if mode not in ("", "rw", "ro"):
        raise InvalidParameter(f"invalid mode: {mode}")
    return name, mode != "ro"


class MountPlanner:
    """Resolves the mount points of a container being created; volumes are created as a side
    effect only once everything validated (see ``plan``)."""

    def __init__(self, volumes: VolumeUse, find_container) -> None:
        self.volumes = volumes
        self.find_container = find_container  # name or ID -> Container (NotFound otherwise)

    def plan(self, host_config: HostConfig, config: ContainerConfig, image_volumes: dict) -> list[dict]:
        """Validate every spec, then create the volumes they name; return the mount points."""
        points: dict[str, dict] = {}
        explicit: set[str] = set()
        tmpfs = host_config.tmpfs or {}
        for path, options in tmpfs.items():
            specs.validate({"Type": "tmpfs", "Target": path})
            specs.tmpfs_options(options or "")
        for entry in host_config.volumes_from or []:
            name, rw = _volumes_from(entry)
            source = self.find_container(name)
            for mp in getattr(source, "mount_points", []) or []:
                copied = dict(mp, RW=bool(mp.get("RW")) and rw, copy_data=False)
                points[copied["Destination"]] = copied
        driver = host_config.volume_driver or ""
        for raw in host_config.binds or []:
            spec = specs.parse_bind(raw, driver)
            target = os.path.normpath(spec["Target"])
            if target in explicit or target in tmpfs:
                raise _duplicate(target)
            explicit.add(target)
            points[target] = self._point(spec, spec.pop("Mode"), from_binds=True)
        for mount in host_config.mounts or []:
            spec = to_json(mount)  # the volumes layer reads a mount in Docker's words
            specs.validate(spec, bind_must_exist=True)
            target = os.path.normpath(spec["Target"])
            if target in explicit or target in tmpfs:
                raise _duplicate(spec["Target"])
            explicit.add(target)
            points[target] = self._point(spec, "", from_binds=False)
        for path in list(config.volumes or {}) + list(image_volumes or {}):
            target = os.path.normpath(path)
            if not target.startswith("/"):
                raise InvalidParameter(f"invalid mount config for type \"volume\": invalid mount path: '{path}' "
                                       "mount path must be absolute")
            if target in points or target in tmpfs:
                continue
            points[target] = {"Type": "volume", "Name": "", "Source": "", "Destination": target,
                              "Driver": "local", "Mode": "", "RW": True, "Propagation": "",
                              "copy_data": True, "anonymous": True}
        self._create_volumes(points.values())
        return [points[k] for k in sorted(points)]

    @staticmethod
    def _point(spec: dict, mode: str, *, from_binds: bool) -> dict:
        kind = spec["Type"]
        target = os.path.normpath(spec["Target"])
        point = {"Type": kind, "Name": "", "Source": spec.get("Source") or "", "Destination": target,
                 "Driver": "", "Mode": mode, "RW": not spec.get("ReadOnly"), "Propagation": ""}
        if kind == "bind":
            bind = spec.get("BindOptions") or {}
            point["Propagation"] = bind.get("Propagation") or specs.DEFAULT_PROPAGATION
            point["nonrecursive"] = bool(bind.get("NonRecursive"))
            point["create_source"] = from_binds  # -v creates a missing host directory; --mount refuses
        elif kind == "volume":
            options = spec.get("VolumeOptions") or {}
            driver_config = options.get("DriverConfig") or {}
            point.update(Name=spec.get("Source") or "", Driver=driver_config.get("Name") or "local",
                         copy_data=not options.get("NoCopy"), anonymous=not spec.get("Source"),
                         driver_options=driver_config.get("Options") or {}, labels=options.get("Labels") or {})
            if not from_binds and not mode:
                point["Mode"] = "z"  # moby's setBindModeIfNull for --mount volumes of the local driver
        else:
            point["tmpfs_options"] = specs.tmpfs_mount_options(spec)
        return point

    def _create_volumes(self, points) -> None:
        from dockyard.volumes.store import validate_options

        for point in points:  # validate the drivers and options of volumes to be made, first
            if point["Type"] == "volume" and not (point.get("Name") and _exists(self.volumes, point["Name"])):
                validate_options(point["Driver"], point.get("driver_options") or {})
        for point in points:
            if point["Type"] != "volume":
                continue
            volume = self.volumes.create(point.get("Name") or "", driver=point["Driver"],
                                         options=point.pop("driver_options", None), labels=point.pop("labels", None))
            point.update(Name=volume.name, Source=self.volumes.mountpoint(volume.name), Driver=volume.driver)
            point["anonymous"] = volume.anonymous


def _exists(volumes: VolumeUse, name: str) -> bool:
    try:
        volumes.get(name)
        return True
    except NotFound:
        return False


def oci_mounts(volumes: VolumeUse, mount_points: list[dict], tmpfs: dict) -> list[dict]:
    """The OCI mounts for a starting container, parents before children."""
    out = []
    for point in mount_points:
        kind = point["Type"]
        if kind == "tmpfs":
            out.append({"destination": point["Destination"], "type": "tmpfs", "source": "tmpfs",
                        "options": TMPFS_DEFAULTS + list(point.get("tmpfs_options") or [])})
            continue
        if kind == "volume":
            source = volumes.activate(point["Name"])
        else:
            source = point["Source"]
            if not os.path.exists(source):
                if not point.get("create_source"):
                    raise InvalidParameter(f'invalid mount config for type "bind": bind source path does not '
                                           f"exist: {source}")
                os.makedirs(source, mode=0o755, exist_ok=True)  # `-v /missing:/x` makes the host directory
        propagation = point.get("Propagation") or specs.DEFAULT_PROPAGATION
        if propagation in ("shared", "rshared", "slave", "rslave"):
            _check_source_propagation(source, shared_only=propagation.endswith("shared"))
        options = ["bind" if point.get("nonrecursive") else "rbind", propagation]
        if not point.get("RW", True):
            options.append("ro")
        out.append({"destination": point["Destination"], "type": "bind", "source": source, "options": options})
    for path, opts in sorted(tmpfs.items()):
        out.append({"destination": os.path.normpath(path), "type": "tmpfs", "source": "tmpfs",
                    "options": TMPFS_DEFAULTS + specs.tmpfs_options(opts or "")})
    out.sort(key=lambda m: m["destination"].rstrip("/").count("/"))  # a parent mount first, as Docker sorts
    return out


def _check_source_propagation(source: str, *, shared_only: bool) -> None:
    """A shared (or slave) bind needs its host mount to be shared (or a slave), as Docker checks."""
    best, fields = "", []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split(" - ")[0].split()
            mount_point = parts[4]
            inside = source == mount_point or source.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, fields = mount_point, parts[6:]
    shared = any(f.startswith("shared:") for f in fields)
    slave = any(f.startswith("master:") for f in fields)
    if shared_only and not shared:
        raise InvalidParameter(f"path {source} is mounted on {best} but it is not a shared mount")
    if not shared_only and not (shared or slave):
        raise InvalidParameter(f"path {source} is mounted on {best} but it is not a shared or slave mount")


def needs_copy(volumes: VolumeUse, point: dict) -> bool:
    """An empty volume that asks to be filled from the image at its mount point."""
    if point["Type"] != "volume" or not point.get("copy_data"):
        return False
    try:
        return not os.listdir(volumes.mountpoint(point["Name"]))
    except FileNotFoundError:
        return False
