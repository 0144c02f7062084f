"""The container's first process, from fork to execve: the linear sequence crun's linux.c follows.

Runs in a freshly forked child that is already PID 1 of a new PID namespace. Any failure is
written to ``error_fd`` (close-on-exec, so a successful exec closes it with nothing written).
"""

import os
import resource  # imported here: after pivot_root the host's Python library is out of reach

from dockyard.runtime.linux import apparmor, capabilities, devices, mounts, resources, seccomp, userinit
from dockyard.runtime.linux.cgroups import Cgroup
from dockyard.runtime.linux.console import setup_console
from dockyard.runtime.linux.loopback import bring_up_loopback
from dockyard.util import syscalls as sc

NAMESPACE_FLAGS = {
    "mount": sc.CLONE_NEWNS, "uts": sc.CLONE_NEWUTS, "ipc": sc.CLONE_NEWIPC,
    "network": sc.CLONE_NEWNET, "cgroup": sc.CLONE_NEWCGROUP,
}


class StartError(Exception):
    """A failure Docker reports as "unable to start container process: ..."."""


def _lookup_executable(name: str, env: list[str]) -> str:
    """Go's exec.LookPath, with runc's messages."""
    if "/" in name:
        try:
            st = os.stat(name)
        except FileNotFoundError:
            raise StartError(f'exec: "{name}": stat {name}: no such file or directory') from None
        if os.path.isdir(name) or not st.st_mode & 0o111:
            raise StartError(f'exec: "{name}": permission denied')
        return name
    path = next((e[5:] for e in env if e.startswith("PATH=")), "")
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if not os.path.isdir(candidate) and st.st_mode & 0o111:
            return candidate
    raise StartError(f'exec: "{name}": executable file not found in $PATH')


def _setup_filesystem(spec: dict, rootfs_mounts: list[dict]) -> None:
    root = spec["root"]["path"]
    mounts.mount_rootfs(root, rootfs_mounts)
    cgroupns = any(ns["type"] == "cgroup" for ns in spec["linux"].get("namespaces", []))
    for m in spec.get("mounts", []):
        mounts.mount_one(root, m, cgroupns=cgroupns)
        if m["destination"] == "/dev":
            devices.create_devices(root, spec["linux"].get("devices", []))
            devices.create_links(root)
    _finish_filesystem(spec)


def _finish_filesystem(spec: dict, root: str | None = None) -> None:
    """Everything from pivot_root on: sysctls, masked and read-only paths, a read-only root."""
    mounts.pivot_into(root or spec["root"]["path"])
    linux = spec.get("linux", {})
    for key, value in (linux.get("sysctl") or {}).items():  # before /proc/sys turns read-only
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
    mounts.mask_paths(linux.get("maskedPaths", []))
    mounts.readonly_paths(linux.get("readonlyPaths", []))
    if spec["root"].get("readonly"):
        mounts.remount_root_readonly()


def _become_user(process: dict) -> None:
    user = process.get("user", {})
    caps = process.get("capabilities", {})
    capabilities.drop_bounding(capabilities.mask(caps.get("bounding", [])))
    sc.prctl(sc.PR_SET_KEEPCAPS, 1)
    os.setgroups(list(user.get("additionalGids") or []))
    os.setgid(user.get("gid", 0))
    os.setuid(user.get("uid", 0))
    sc.prctl(sc.PR_SET_KEEPCAPS, 0)
    capabilities.apply(caps)
    if process.get("noNewPrivileges"):
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)


def _apply_limits(process: dict) -> None:
    for limit in process.get("rlimits") or []:
        kind = sc.RLIMITS[limit["type"][7:].lower()]
        try:
            resource.setrlimit(kind, (limit["soft"], limit["hard"]))
        except (ValueError, OSError) as exc:
            raise StartError(f"error setting rlimit type {limit['type'][7:].lower()}: {exc} (the daemon's hard "
                             f"limit is {resource.getrlimit(kind)[1]}; this host cannot raise it)") from None
    if process.get("oomScoreAdj") is not None:
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(process["oomScoreAdj"]))
        except OSError as exc:
            raise StartError(f"write /proc/self/oom_score_adj: {(exc.strerror or '').lower()}") from None


def _home_of(uid: int) -> str:
    """The user's home in the container's own /etc/passwd, "/" without an entry (runc's default)."""
    try:
        with open("/etc/passwd", errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


def with_home(env: list[str], uid: int) -> list[str]:
    """runc sets HOME from the container's passwd file when neither the image nor -e set it."""
    if any(e.startswith("HOME=") for e in env):
        return env
    return [*env, "HOME=" + _home_of(uid)]


def exec_process(process: dict, seccomp_filter: seccomp.Filter | str | None = None) -> None:
    """Become the process's user, enter its working directory and execve it (never returns).
    ``seccomp_filter`` is the compiled ``linux.seccomp`` (or why it could not be compiled)."""
    env = with_home(process.get("env", []), process.get("user", {}).get("uid", 0))
    cwd = process.get("cwd") or "/"
    os.makedirs(cwd, exist_ok=True)  # Docker creates a missing working directory
    _apply_limits(process)
    if isinstance(seccomp_filter, str):
        raise StartError(seccomp_filter)
    if process.get("apparmorProfile"):
        apparmor.change_onexec(process["apparmorProfile"])
    no_new_privs = bool(process.get("noNewPrivileges"))
    if seccomp_filter and not no_new_privs:
        # Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which _become_user drops (runc's order).
        seccomp.install(seccomp_filter)
    _become_user(process)
    os.chdir(cwd)
    args = process["args"]
    executable = _lookup_executable(args[0], env)
    environ = dict(e.partition("=")[::2] for e in env)
    if seccomp_filter and no_new_privs:
        seccomp.install(seccomp_filter)  # as late as possible: execve is the last call it sees from us
    os.execve(executable, args, environ)


def fail(error_fd: int, exc: BaseException) -> None:
    """Report why the process could not start, then exit 127 (never returns)."""
    if isinstance(exc, StartError):
        _report(error_fd, str(exc))
    elif isinstance(exc, PermissionError) and exc.filename:
        _report(error_fd, f"{exc.filename}: permission denied")
    else:
        _report(error_fd, f"{type(exc).__name__}: {exc}")
    os._exit(127)


def run(spec: dict, rootfs_mounts: list[dict], error_fd: int, console_fd: int = -1,
        seccomp_filter: seccomp.Filter | str | None = None, userns_sync: tuple[int, int] | None = None) -> None:
    """Never returns: execs the container command or exits 127 after reporting the error."""
    try:
        if spec["linux"].get("cgroupsPath"):
            cgroup = Cgroup(spec["linux"]["cgroupsPath"])
            cgroup.create()
            if spec["linux"].get("resources"):
                resources.apply(cgroup, spec["linux"]["resources"])
            if spec["linux"].get("deviceRules") is not None:
                cgroup.set_device_rules(spec["linux"]["deviceRules"])
            cgroup.join()  # before the cgroup namespace is made, so it is rooted at our cgroup
        entries = spec["linux"].get("namespaces", [])
        namespaces = {ns["type"] for ns in entries}
        joined = {ns["type"] for ns in entries if ns.get("path")}
        for ns in entries:  # OCI: a namespace with a path is joined (another container's, a netns)
            if ns.get("path") and ns["type"] in NAMESPACE_FLAGS:
                join_namespace(ns["path"], NAMESPACE_FLAGS[ns["type"]])
        if "user" in namespaces and userns_sync is not None:
            if "pid" in joined:
                raise StartError("a user-namespaced container cannot join another container's PID namespace")
            sync_read, sync_write = userns_sync
            userinit.prepare_as_host_root(spec, rootfs_mounts)
            # Inside the user namespace the host's directories above the root may not be searchable:
            # from here on the root is reached through this descriptor, as ".".
            root_fd = os.open(spec["root"]["path"], os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            userinit.enter_user_namespace(sync_read, sync_write)
            os.fchdir(root_fd)  # before the new mount namespace: unshare moves the cwd to its copy
            os.close(root_fd)
            userinit.fork_pid_1(spec, joined, NAMESPACE_FLAGS, sync_write)
            os.close(sync_read)
            os.close(sync_write)
            userinit.rebind_root(spec)
            userinit.mount_late(spec, ".")
            _finish_filesystem(spec, ".")
        else:
            flags = 0
            for kind, flag in NAMESPACE_FLAGS.items():
                if kind in namespaces and kind not in joined:
                    flags |= flag
            sc.unshare(flags)
            _setup_filesystem(spec, rootfs_mounts)
        if console_fd >= 0:
            setup_console(console_fd)
        if "uts" in namespaces and spec.get("hostname"):
            sc.sethostname(spec["hostname"])
        if "network" in namespaces and "network" not in joined:
            bring_up_loopback()
        exec_process(spec["process"], seccomp_filter)
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the daemon as text
        fail(error_fd, exc)


def join_namespace(path: str, flag: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(fd, flag)
    finally:
        os.close(fd)


def _report(error_fd: int, message: str) -> None:
    try:
        os.write(error_fd, message.encode()[:4000])
    except OSError:
        pass
