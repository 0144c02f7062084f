"""Property tests for layer diff/apply: a random tree is changed, diffed, applied on the original,
and the result equals the changed tree, metadata included.

Two routes, as the two snapshotters take them: the changes made through a real overlay mount and
the diff read from its upper dir; and the changes made on a plain copy and the diff found by
comparing with the original (the copy snapshotter's way). The overlay route also applies the
layer in overlay format (whiteout devices, opaque xattrs) and checks the stacked mount.
"""

import bz2
import gzip
import hashlib
import io
import lzma
import os
import shutil
import stat
import subprocess
import tempfile

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.images.diff import LayerTarWriter, naive_changes, overlay_changes
from dockyard.images.layers import apply_tar, decompressed, is_overlay_xattr

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="device nodes, owners and overlay mounts need root")

# A valid VFS_CAP_REVISION_2 value: effective, cap_net_raw permitted.
CAP_NET_RAW = b"\x01\x00\x00\x02" + (1 << 13).to_bytes(4, "little") + bytes(12)
MODES = [0o644, 0o600, 0o755, 0o4755, 0o2711, 0o1777, 0o000]
NAMES = ["a", "b", "c", "d"]

meta = st.fixed_dictionaries({"mode": st.sampled_from(MODES), "uid": st.sampled_from([0, 1, 1000]),
                              "gid": st.sampled_from([0, 5, 1000]), "mtime": st.integers(0, 2_000_000_000)})
file_xattrs = st.sampled_from([{}, {"user.x": b"1"}, {"user.y": b"\xff\x00bin"},
                               {"security.capability": CAP_NET_RAW},
                               {"user.x": b"2", "security.capability": CAP_NET_RAW}])
dir_xattrs = st.sampled_from([{}, {"user.x": b"d"}])
leaf = st.one_of(
    st.tuples(st.just("file"), st.binary(max_size=40), meta, file_xattrs),
    st.tuples(st.just("sparse"), st.integers(1, 16), st.binary(min_size=1, max_size=20), meta),
    st.tuples(st.just("symlink"), st.sampled_from(["a", "../x", "/etc/passwd", "d/e"]), meta),
    st.tuples(st.just("fifo"), meta),
    st.tuples(st.just("chr"), st.sampled_from([(1, 3), (1, 5), (5, 1)]), meta),
    st.tuples(st.just("blk"), st.just((7, 0)), meta),
)
tree = st.recursive(leaf, lambda children: st.tuples(
    st.just("dir"), st.dictionaries(st.sampled_from(NAMES), children, max_size=3), meta, dir_xattrs), max_leaves=10)
root_tree = st.tuples(st.dictionaries(st.sampled_from(NAMES), tree, min_size=1, max_size=4),
                      st.lists(st.tuples(st.integers(0, 20), st.sampled_from(["l1", "l2"])), max_size=2))
index = st.integers(0, 40)
op = st.one_of(
    st.tuples(st.just("write"), index, st.binary(min_size=1, max_size=20)),
    st.tuples(st.just("chmod"), index, st.sampled_from(MODES)),
    st.tuples(st.just("chown"), index, st.sampled_from([0, 7, 1000]), st.sampled_from([0, 7])),
    st.tuples(st.just("delete"), index),
    st.tuples(st.just("to_file"), index, st.binary(max_size=20)),
    st.tuples(st.just("to_dir"), index),
    st.tuples(st.just("opaque"), index),
    st.tuples(st.just("add"), index, st.sampled_from(["n", "o"]), leaf),
    st.tuples(st.just("xattr"), index, file_xattrs),
    st.tuples(st.just("link"), index, st.sampled_from(["m1", "m2"])),
    st.tuples(st.just("mtime"), index, st.integers(0, 2_000_000_000)),
)
ops = st.lists(op, min_size=1, max_size=6)


# -- building and changing trees ----------------------------------------------------------------
def _set_meta(path: str, m: dict, xattrs: dict | None = None) -> None:
    os.chown(path, m["uid"], m["gid"], follow_symlinks=False)
    if not os.path.islink(path):
        os.chmod(path, m["mode"])
    for name, value in (xattrs or {}).items():
        os.setxattr(path, name, value, follow_symlinks=False)
    os.utime(path, ns=(m["mtime"] * 10**9, m["mtime"] * 10**9), follow_symlinks=False)


def build(path: str, node: tuple) -> None:
    kind = node[0]
    if kind == "dir":
        os.mkdir(path)
        for name, child in sorted(node[1].items()):
            build(os.path.join(path, name), child)
        _set_meta(path, node[2], node[3])
    elif kind == "file":
        with open(path, "wb") as f:
            f.write(node[1])
        _set_meta(path, node[2], node[3])
    elif kind == "sparse":
        with open(path, "wb") as f:
            f.seek(node[1] * 65536)
            f.write(node[2])
            f.truncate(node[1] * 65536 * 2)  # a hole at the end too
        _set_meta(path, node[3])
    elif kind == "symlink":
        os.symlink(node[1], path)
        _set_meta(path, node[2])
    elif kind == "fifo":
        os.mkfifo(path)
        _set_meta(path, node[1])
    else:
        kind_bits = stat.S_IFCHR if kind == "chr" else stat.S_IFBLK
        os.mknod(path, kind_bits | 0o600, os.makedev(*node[1]))
        _set_meta(path, node[2])


def build_root(path: str, spec: tuple) -> None:
    children, links = spec
    build(path, ("dir", children, {"mode": 0o755, "uid": 0, "gid": 0, "mtime": 1_000_000_000}, {}))
    files = [p for p in all_paths(path) if stat.S_ISREG(os.lstat(os.path.join(path, p)).st_mode)]
    for i, name in links:
        if files and not os.path.lexists(os.path.join(path, name)):
            os.link(os.path.join(path, files[i % len(files)]), os.path.join(path, name))


def all_paths(root: str) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(out)


def _delete(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def change(root: str, operation: tuple) -> None:
    kind = operation[0]
    paths = all_paths(root)
    if kind == "add":
        dirs = [""] + [p for p in paths if os.path.isdir(os.path.join(root, p)) and
                       not os.path.islink(os.path.join(root, p))]
        target = os.path.join(root, dirs[operation[1] % len(dirs)], operation[2])
        if not os.path.lexists(target):
            build(target, operation[3])
        return
    if not paths:
        return
    path = os.path.join(root, paths[operation[1] % len(paths)])
    st_ = os.lstat(path)
    regular, directory = stat.S_ISREG(st_.st_mode), stat.S_ISDIR(st_.st_mode)
    if kind == "write" and regular:
        with open(path, "ab") as f:
            f.write(operation[2])
    elif kind == "chmod" and not stat.S_ISLNK(st_.st_mode):
        os.chmod(path, operation[2])
    elif kind == "chown":
        os.chown(path, operation[2], operation[3], follow_symlinks=False)
    elif kind == "delete":
        _delete(path)
    elif kind == "to_file":
        _delete(path)
        with open(path, "wb") as f:
            f.write(operation[2])
    elif kind == "to_dir" and not directory:
        _delete(path)
        os.mkdir(path)
        with open(os.path.join(path, "z"), "wb") as f:
            f.write(b"z")
    elif kind == "opaque" and directory:
        _delete(path)  # on overlay: deleted and made again, so the new directory is opaque
        os.mkdir(path)
        with open(os.path.join(path, "n"), "wb") as f:
            f.write(b"new")
    elif kind == "xattr" and regular:
        for name, value in operation[2].items():
            os.setxattr(path, name, value)
    elif kind == "link" and regular:
        target = os.path.join(root, operation[2])
        if not os.path.lexists(target):
            os.link(path, target)
    elif kind == "mtime" and not directory:
        os.utime(path, ns=(operation[2] * 10**9, operation[2] * 10**9), follow_symlinks=False)


# -- comparing ----------------------------------------------------------------------------------
def snapshot(root: str) -> dict:
    """Everything a layer must keep, per path (times in seconds, as layers carry them)."""
    out = {}
    for rel in all_paths(root):
        path = os.path.join(root, rel)
        s = os.lstat(path)
        record = [stat.S_IFMT(s.st_mode), stat.S_IMODE(s.st_mode), s.st_uid, s.st_gid, s.st_mtime_ns // 10**9]
        if stat.S_ISREG(s.st_mode):
            with open(path, "rb") as f:
                record += [s.st_size, hashlib.sha256(f.read()).hexdigest(), s.st_blocks * 512 < s.st_size]
        elif stat.S_ISLNK(s.st_mode):
            record.append(os.readlink(path))
        elif stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode):
            record.append(s.st_rdev)
        names = [n for n in os.listxattr(path, follow_symlinks=False) if not is_overlay_xattr(n)]
        record.append(sorted((n, os.getxattr(path, n, follow_symlinks=False)) for n in names))
        out[rel] = tuple(record)
    return out


def link_groups(root: str, paths: set[str]) -> set[frozenset[str]]:
    """Hard-link groups among ``paths``."""
    by_inode: dict[int, set[str]] = {}
    for rel in paths:
        s = os.lstat(os.path.join(root, rel))
        if stat.S_ISREG(s.st_mode):
            by_inode.setdefault(s.st_ino, set()).add(rel)
    return {frozenset(g) for g in by_inode.values() if len(g) > 1}


def layer_tar(changes) -> tuple[bytes, set[str]]:
    out = io.BytesIO()
    writer = LayerTarWriter(out)
    added = set()
    for c in changes:
        writer.add(c)
        if c.kind == "add":
            added.add(c.name)
    writer.close()
    return out.getvalue(), added


def mount_overlay(lowers: list[str], merged: str, upper: str | None = None, work: str | None = None) -> None:
    options = "lowerdir=" + ":".join(lowers)
    if upper:
        options += f",upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, merged], check=True)


def umount(path: str) -> None:
    subprocess.run(["umount", path], check=True)


# LAYER_EXAMPLES=1000 for a longer hunt; the default keeps the suite fast.
SETTINGS = settings(max_examples=int(os.environ.get("LAYER_EXAMPLES", "40")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(spec=root_tree, operations=ops)
def test_overlay_upper_dir_round_trip(spec, operations):
    with tempfile.TemporaryDirectory(prefix="dockyard-layer-", dir="/tmp") as tmp:
        lower, upper, work, merged, result, layer = (os.path.join(tmp, n) for n in
                                                     ("lower", "upper", "work", "merged", "result", "layer"))
        for directory in (upper, work, merged, layer):
            os.mkdir(directory)
        build_root(lower, spec)
        build_root(result, spec)
        mount_overlay([lower], merged, upper, work)
        try:
            for operation in operations:
                change(merged, operation)
            expected = snapshot(merged)
        finally:
            umount(merged)
        data, added = layer_tar(overlay_changes(upper))
        apply_tar(io.BytesIO(data), result, overlay_whiteouts=False)
        assert snapshot(result) == expected
        upper_files = {p for p in all_paths(upper) if not stat.S_ISCHR(os.lstat(os.path.join(upper, p)).st_mode)}
        assert link_groups(result, upper_files) == link_groups(upper, upper_files)
        # The same layer in overlay format, stacked on the original: the container's view again.
        apply_tar(io.BytesIO(data), layer, overlay_whiteouts=True)
        mount_overlay([layer, lower], merged)
        try:
            assert snapshot(merged) == expected
        finally:
            umount(merged)


@SETTINGS
@given(spec=root_tree, operations=ops)
def test_copy_snapshot_round_trip(spec, operations):
    with tempfile.TemporaryDirectory(prefix="dockyard-layer-", dir="/tmp") as tmp:
        lower, changed, result = (os.path.join(tmp, n) for n in ("lower", "changed", "result"))
        build_root(lower, spec)
        build_root(changed, spec)
        build_root(result, spec)
        for operation in operations:
            change(changed, operation)
        data, added = layer_tar(naive_changes(changed, [lower]))
        apply_tar(io.BytesIO(data), result, overlay_whiteouts=False)
        assert snapshot(result) == snapshot(changed)
        assert link_groups(result, added) == link_groups(changed, added)


def test_an_unchanged_tree_gives_dockers_empty_layer(tmp_path):
    from dockyard.images.diff import EMPTY_LAYER_DIFF_ID

    build_root(str(tmp_path / "a"), ({"a": ("file", b"x", {"mode": 0o644, "uid": 0, "gid": 0, "mtime": 5}, {})}, []))
    build_root(str(tmp_path / "b"), ({"a": ("file", b"x", {"mode": 0o644, "uid": 0, "gid": 0, "mtime": 5}, {})}, []))
    data, _ = layer_tar(naive_changes(str(tmp_path / "b"), [str(tmp_path / "a")]))
    assert "sha256:" + hashlib.sha256(data).hexdigest() == EMPTY_LAYER_DIFF_ID


@SETTINGS
@given(spec=root_tree, first=ops, second=ops)
def test_copy_snapshot_round_trip_over_a_layer_stack(spec, first, second):
    """As the copy snapshotter sees it: the image is a stack of overlay-format layers (whiteouts,
    opaque dirs), the container a flattened copy of it."""
    with tempfile.TemporaryDirectory(prefix="dockyard-layer-", dir="/tmp") as tmp:
        base, step, layer, flat, result = (os.path.join(tmp, n) for n in ("base", "step", "layer", "flat", "result"))
        for root in (base, step, flat, result):
            build_root(root, spec)
        for operation in first:
            change(step, operation)
        first_tar, _ = layer_tar(naive_changes(step, [base]))
        os.mkdir(layer)
        apply_tar(io.BytesIO(first_tar), layer, overlay_whiteouts=True)
        for root in (flat, result):
            apply_tar(io.BytesIO(first_tar), root, overlay_whiteouts=False)
        for operation in second:
            change(flat, operation)
        second_tar, _ = layer_tar(naive_changes(flat, [layer, base]))
        apply_tar(io.BytesIO(second_tar), result, overlay_whiteouts=False)
        assert snapshot(result) == snapshot(flat)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress,
                                      lambda data: zstandard.ZstdCompressor().compress(data), lambda data: data])
def test_every_decompressed_reader_can_peek(compress):
    """docker load peeks at the decompressed archive to tell an empty input apart (zstd's reader had no peek)."""
    plain = b"ustar-like payload " * 1000
    reader = decompressed(io.BytesIO(compress(plain)))
    assert reader.peek(1)[:1] == b"u"
    assert reader.read() == plain
