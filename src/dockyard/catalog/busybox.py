"""busybox:latest from Debian's busybox-static: the one static binary, a hard link per applet,
/etc/passwd and /etc/group with the usual system accounts. No package manager, no shell but
busybox's own, as in the official image."""

import io
import os
import subprocess
import tarfile
import tempfile

from dockyard.catalog.bootstrap import BootstrapError, normalise

DIRECTORIES = ("bin", "dev", "etc", "home", "proc", "root", "sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin",
               "var", "var/spool", "var/spool/mail", "var/www")
PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
floppy:x:11:
audio:x:12:
dialout:x:20:
www-data:x:33:
users:x:100:
nogroup:x:65534:
"""


def _applets(binary: bytes) -> list[str]:
    """`busybox --list-full` of the packaged binary (static, so it runs on the host)."""
    with tempfile.NamedTemporaryFile(prefix="busybox-", delete=False) as f:
        f.write(binary)
    try:
        os.chmod(f.name, 0o755)
        out = subprocess.run([f.name, "--list-full"], capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BootstrapError(f"busybox --list-full failed: {exc}") from None
    finally:
        os.unlink(f.name)
    return sorted(line.strip() for line in out.splitlines() if line.strip() and line.strip() != "bin/busybox")


def make_layer(mtime: int):
    """The transform for bootstrap(): mmdebstrap's extracted busybox-static in, the rootfs out."""

    def transform(tar_in: tarfile.TarFile, tar_out: tarfile.TarFile) -> None:
        binary = None
        for member in tar_in:
            if member.name.removeprefix("./") == "bin/busybox" and member.isreg():
                binary = tar_in.extractfile(member).read()  # type: ignore[union-attr]  # a regular member
        if binary is None:
            raise BootstrapError("busybox-static's package has no /bin/busybox")
        applets = _applets(binary)
        entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}

        def add(name: str, kind: bytes, mode: int, data: bytes | None = None, link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.linkname = kind, mode, mtime, link
            info.size = len(data) if data is not None else 0
            normalise(info)
            entries[name] = (info, data)

        for directory in DIRECTORIES:
            add(directory, tarfile.DIRTYPE, 0o755)
        for applet in applets:
            parent = os.path.dirname(applet)
            while parent and parent not in entries:
                add(parent, tarfile.DIRTYPE, 0o755)
                parent = os.path.dirname(parent)
        entries["tmp"][0].mode = 0o1777
        entries["root"][0].mode = 0o700
        add("bin/busybox", tarfile.REGTYPE, 0o755, binary)
        for applet in applets:
            add(applet, tarfile.LNKTYPE, 0o755, link="bin/busybox")
        add("etc/passwd", tarfile.REGTYPE, 0o644, PASSWD.encode())
        add("etc/group", tarfile.REGTYPE, 0o644, GROUP.encode())
        # Directories, the binary, then its links and the rest, each sorted: the same bytes every run.
        names = sorted(entries, key=lambda n: (entries[n][0].type != tarfile.DIRTYPE, n != "bin/busybox", n))
        for name in names:
            info, data = entries[name]
            tar_out.addfile(info, io.BytesIO(data) if data is not None else None)

    return transform
