"""An external OCI runtime (runc, crun) driven from the shim, as containerd's shim drives runc.

The shim makes itself a child subreaper, mounts the container's root filesystem in a private
mount namespace of its own, writes a bundle (`config.json` in the OCI runtime spec's own terms),
and runs `<runtime> create` and `start`. When `create` returns, the container's process is
re-parented to the shim, which then supervises it exactly as it does the built-in runtime's.
"""

import json
import os
import socket
import subprocess

from dockyard.runtime.linux.console import receive_master
from dockyard.runtime.linux.mounts import mount_filesystem
from dockyard.util import syscalls as sc
from dockyard.util.mountopts import parse_options

PR_SET_CHILD_SUBREAPER = 36
_HYBRID_V2 = "/sys/fs/cgroup/unified"


def _device_rule(rule: str) -> dict:
    """Docker's "c 1:3 rwm" / "a *:* rwm" -> an OCI linux.resources.devices entry."""
    kind, numbers, access = (rule.split() + ["", "", ""])[:3]
    if kind == "a":
        return {"allow": True, "access": access or "rwm"}
    major, _, minor = numbers.partition(":")
    entry: dict = {"allow": True, "type": kind, "access": access}
    if major != "*":
        entry["major"] = int(major)
    if minor != "*":
        entry["minor"] = int(minor)
    return entry


def _resources(r: dict, device_rules: list[str] | None) -> dict:
    """HostConfig's resource fields (as Dockyard's spec carries them) in the OCI spec's shape."""
    from dockyard.runtime.linux.resources import CPU_PERIOD_DEFAULT, _device_numbers

    out: dict = {}
    memory = {}
    if r.get("Memory"):
        memory["limit"] = r["Memory"]
        swap = r.get("MemorySwap")
        memory["swap"] = -1 if swap == -1 else (swap or 2 * r["Memory"])
    if r.get("MemoryReservation"):
        memory["reservation"] = r["MemoryReservation"]
    if r.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    if memory:
        out["memory"] = memory
    cpu: dict = {}
    if r.get("CpuShares"):
        cpu["shares"] = r["CpuShares"]
    if r.get("NanoCpus"):
        cpu["period"] = r.get("CpuPeriod") or CPU_PERIOD_DEFAULT
        cpu["quota"] = r["NanoCpus"] * cpu["period"] // 1_000_000_000
    else:
        if r.get("CpuPeriod"):
            cpu["period"] = r["CpuPeriod"]
        if r.get("CpuQuota"):
            cpu["quota"] = r["CpuQuota"]
    if r.get("CpusetCpus"):
        cpu["cpus"] = r["CpusetCpus"]
    if r.get("CpusetMems"):
        cpu["mems"] = r["CpusetMems"]
    if cpu:
        out["cpu"] = cpu
    if r.get("PidsLimit"):
        out["pids"] = {"limit": r["PidsLimit"]}
    block: dict = {}
    if r.get("BlkioWeight"):
        block["weight"] = r["BlkioWeight"]
    for field, key in (("BlkioDeviceReadBps", "throttleReadBpsDevice"),
                       ("BlkioDeviceWriteBps", "throttleWriteBpsDevice"),
                       ("BlkioDeviceReadIOps", "throttleReadIOPSDevice"),
                       ("BlkioDeviceWriteIOps", "throttleWriteIOPSDevice")):
        for entry in r.get(field) or []:
            major, minor = _device_numbers(entry["Path"]).split(":")
            block.setdefault(key, []).append({"major": int(major), "minor": int(minor), "rate": entry["Rate"]})
    if block:
        out["blockIO"] = block
    if device_rules is not None:
        out["devices"] = [{"allow": False, "access": "rwm"}] + [_device_rule(rule) for rule in device_rules]
    return out


def standard_spec(spec: dict, rootfs: str) -> dict:
    """Dockyard's spec -> the OCI runtime spec proper (Docker-named resources and device rules become
    `linux.resources`; the root is the mounted directory)."""
    out = json.loads(json.dumps(spec))
    out["root"] = {"path": rootfs, "readonly": bool(spec["root"].get("readonly"))}
    linux = out["linux"]
    resources = linux.pop("resources", None) or {}
    linux["resources"] = _resources(resources, linux.pop("deviceRules", None))
    for device in linux.get("devices", []):
        device.pop("permissions", None)
    return out


def _run(runtime: dict, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    log = os.path.join(runtime["bundle"], "runtime.log")
    return subprocess.run([runtime["path"], "--root", runtime["root"], "--log", log, "--log-format", "json", *args],
                          close_fds=True, **kwargs)


def _last_error(runtime: dict, fallback: str) -> str:
    """The runtime's own words: the last error in its JSON log."""
    message = ""
    try:
        with open(os.path.join(runtime["bundle"], "runtime.log")) as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("level") in ("error", "fatal") and record.get("msg"):
                    message = record["msg"]
    except OSError:
        pass
    return message or fallback


def start(request: dict, stdio: tuple[int, int, int]) -> tuple[int, int, str]:
    """Create and start the container with the request's OCI runtime.
    Returns (pid, pty master or -1, error text or "")."""
    runtime = dict(request["oci_runtime"])
    name = os.path.basename(runtime["path"])
    bundle = runtime["bundle"] = os.path.join(request["state_dir"], "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(rootfs, exist_ok=True)
    os.makedirs(runtime["root"], exist_ok=True)
    sc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    # The root filesystem is mounted in the shim's own mount namespace: nothing is left on the host.
    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_SLAVE)
    if name == "crun" and os.path.ismount(_HYBRID_V2):
        sc.umount2(_HYBRID_V2, sc.MNT_DETACH)  # crun refuses hybrid hosts; it then uses the v1 hierarchy
    for m in request.get("rootfs_mounts", []):
        flags, _propagation, data = parse_options(m.get("options") or [])
        if m["type"] == "bind":
            sc.mount(m["source"], rootfs, None, sc.MS_BIND | sc.MS_REC)
        else:
            mount_filesystem(m["source"], rootfs, m["type"], flags, data)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(standard_spec(request["spec"], rootfs), f)
    pid_file = os.path.join(bundle, "init.pid")
    args = ["create", "--bundle", bundle, "--pid-file", pid_file]
    listener = None
    if request["spec"]["process"].get("terminal"):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # The runtime connects by path, and the bundle's may exceed sun_path's 108 bytes.
        console_path = f"/run/dy-console-{request['id'][:12]}-{os.urandom(4).hex()}.sock"
        listener.bind(console_path)
        listener.listen(1)
        args += ["--console-socket", console_path]
    created = _run(runtime, [*args, request["id"]], stdin=stdio[0], stdout=stdio[1], stderr=stdio[2])
    if created.returncode != 0 and listener is not None:
        listener.close()
        os.unlink(console_path)
    if created.returncode != 0:
        _run(runtime, ["delete", "--force", request["id"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return -1, -1, _last_error(runtime, f"{name} create failed with status {created.returncode}")
    master = -1
    if listener is not None:
        listener.settimeout(10)
        try:
            connection, _ = listener.accept()
            master = receive_master(connection)
            connection.close()
        except OSError as exc:
            return -1, -1, f"{name} sent no console: {exc}"
        finally:
            listener.close()
            os.unlink(console_path)
    with open(pid_file) as f:
        pid = int(f.read().strip())
    started = _run(runtime, ["start", request["id"]], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    if started.returncode != 0:
        error = _last_error(runtime, f"{name} start failed with status {started.returncode}")
        _run(runtime, ["delete", "--force", request["id"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return -1, -1, error
    return pid, master, ""


def delete(request: dict) -> None:
    runtime = dict(request["oci_runtime"], bundle=os.path.join(request["state_dir"], "bundle"))
    _run(runtime, ["delete", "--force", request["id"]], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
         stderr=subprocess.DEVNULL)
