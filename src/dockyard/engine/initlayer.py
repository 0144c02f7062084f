"""A container's "init" layer: the mount points the runtime needs (/proc, /sys, /dev and the
name files), made in a layer of their own between the image and the container's writable layer,
as Docker's -init layer, so they never show up in diff, export or commit."""

from __future__ import annotations

import os

from dockyard.engine.seams import ContainerLayers
from dockyard.runtime.linux.userns import IdMap

INIT_DIRS = ("/proc", "/sys", "/dev")
INIT_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev/console")


def init_layer(cid: str) -> str:
    return f"{cid}-init"


def prepare_rootfs(layers: ContainerLayers, cid: str, image_key: str | None, extra_files: tuple[str, ...] = (),
                   idmap: IdMap | None = None) -> None:
    """The container's writable layer over its init layer over the image (``image_key``);
    ``extra_files`` are more files to bind-mount over (--init's binary)."""
    fs = layers.begin_layer(init_layer(cid))
    try:
        for directory in INIT_DIRS:
            if layers.lstat(image_key, directory) is None:
                os.makedirs(os.path.join(fs, directory.lstrip("/")), mode=0o755, exist_ok=True)
        for path in INIT_FILES + extra_files:
            parent = os.path.dirname(path)
            target_parent = os.path.join(fs, parent.lstrip("/"))
            if not os.path.isdir(target_parent):
                os.makedirs(target_parent, mode=0o755)
                below = layers.lstat(image_key, parent)
                if below is not None:  # keep the image's owner and mode on the shared parent
                    os.chmod(target_parent, below.st_mode & 0o7777)
                    os.chown(target_parent, below.st_uid, below.st_gid)
            os.close(os.open(os.path.join(fs, path.lstrip("/")), os.O_CREAT | os.O_WRONLY, 0o755))
        if idmap is not None:  # what the daemon made here belongs to the container's root
            for dirpath, dirnames, filenames in os.walk(fs):
                for name in dirnames + filenames:
                    path = os.path.join(dirpath, name)
                    st = os.lstat(path)
                    if st.st_uid < idmap.size:
                        os.lchown(path, idmap.host_uid(st.st_uid), idmap.host_gid(st.st_gid))
        layers.commit_layer(init_layer(cid), image_key)
    except BaseException:
        layers.abort_layer(init_layer(cid))
        raise
    layers.prepare(cid, init_layer(cid))
    if idmap is not None:  # the merged root directory takes its owner from the upper dir
        os.chown(layers.fs_path(cid), idmap.uid_base, idmap.gid_base)
