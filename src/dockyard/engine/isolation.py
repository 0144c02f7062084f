"""The isolation settings of HostConfig: capabilities, privileged mode, namespace sharing, devices,
ulimits, sysctls, /dev/shm size, OOM score. ``validate`` runs at create (errors before anything
exists, warnings for the create response); ``apply`` shapes the OCI spec at each start, when the
containers named by `container:<x>` modes are known to be running."""

import os
import re
import stat

from dockyard.engine.specs.containers import DeviceMapping, HostConfig, Ulimit
from dockyard.errors import Conflict, InvalidParameter
from dockyard.runtime.linux import capabilities
from dockyard.util import syscalls as sc

# Docker's device cgroup allow-list (runc's AllowedDevices): mknod anything, use only these.
DEFAULT_DEVICE_RULES = [
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm", "c 1:9 rwm",
    "c 5:1 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm",
]
ULIMITS = [name for name in sc.RLIMITS if name != "as"]  # the names `--ulimit` takes, as Docker
# Namespaced sysctls Docker lets a container set (moby daemon/oci_linux.go / opts.ValidateSysctl).
_SYSCTL_IPC = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
               "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
_DEVICE_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")
DEFAULT_SHM_SIZE = 64 * 1024 * 1024


def _modes(host_config: HostConfig) -> dict[str, str]:
    return {"pid": host_config.pid_mode or "", "ipc": host_config.ipc_mode or "", "uts": host_config.uts_mode or "",
            "userns": host_config.userns_mode or "", "cgroupns": host_config.cgroupns_mode or ""}


def capability_name(name: str) -> str:
    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    full = upper if upper.startswith("CAP_") else "CAP_" + upper
    if full not in capabilities.NUMBERS:
        raise InvalidParameter(f'unknown capability: "{full}"')
    return full


def capability_set(host_config: HostConfig) -> tuple[list[str], list[str]]:
    """Docker's TweakCapabilities: (the capabilities to grant, those the host cannot give)."""
    add = [capability_name(c) for c in host_config.cap_add or []]
    drop = [capability_name(c) for c in host_config.cap_drop or []]
    known = capabilities.NAMES[: capabilities.last_cap() + 1]
    if host_config.privileged:
        wanted = list(known)
    elif "ALL" in add:
        wanted = [c for c in known if c not in drop]
    elif "ALL" in drop:
        wanted = [c for c in add if c != "ALL"]
    else:
        wanted = [c for c in capabilities.DOCKER_DEFAULT if c not in drop] + add
    wanted = list(dict.fromkeys(wanted))
    grantable = set(capabilities.all_capabilities())
    return [c for c in wanted if c in grantable], [c for c in wanted if c not in grantable]


def parse_device(entry: DeviceMapping) -> dict:
    """One HostConfig.Devices entry -> an OCI linux.devices entry (from the host node's stat)."""
    host = entry.path_on_host or ""
    inside = entry.path_in_container or host
    permissions = entry.cgroup_permissions or "rwm"
    if not re.fullmatch(r"[rwm]{1,3}", permissions):
        raise InvalidParameter(f"invalid device mode: {permissions}")
    try:
        st = os.stat(host)
    except OSError as exc:
        raise InvalidParameter(f'error gathering device information while adding custom device "{host}": '
                               f"{(exc.strerror or str(exc)).lower()}") from None
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise InvalidParameter(f'error gathering device information while adding custom device "{host}": '
                               "not a device node")
    return {"path": inside, "type": kind, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "permissions": permissions}


def host_devices() -> list[dict]:
    """Every device node under the host's /dev (for --privileged), as Docker's HostDevices."""
    out = []
    for dirpath, dirnames, filenames in os.walk("/dev"):
        dirnames[:] = [d for d in dirnames if d not in ("pts", "shm", "mqueue", ".lxc", ".udev")]
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) or path == "/dev/console":
                continue
            out.append({"path": path, "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                        "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                        "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
    return out


def parse_ulimit(entry: Ulimit) -> dict:
    name = entry.name or ""
    if name not in ULIMITS:
        raise InvalidParameter(f"invalid ulimit type: {name}")
    soft, hard = int(entry.soft or 0), int(entry.hard or 0)
    if soft > hard and hard != -1:
        raise InvalidParameter(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"type": "RLIMIT_" + name.upper(), "soft": soft, "hard": hard}


def check_sysctl(key: str, host_config: HostConfig) -> None:
    modes = _modes(host_config)
    if key in _SYSCTL_IPC or key.startswith("fs.mqueue."):
        if modes["ipc"] == "host":
            raise InvalidParameter(f"sysctl {key!r} not allowed with host IPC namespace")
        return
    if key.startswith("net."):
        if (host_config.network_mode or "") == "host":
            raise InvalidParameter(f"sysctl {key!r} not allowed in host network namespace")
        return
    if key in ("kernel.domainname", "kernel.hostname"):
        if modes["uts"] == "host":
            raise InvalidParameter(f"sysctl {key!r} not allowed with host UTS namespace")
        return
    raise InvalidParameter(f"sysctl {key!r} is not allowed (only namespaced kernel.msg*/sem/shm*, fs.mqueue.* "
                           "and net.* sysctls can be set)")


def _check_mode(kind: str, mode: str) -> None:
    allowed = {"pid": ("", "host"), "ipc": ("", "host", "private", "shareable", "none"), "uts": ("", "host"),
               "userns": ("", "host"), "cgroupns": ("", "host", "private")}[kind]
    if mode in allowed or (kind in ("pid", "ipc") and mode.startswith("container:") and mode[10:]):
        return
    flag = {"pid": "--pid", "ipc": "--ipc", "uts": "--uts", "userns": "--userns", "cgroupns": "--cgroupns"}[kind]
    raise InvalidParameter(f"invalid {flag}: {mode}")


def validate(host_config: HostConfig, find_container, idmap=None) -> list[str]:
    """Refuse bad isolation settings before the container exists; return Docker-style warnings."""
    warnings = []
    if idmap is not None and host_config.privileged and host_config.userns_mode != "host":
        raise InvalidParameter("privileged mode is incompatible with user namespaces.  You must run the "
                               "container in the host namespace when running privileged mode")
    isolation_value = host_config.isolation or ""
    if isolation_value not in ("", "default"):  # moby's verifyPlatformContainerSettings on Linux
        raise InvalidParameter(f'Invalid isolation: "{isolation_value}" - linux only supports \'default\'')
    for kind, mode in _modes(host_config).items():
        _check_mode(kind, mode)
        if mode.startswith("container:"):
            find_container(mode[10:])  # NotFound: "No such container: x"
    _granted, missing = capability_set(host_config)
    if missing:
        warnings.append("This host's capability bounding set does not include " + ", ".join(missing)
                        + "; the container starts without them")
    for entry in host_config.devices or []:
        parse_device(entry)
    for rule in host_config.device_cgroup_rules or []:
        if not _DEVICE_RULE.match(rule):
            raise InvalidParameter(f"invalid device cgroup rule format: '{rule}'")
    for ulimit in host_config.ulimits or []:
        parse_ulimit(ulimit)
    for key in host_config.sysctls or {}:
        check_sysctl(key, host_config)
    parent = host_config.cgroup_parent or ""
    if ".." in parent.split("/") or parent.endswith(".slice"):
        raise InvalidParameter(f"invalid cgroup parent {parent!r}: use a cgroupfs path such as /mygroup "
                               "(the systemd cgroup driver is not supported)")
    shm = host_config.shm_size or 0
    if shm < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    adj = host_config.oom_score_adj or 0
    if not -1000 <= adj <= 1000:
        raise InvalidParameter(f"Invalid value {adj}, range for oom score adj is [-1000, 1000]")
    if host_config.kernel_memory:
        warnings.append("Kernel memory limits are not supported on cgroup v2 and deprecated on v1; "
                        "the limit is discarded")
    if host_config.oom_kill_disable and not host_config.memory:
        warnings.append("OOM killer is disabled for the container, but no memory limit is set, this can "
                        "result in the system running out of resources.")
    return warnings


def _running_pid(find_container, name: str, what: str) -> tuple[str, int]:
    target = find_container(name)  # NotFound: "No such container: x"
    if target.state.status == "restarting":  # between two runs: no process, so no namespace to join
        raise Conflict(f"Container {target.id} is restarting, wait until the container is running")
    if not target.state.running or not target.state.pid:
        raise Conflict(f"cannot join {what} of a non running container: {target.id}")
    return target.id, target.state.pid


def shm_path(container_dir: str) -> str:
    """Where a `--ipc shareable` container's /dev/shm lives on the host (Docker: mounts/shm)."""
    return os.path.join(container_dir, "mounts", "shm")


def mount_shareable_shm(container_dir: str, size: int) -> None:
    path = shm_path(container_dir)
    os.makedirs(path, exist_ok=True)
    if not os.path.ismount(path):
        sc.mount("shm", path, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC,
                 f"mode=1777,size={size or DEFAULT_SHM_SIZE}")


def unmount_shareable_shm(container_dir: str) -> None:
    path = shm_path(container_dir)
    if os.path.ismount(path):
        sc.umount2(path, sc.MNT_DETACH)


def apply(spec: dict, host_config: HostConfig, find_container, cgroup_v1: bool, container_dir, idmap=None) -> None:
    """Shape the OCI spec from HostConfig's isolation settings (at start). ``idmap``: the daemon's
    --userns-remap ranges, which give the container a user namespace unless `--userns host`."""
    linux = spec["linux"]
    process = spec["process"]
    privileged = bool(host_config.privileged)
    granted, _missing = capability_set(host_config)
    root_user = process["user"]["uid"] == 0
    process["capabilities"] = {"bounding": granted, "effective": granted if root_user else [],
                               "permitted": granted if root_user else [], "inheritable": [], "ambient": []}
    namespaces = {ns["type"]: ns for ns in linux["namespaces"]}
    modes = _modes(host_config)
    for kind, oci in (("pid", "pid"), ("ipc", "ipc"), ("uts", "uts")):
        mode = modes[kind]
        if mode == "host":
            namespaces.pop(oci, None)
        elif mode.startswith("container:"):
            _cid, pid = _running_pid(find_container, mode[10:], kind.upper())
            namespaces[oci] = {"type": oci, "path": f"/proc/{pid}/ns/{oci}"}
    cgroupns = modes["cgroupns"] or ("host" if cgroup_v1 else "private")
    if cgroupns == "host":
        namespaces.pop("cgroup", None)
    linux["namespaces"] = list(namespaces.values())
    _shm(spec, host_config, modes["ipc"], find_container, container_dir)
    if modes["uts"] == "host":
        spec.pop("hostname", None)
    devices = [d for d in linux.get("devices", [])]
    rules = ["a *:* rwm"] if privileged else list(DEFAULT_DEVICE_RULES)
    if privileged:
        have = {d["path"] for d in devices}
        devices += [d for d in host_devices() if d["path"] not in have]
        linux["maskedPaths"], linux["readonlyPaths"] = [], []
    remapped = idmap is not None and modes["userns"] != "host"
    for m in spec["mounts"]:
        # Docker: /sys is writable when privileged; the cgroup mount also in a user namespace
        # (a remount read-only is refused there).
        if (m["destination"] == "/sys" and privileged) or (m.get("type") == "cgroup" and (privileged or remapped)):
            m["options"] = [o for o in m["options"] if o != "ro"]
    for entry in host_config.devices or []:
        device = parse_device(entry)
        rules.append(f"{device['type']} {device['major']}:{device['minor']} {device.pop('permissions')}")
        devices = [d for d in devices if d["path"] != device["path"]] + [device]
    rules += list(host_config.device_cgroup_rules or [])
    linux["devices"] = devices
    linux["deviceRules"] = rules  # Docker's rule strings; the runtime writes them to the devices cgroup
    if host_config.ulimits:
        process["rlimits"] = [parse_ulimit(u) for u in host_config.ulimits]
    if host_config.sysctls:
        linux["sysctl"] = dict(host_config.sysctls)
    if host_config.oom_score_adj:
        process["oomScoreAdj"] = host_config.oom_score_adj
    # The API's own lists (the docker CLI sends empty ones for `--security-opt systempaths=unconfined`).
    for paths, key in ((host_config.masked_paths, "maskedPaths"), (host_config.readonly_paths, "readonlyPaths")):
        if paths is not None and not privileged:
            linux[key] = list(paths)
    if remapped:
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"], linux["gidMappings"] = idmap.oci()


def _shm(spec: dict, host_config: HostConfig, ipc_mode: str, find_container, container_dir) -> None:
    """/dev/shm: its own tmpfs sized by --shm-size, a host-side tmpfs another container can join
    (shareable), the host's, a shareable donor's, or none. ``container_dir(id)`` is a container's
    directory on the host."""
    mounts = spec["mounts"]
    shm = next((m for m in mounts if m["destination"] == "/dev/shm"), None)
    if shm is None:
        return
    if ipc_mode == "none":
        mounts.remove(shm)
    elif ipc_mode == "host":
        shm.update(type="bind", source="/dev/shm", options=["rbind", "rprivate"])
    elif ipc_mode.startswith("container:"):
        donor_id, _pid = _running_pid(find_container, ipc_mode[10:], "IPC")
        donor = find_container(donor_id)
        if (donor.host_config.ipc_mode or "") != "shareable":
            raise Conflict(f"cannot join IPC of container {donor_id[:12]}: non-shareable IPC (hint: use "
                           "IpcMode:shareable for the donor container)")
        shm.update(type="bind", source=shm_path(container_dir(donor_id)), options=["rbind", "rprivate"])
    elif ipc_mode == "shareable":
        shm.update(type="bind", source=shm_path(container_dir(None)), options=["rbind", "rprivate"])
    else:
        size = host_config.shm_size or DEFAULT_SHM_SIZE
        shm["options"] = [o for o in shm["options"] if not o.startswith("size=")] + [f"size={size}"]
