"""Overlay mounts beyond mount(2)'s one-page option limit."""

import os
import shutil
import tempfile

from dockyard.runtime.linux.mounts import mount_filesystem


def test_overlay_over_a_hundred_layers_mounts():
    root = tempfile.mkdtemp(prefix="dockyard-overlay-", dir="/tmp")
    try:
        lowers = []
        for i in range(100):  # each path is ~90 bytes: the option string is ~10 kB
            layer = os.path.join(root, "snapshots", f"{i:064x}", "fs")
            os.makedirs(layer)
            with open(os.path.join(layer, f"file{i}"), "w") as f:
                f.write(str(i))
            lowers.append(layer)
        for name in ("upper", "work", "merged"):
            os.mkdir(os.path.join(root, name))
        data = f"lowerdir={':'.join(reversed(lowers))},upperdir={root}/upper,workdir={root}/work"
        assert len(data) > 4096
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # a private mount namespace, so nothing is left mounted on the host
            code = 1
            try:
                from dockyard.util import syscalls as sc

                sc.unshare(sc.CLONE_NEWNS)
                sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
                mount_filesystem("overlay", f"{root}/merged", "overlay", 0, data)
                os.write(write, ",".join(sorted(os.listdir(f"{root}/merged"))).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        seen = os.read(read, 1 << 16).decode().split(",")
        os.close(read)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert sorted(seen) == sorted(f"file{i}" for i in range(100))
    finally:
        shutil.rmtree(root)
