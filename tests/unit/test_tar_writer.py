"""The one tar writer (dockyard.util.tarstream) as each of its users writes with it: the bytes are
pinned by digests taken from the writers it replaced, so layer DiffIDs, image IDs and build
contexts stay what they were. Inputs are fixed (names, modes, owners, times, contents); the
layer-diff case reads files made here with set times, owned by whoever runs the test."""

import hashlib
import io
import os
import tarfile

import pytest

from dockyard.build.context import ContextTar
from dockyard.build.copy import Entry, write_layer
from dockyard.build.reproducible import clamp_layer
from dockyard.images.diff import Change, LayerTarWriter
from dockyard.util import tarstream

LONG = "d/" + "x" * 120 + "/file"  # past USTAR's 100-byte name field: a PAX path record
UNICODE = "dir/ünïcode-名前"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def members(data: bytes) -> list[tuple]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [(m.name, m.type, m.size, m.mtime, m.linkname) for m in tar]


def test_stream_entries_as_save_writes_them(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(bytes(range(256)) * 5)
    data = b"".join([tarstream.directory("blobs"), tarstream.file_from_bytes("a.json", b"{}\n"),
                     tarstream.file_from_bytes(LONG, b"x" * 513), tarstream.file_from_bytes(UNICODE, b""),
                     *tarstream.file_from_path("blobs/sha256/abc", str(blob), 1280), tarstream.end()])
    assert sha(data) == GOLDEN["stream"]
    assert [m[0] for m in members(data)] == ["blobs", "a.json", LONG, UNICODE, "blobs/sha256/abc"]


def test_a_file_that_shrank_is_refused_by_the_stream(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(b"short")
    with pytest.raises(OSError, match="shorter than 10 bytes"):
        list(tarstream.file_from_path("f", str(blob), 10))


def test_build_context_as_the_cli_sends_it(tmp_path):
    root = tmp_path / "ctx"
    (root / "sub").mkdir(parents=True)
    (root / "Dockerfile").write_bytes(b"FROM busybox\nCOPY . /\n")
    (root / "sub" / "big").write_bytes(b"y" * 1500)
    (root / "sub" / UNICODE.split("/")[1]).write_bytes(b"z")
    os.symlink("sub/big", root / "link")
    os.mkfifo(root / "fifo")
    long_dir = root / ("l" * 101)
    long_dir.mkdir()
    (long_dir / "f").write_bytes(b"long")
    for path in [*root.rglob("*"), root]:
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789), follow_symlinks=False)
    tar = ContextTar(str(root), "Dockerfile")
    data = tar.getvalue()
    assert len(data) == tar.size
    assert sha(data) == GOLDEN["context"]
    r, w = os.pipe()  # send_to (sendfile) gives the same bytes as getvalue
    import socket
    a, b = socket.socketpair()
    try:
        import threading

        received = bytearray()

        def drain() -> None:
            while chunk := b.recv(1 << 16):
                received.extend(chunk)

        t = threading.Thread(target=drain)
        t.start()
        tar.send_to(a)
        a.shutdown(socket.SHUT_WR)
        t.join()
        assert bytes(received) == data
    finally:
        a.close()
        b.close()
        os.close(r)
        os.close(w)


def test_a_dockerfile_on_stdin_as_a_context():
    body = b"FROM busybox\n"
    data = b"".join((tarstream.ustar_header("Dockerfile", "file", 0o644, len(body), 1_700_000_000), body,
                     tarstream.padding(len(body)), tarstream.END))
    assert sha(data) == GOLDEN["stdin"]
    assert members(data) == [("Dockerfile", tarfile.REGTYPE, len(body), 1_700_000_000, "")]


def test_ustar_headers_read_back_as_written_and_fall_back_to_pax():
    data = b"".join([tarstream.ustar_header("a/b", "file", 0o100640, 3, 1234), b"abc", tarstream.padding(3),
                     tarstream.ustar_header("d", "dir", 0o40755, 0, 1), tarstream.ustar_header("l", "symlink", 0o777,
                                                                                               0, 2, "a/b"),
                     tarstream.ustar_header("p", "fifo", 0o644, 0, 3), tarstream.END])
    assert members(data) == [("a/b", tarfile.REGTYPE, 3, 1234, ""), ("d", tarfile.DIRTYPE, 0, 1, ""),
                             ("l", tarfile.SYMTYPE, 0, 2, "a/b"), ("p", tarfile.FIFOTYPE, 0, 3, "")]
    long = tarstream.ustar_header(LONG, "file", 0o644, 1, 5)
    assert len(long) == 3 * tarstream.BLOCK
    assert members(long + b"x" + tarstream.padding(1) + tarstream.END)[0][0] == LONG


def test_entry_data_is_exactly_its_size_then_padded_and_the_end_is_two_blocks():
    out = io.BytesIO()
    tar = tarstream.TarWriter(out)
    tar.data([b"ab", b"cd"], 3)  # more than the header said: cut
    assert out.getvalue() == b"abc" + bytes(509)
    out.seek(0), out.truncate()
    tar.data([b"ab"], 5)  # less (the file shrank): zero-filled
    assert out.getvalue() == b"ab" + bytes(510)
    out.seek(0), out.truncate()
    tar.data([], 0)
    tar.data([b"x" * 512], 512)  # a whole block needs no padding
    tar.close()
    assert out.getvalue() == b"x" * 512 + bytes(1024)
    assert tarstream.padding(0) == b"" and tarstream.padding(513) == bytes(511) and tarstream.end() == bytes(1024)
    assert list(tarstream.read_chunks(io.BytesIO(b"abcdef").read, 4)) == [b"abcd"]


def test_copy_layer_as_a_build_writes_it(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"from a file\n" * 100)
    entries = [Entry("app", "dir", 0o755, 0, 0, 1_700_000_000),
               Entry("app/heredoc.sh", "file", 0o755, 1000, 1000, 1_700_000_100, data=b"#!/bin/sh\necho hi\n"),
               Entry("app/from-file", "file", 0o644, 0, 0, 1_800_000_000, source=str(src)),
               Entry(LONG, "file", 0o600, 5, 6, 1_600_000_000, data=b"long"),
               Entry(UNICODE, "file", 0o644, 0, 0, 7, data=b""),
               Entry("app/link", "link", 0o777, 0, 0, 1_700_000_000, linkname="heredoc.sh"),
               Entry("app/fifo", "fifo", 0o644, 0, 0, 1_700_000_000)]
    out = io.BytesIO()
    write_layer(entries, out)
    assert sha(out.getvalue()) == GOLDEN["copy"]
    out = io.BytesIO()
    write_layer(entries, out, clamp=1_650_000_000)
    assert sha(out.getvalue()) == GOLDEN["copy-clamped"]


def _source_layer() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, mtime, data in (("old", 100, b"abc"), ("new", 5000.5, b"d" * 700), (LONG, 4000, b""),
                                  (UNICODE, 3000, b"u")):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uname, info.gname = len(data), mtime, "root", "root"
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("dir")
        info.type, info.mtime = tarfile.DIRTYPE, 9000
        tar.addfile(info)
    return raw.getvalue()


def test_a_layer_clamped_to_source_date_epoch():
    out = io.BytesIO()
    clamp_layer(io.BytesIO(_source_layer()), out, 1000)
    assert sha(out.getvalue()) == GOLDEN["clamp"]
    assert [(m[0], m[3]) for m in members(out.getvalue())] == [
        ("old", 100), ("new", 1000), (LONG, 1000), (UNICODE, 1000), ("dir", 1000)]


def test_a_layer_diff_as_commit_writes_it(tmp_path):
    root = tmp_path / "upper"
    root.mkdir()
    (root / "file").write_bytes(b"q" * 777)
    os.link(root / "file", root / "hardlink")
    os.symlink("file", root / "sym")
    os.mkfifo(root / "fifo")
    (root / LONG.split("/")[0]).mkdir()
    uid, gid = os.getuid(), os.getgid()
    changes = []
    for name in ("file", "hardlink", "sym", "fifo", LONG.split("/")[0]):
        path = root / name
        os.utime(path, ns=(0, 1_700_000_000_500_000_000), follow_symlinks=False)
        if not path.is_symlink():
            os.chmod(path, 0o750)
        changes.append(Change("add", name, str(path), os.lstat(path), {}))
    changes.append(Change("add", "x", str(root / "file"), os.lstat(root / "file"), {"user.note": b"v\xff"}))
    changes.append(Change("whiteout", "gone/away", st=os.lstat(root / "file")))
    changes.append(Change("opaque", "dir", st=os.lstat(root / LONG.split("/")[0])))
    out = io.BytesIO()
    writer = LayerTarWriter(out)
    for change in changes:
        writer.add(change)
    writer.close()
    if f"diff-{uid}-{gid}" not in GOLDEN:
        pytest.skip("the pinned digest is root's (the entries carry their owner)")
    assert sha(out.getvalue()) == GOLDEN[f"diff-{uid}-{gid}"]


# sha256 prefixes of what the writers gave before they shared this module (commit 535ba09).
GOLDEN = {"stream": "c5e8451009418233", "context": "d43ae7c1121db289", "stdin": "aaf40a245c0566a6",
          "copy": "bdd52e7363021e1f", "copy-clamped": "636f37d0fcc0edc6", "clamp": "dab0978fa5d32d10",
          "diff-0-0": "765974bc735a316d"}
