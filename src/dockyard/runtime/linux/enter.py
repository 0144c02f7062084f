"""An exec: a new process inside a running container's namespaces and cgroup.

The shim has already joined the container's PID namespace (which only affects its children) and
forked us; we join the rest, mount namespace last since it moves our root into the container.
"""

import os

from dockyard.runtime.linux import seccomp
from dockyard.runtime.linux.cgroups import Cgroup
from dockyard.runtime.linux.console import setup_console
from dockyard.runtime.linux.init import exec_process, fail
from dockyard.util import syscalls as sc

NAMESPACES = (("ipc", sc.CLONE_NEWIPC), ("uts", sc.CLONE_NEWUTS), ("net", sc.CLONE_NEWNET),
              ("cgroup", sc.CLONE_NEWCGROUP), ("mnt", sc.CLONE_NEWNS))


def run(process: dict, target_pid: int, cgroups_path: str | None, error_fd: int, console_fd: int = -1,
        seccomp_filter: seccomp.Filter | str | None = None) -> None:
    """Never returns."""
    try:
        if cgroups_path:
            Cgroup(cgroups_path).join()
        # Namespaces the container shares with us (--uts host, a host cgroup namespace) are not joined:
        # in a remapped container those belong to the host's user namespace and could not be.
        fds = [(os.open(f"/proc/{target_pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag)
               for name, flag in NAMESPACES
               if os.readlink(f"/proc/{target_pid}/ns/{name}") != os.readlink(f"/proc/self/ns/{name}")]
        if os.readlink(f"/proc/{target_pid}/ns/user") != os.readlink("/proc/self/ns/user"):
            # A remapped container: join its network namespace (the daemon's, owned by the host's user
            # namespace) first, then its user namespace, then the rest, which that one owns.
            user_fd = os.open(f"/proc/{target_pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
            net = [entry for entry in fds if entry[1] == sc.CLONE_NEWNET]
            fds = net + [(user_fd, sc.CLONE_NEWUSER)] + [entry for entry in fds if entry[1] != sc.CLONE_NEWNET]
        for fd, flag in fds:
            sc.setns(fd, flag)
            os.close(fd)
        os.chdir("/")
        if console_fd >= 0:
            setup_console(console_fd, bind_console=False)
        exec_process(process, seccomp_filter)
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the daemon as text
        fail(error_fd, exc)


def join_pid_namespace(target_pid: int) -> None:
    """For the shim, before it forks the exec'd process."""
    fd = os.open(f"/proc/{target_pid}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(fd, sc.CLONE_NEWPID)
    finally:
        os.close(fd)
