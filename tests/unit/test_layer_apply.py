"""Applying layer tars: compression, DiffID checks, refusals, and tars written by other tools."""

import hashlib
import io
import os
import subprocess
import tarfile

import pytest
import zstandard

from dockyard.errors import InvalidParameter
from dockyard.images.layers import apply_tar, decompressed


def _tar(entries: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def test_zstd_layers_are_read():
    data = _tar([_file("a", b"hello")])
    compressed = zstandard.ZstdCompressor().compress(data)
    assert decompressed(io.BytesIO(compressed)).read() == data


def test_diff_id_is_checked_while_applying(tmp_path):
    data = _tar([_file("a")])
    good = "sha256:" + hashlib.sha256(data).hexdigest()
    os.mkdir(tmp_path / "ok")
    apply_tar(io.BytesIO(data), str(tmp_path / "ok"), diff_id=good)
    assert (tmp_path / "ok" / "a").read_bytes() == b"x"
    os.mkdir(tmp_path / "bad")
    with pytest.raises(InvalidParameter, match="DiffID mismatch"):
        apply_tar(io.BytesIO(data), str(tmp_path / "bad"), diff_id="sha256:" + "0" * 64)


def test_paths_and_links_that_leave_the_root_are_refused(tmp_path):
    link = tarfile.TarInfo("out")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc"
    for entries, message in (([_file("../x")], "escapes the root"),
                             ([(link, b""), _file("out/passwd")], "leaves the root")):
        dest = tmp_path / message.replace(" ", "-")
        dest.mkdir()
        with pytest.raises(InvalidParameter, match=message):
            apply_tar(io.BytesIO(_tar(entries)), str(dest))
    hard = tarfile.TarInfo("h")
    hard.type, hard.linkname = tarfile.LNKTYPE, "missing"
    with pytest.raises(InvalidParameter, match="not in the layer"):
        apply_tar(io.BytesIO(_tar([(hard, b"")])), str(tmp_path))


def test_gnu_tar_sparse_and_xattr_archives_apply(tmp_path):
    """GNU tar's own PAX sparse files and xattr records, as other tools write them."""
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.seek(1 << 20)
        f.write(b"end")
    os.setxattr(src / "sparse", "user.note", b"kept")
    archive = tmp_path / "layer.tar"
    subprocess.run(["tar", "--format=pax", "--sparse", "--xattrs", "--xattrs-include=user.*", "-cf", str(archive),
                    "-C", str(src), "sparse"], check=True)
    dest = tmp_path / "dest"
    dest.mkdir()
    apply_tar(str(archive), str(dest))
    st = os.stat(dest / "sparse")
    assert st.st_size == (1 << 20) + 3 and st.st_blocks * 512 < st.st_size
    assert (dest / "sparse").read_bytes()[-3:] == b"end"
    assert os.getxattr(dest / "sparse", "user.note") == b"kept"


def test_opaque_directory_keeps_what_the_same_layer_put_there(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "old").write_text("lower")
    directory = tarfile.TarInfo("d")
    directory.type, directory.mode = tarfile.DIRTYPE, 0o755
    # The marker after a new child: order within a layer must not matter.
    data = _tar([(directory, b""), _file("d/new", b"n"), _file("d/.wh..wh..opq", b"")])
    apply_tar(io.BytesIO(data), str(tmp_path), overlay_whiteouts=False)
    assert sorted(os.listdir(tmp_path / "d")) == ["new"]
