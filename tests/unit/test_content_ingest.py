"""Resumable ingest in the content store (containerd's content.Writer), on a temporary directory:
written at an offset, its status readable, resumed by a new store after a "restart", committed
against the digest and size the writer names, refused on a mismatch with nothing stored."""

import hashlib

import pytest

from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.images.content import ContentStore, DigestMismatch, Ingest

DATA = b"layer bytes " * 100_000  # more than one read chunk
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


def test_an_ingest_resumes_after_a_restart_and_commits(tmp_path):
    store = ContentStore(str(tmp_path))
    w = store.writer("pull-layer-1")
    w.write(DATA[:1000])
    w.write(DATA[1000:5000])
    assert store.status("pull-layer-1").offset == 5000
    store.release(w)  # the client went away
    store = ContentStore(str(tmp_path))  # the daemon restarted: the partial ingest survives
    [status] = store.statuses()
    assert (status.ref, status.offset) == ("pull-layer-1", 5000)
    assert status.started_at <= status.updated_at
    w = store.writer("pull-layer-1")
    assert w.offset == 5000
    w.write_at(w.offset, DATA[5000:])
    assert store.commit(w, len(DATA), DIGEST) == DIGEST
    assert store.read(DIGEST) == DATA
    assert store.statuses() == []
    with pytest.raises(NotFound):
        store.status("pull-layer-1")


def test_write_at_rewinds_and_refuses_a_gap(tmp_path):
    store = ContentStore(str(tmp_path))
    w = store.writer("r")
    w.write(b"abcdef")
    w.write_at(3, b"XY")  # a client resending from an earlier offset
    assert (w.offset, w.digest()) == (5, "sha256:" + hashlib.sha256(b"abcXY").hexdigest())
    with pytest.raises(InvalidParameter, match="cannot write at 9"):
        w.write_at(9, b"z")
    w.truncate(0)
    assert w.offset == 0 and w.digest() == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_one_writer_per_ref(tmp_path):
    store = ContentStore(str(tmp_path))
    w = store.writer("r")
    with pytest.raises(Conflict, match="locked"):
        store.writer("r")
    store.release(w)
    store.writer("r").write(b"again")
    assert store.status("r").offset == 5


def test_a_wrong_digest_or_size_stores_nothing(tmp_path):
    store = ContentStore(str(tmp_path))
    w = store.writer("bad")
    w.write(DATA)
    with pytest.raises(DigestMismatch) as caught:
        store.commit(w, None, "sha256:" + "0" * 64)
    assert caught.value.actual == DIGEST
    assert not store.exists(DIGEST) and store.statuses() == []
    w = store.writer("short")
    w.write(DATA[:10])
    with pytest.raises(InvalidParameter, match="unexpected commit size 10, expected 11"):
        store.commit(w, 11, DIGEST)
    assert store.statuses() == []


def test_abort_drops_the_ingest(tmp_path):
    store = ContentStore(str(tmp_path))
    store.writer("gone").write(b"x")
    store.abort("gone")
    assert store.statuses() == []
    with pytest.raises(NotFound):
        store.status("gone")


def test_one_shot_leftovers_are_swept_but_ref_ingests_stay(tmp_path):
    store = ContentStore(str(tmp_path))
    store.release(store.writer("keep"))
    leftover = tmp_path / "ingest" / "12345-deadbeef"
    leftover.write_bytes(b"half")
    ContentStore(str(tmp_path))
    assert not leftover.exists()
    assert [s.ref for s in ContentStore(str(tmp_path)).statuses()] == ["keep"]


def test_an_ingest_in_any_directory_verifies_other_algorithms(tmp_path):
    """The registry server's uploads: an Ingest in distribution's _uploads/<id>/ directory."""
    ingest = Ingest.create(str(tmp_path / "upload"), "u1")
    ingest.write(b"hello")
    ingest.close()
    assert (tmp_path / "upload" / "startedat").read_text().endswith("Z")
    resumed = Ingest.resume(str(tmp_path / "upload"), "u1")
    assert resumed.offset == 5 and abs(resumed.started_at - ingest.started_at) < 1
    sha512 = "sha512:" + hashlib.sha512(b"hello").hexdigest()
    assert resumed.verify(5, sha512) == sha512
    with pytest.raises(NotFound):
        Ingest.resume(str(tmp_path / "nothing"), "u2")
