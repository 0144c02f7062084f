"""AppArmor: ask the kernel to confine the process in a loaded profile from its next execve."""

import os


def change_onexec(profile: str) -> None:
    """Write "exec <profile>" to this thread's exec attribute, as runc (libapparmor's
    aa_change_onexec) does; the newer per-LSM file first, the shared one on older kernels."""
    for path in ("/proc/thread-self/attr/apparmor/exec", "/proc/self/attr/exec"):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            os.write(fd, f"exec {profile}".encode())
        except OSError as exc:
            raise OSError(exc.errno, f"applying AppArmor profile {profile}: {os.strerror(exc.errno or 0)}") from None
        finally:
            os.close(fd)
        return
    raise OSError(2, f"applying AppArmor profile {profile}: AppArmor is not available in this kernel")
