"""The build context both ways, without a daemon: the CLI's tar writer and the daemon's in-place index."""

import gzip
import io
import os
import socket
import stat
import tarfile
import threading

import pytest

from dockyard.build.archive import ArchiveView, ContextArchive, Spool, open_context, remove_ignored
from dockyard.build.context import ContextTar
from dockyard.build.copy import Copier, Source, plan
from dockyard.build.fsview import FSView
from dockyard.errors import InvalidParameter

LONG = "d" * 60 + "/" + "n" * 70  # longer than USTAR's 100-byte name field: a PAX header


def make_context(root, long: bool = True):
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "a.txt").write_text("a\n")
    (root / "data" / "sub" / "b.sh").write_text("#!/bin/sh\n")
    (root / "data" / "sub" / "b.sh").chmod(0o750)
    os.symlink("sub/b.sh", root / "data" / "link")
    os.link(root / "data" / "a.txt", root / "data" / "hard.txt")
    os.mkfifo(root / "data" / "pipe")
    (root / LONG.split("/")[0]).mkdir()
    (root / LONG).write_bytes(os.urandom(3000) if long else b"")
    (root / "skip.log").write_text("left out\n")
    (root / "logs").mkdir()
    (root / "logs" / "keep.log").write_text("kept\n")
    (root / "logs" / "other.log").write_text("left out\n")
    (root / ".dockerignore").write_text("*.log\nlogs\n!logs/keep.log\nDockerfile\n")
    (root / "Dockerfile").write_text("FROM scratch\nCOPY data /data\n")
    return root


def index(data: bytes, limit: int = 64 << 20) -> ContextArchive:
    spool = Spool("/tmp", limit)
    spool.write(data)
    return open_context(spool)


def test_context_tar_is_a_valid_tar_with_ignore_rules_applied(tmp_path):
    root = make_context(tmp_path / "ctx")
    tar = ContextTar(str(root), "Dockerfile")
    data = tar.getvalue()
    assert len(data) == tar.size
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        members = {m.name.rstrip("/"): m for m in t.getmembers()}
        assert t.extractfile(members["data/a.txt"]).read() == b"a\n"
        assert t.extractfile(members[LONG]).read() == (root / LONG).read_bytes()
    assert sorted(members) == sorted([".dockerignore", "Dockerfile", "data", "data/a.txt", "data/hard.txt",
                                      "data/link", "data/pipe", "data/sub", "data/sub/b.sh", LONG.split("/")[0],
                                      LONG, "logs/keep.log"])  # an excluded directory's exception: no "logs"
    assert members["data/sub/b.sh"].mode == 0o750 and members["data/sub"].isdir()
    assert members["data/link"].issym() and members["data/link"].linkname == "sub/b.sh"
    assert members["data/hard.txt"].islnk() and members["data/hard.txt"].linkname == "data/a.txt"
    assert members["data/pipe"].isfifo()
    assert all(m.uid == 0 and m.gid == 0 for m in members.values())


def test_context_tar_sends_itself_with_sendfile(tmp_path):
    root = make_context(tmp_path / "ctx")
    tar = ContextTar(str(root), "Dockerfile")
    left, right = socket.socketpair()
    received = bytearray()

    def read() -> None:
        while chunk := right.recv(65536):
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    tar.send_to(left)
    left.close()
    reader.join()
    right.close()
    assert bytes(received) == tar.getvalue()


@pytest.mark.parametrize("long", [True, False])  # with a PAX header (read by tarfile), or plain USTAR
def test_index_reads_in_place_what_unpacking_would_give(tmp_path, long):
    root = make_context(tmp_path / "ctx", long)
    if not long:
        (root / LONG).unlink()
        (root / LONG.split("/")[0]).rmdir()
    data = ContextTar(str(root), "Dockerfile").getvalue()
    assert (b"path=" in data) is long
    compressed = gzip.compress(data)
    # in memory, mapped from a temporary file, gzip-compressed in memory and from a file
    for archive in (index(data), index(data, 4096), index(compressed), index(compressed, 1024)):
        view = ArchiveView(archive)
        assert view.listdir("data") == ["a.txt", "hard.txt", "link", "pipe", "sub"]
        assert bytes(view.content("data/hard.txt")) == b"a\n"
        assert stat.S_IMODE(view.lstat("data/sub/b.sh").st_mode) == 0o750
        assert view.resolve("data/link") == "data/sub/b.sh"
        assert stat.S_ISFIFO(view.lstat("data/pipe").st_mode)
        if long:
            assert bytes(view.content(LONG)) == (root / LONG).read_bytes()
        assert view.listdir("logs") == ["keep.log"] and stat.S_ISDIR(view.lstat("logs").st_mode)
        remove_ignored(archive, "Dockerfile")  # .dockerignore lists the Dockerfile: COPY does not see it
        assert view.lstat("Dockerfile") is None and view.lstat(".dockerignore") is not None
        unpacked = archive.directory(str(tmp_path))
        assert (tmp_path / unpacked / "data" / "sub" / "b.sh").read_text() == "#!/bin/sh\n"
        assert os.readlink(os.path.join(unpacked, "data", "link")) == "sub/b.sh"
        archive.close()


def test_copy_checksum_is_the_same_from_the_index_and_from_a_directory(tmp_path):
    root = make_context(tmp_path / "ctx")
    (root / "data" / "pipe").unlink()
    archive = index(ContextTar(str(root), "Dockerfile").getvalue())
    empty = tmp_path / "empty"
    empty.mkdir()
    plans = []
    for view in (ArchiveView(archive), FSView([str(root)], plain=True)):
        copier = Copier(view, FSView([str(empty)], plain=True), chown=(1, 2), chmod=None, now=0)
        plans.append(plan(copier, [Source("data/")], "/app/", instruction="COPY", context_name="context"))
    assert plans[0].checksum == plans[1].checksum and plans[0].label == plans[1].label
    archive.close()


def test_implicit_directories_and_bad_archives():
    def tar_of(*entries) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
            for name, content in entries:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                t.addfile(info, io.BytesIO(content))
        return out.getvalue()

    archive = index(tar_of(("a/b/c.txt", b"c")))
    assert stat.S_IMODE(archive.get("a/b").mode) == 0o755 and archive.listdir("a") == ["b"]
    archive.close()
    assert index(b"").members.keys() == {""}  # an empty body: an empty context
    with pytest.raises(InvalidParameter, match="outside the context"):
        index(tar_of(("../escape", b"x")))
    with pytest.raises(InvalidParameter, match="cut short"):
        index(tar_of(("big", b"x" * 5000))[:2048])
    with pytest.raises(InvalidParameter, match="not a valid tar"):
        index(b"this is not a tar archive at all" * 40)
