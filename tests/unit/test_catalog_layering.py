"""A catalog image's layer on its base (catalog/layering.py): only what differs, whiteouts for what
went, parents and hard-link targets carried; unpacked on the base it gives the image's whole root."""

import io
import os
import tarfile

from dockyard.catalog import recipes
from dockyard.catalog.layering import diff_layer
from dockyard.images.layers import apply_tar

EPOCH = 1747699200


def _tar(path, entries) -> None:
    """entries: (name, kind, extra) with kind dir|file|link|hard and extra the content/target/mode."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            info.mtime = EPOCH
            data = None
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, extra or 0o755
            elif kind == "file":
                content, mode = extra if isinstance(extra, tuple) else (extra, 0o644)
                info.mode, info.size, data = mode, len(content), io.BytesIO(content)
            elif kind == "link":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, extra, 0o777
            elif kind == "hard":
                info.type, info.linkname, info.mode = tarfile.LNKTYPE, extra, 0o755
            tar.addfile(info, data)


BASE = [
    ("etc", "dir", None), ("etc/keep", "file", b"same"), ("etc/status", "file", b"old"),
    ("etc/mode", "file", b"m"),
    ("usr", "dir", None), ("usr/bin", "dir", None), ("usr/bin/tool", "file", (b"#!tool", 0o755)),
    ("usr/share", "dir", None), ("usr/share/gone", "dir", None), ("usr/share/gone/a", "file", b"a"),
    ("usr/share/gone/b", "dir", None), ("usr/share/gone/b/c", "file", b"c"),
    ("var", "dir", None), ("var/old", "file", b"x"), ("var/was-dir", "dir", None), ("var/was-dir/f", "file", b"f"),
]
WHOLE = [
    ("etc", "dir", None), ("etc/keep", "file", b"same"), ("etc/mode", "file", (b"m", 0o600)),
    ("etc/new", "file", b"new"), ("etc/status", "file", b"new status"),
    ("usr", "dir", None), ("usr/bin", "dir", None), ("usr/bin/tool", "file", (b"#!tool", 0o755)),
    ("usr/bin/tool2", "hard", "usr/bin/tool"),
    ("usr/share", "dir", None),
    ("var", "dir", None), ("var/was-dir", "link", "/tmp"),
]


def _names(path) -> list[str]:
    with tarfile.open(path) as tar:
        return [m.name for m in tar]


def _tree(root) -> dict[str, tuple]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            content = os.readlink(path) if os.path.islink(path) else (
                open(path, "rb").read() if os.path.isfile(path) else None)
            found[os.path.relpath(path, root)] = (st.st_mode, st.st_uid, content)
    return found


def test_the_layer_holds_only_the_changes(tmp_path):
    _tar(tmp_path / "base.tar", BASE)
    _tar(tmp_path / "whole.tar", WHOLE)
    layer = diff_layer(tmp_path / "whole.tar", [tmp_path / "base.tar"], tmp_path / "layer.tar", EPOCH)
    names = _names(layer.path)
    # unchanged files stay out; parents of every change come along; the new hard link brings its target
    assert "etc/keep" not in names
    assert {"etc", "etc/mode", "etc/new", "etc/status", "usr", "usr/bin", "usr/bin/tool", "usr/bin/tool2",
            "usr/share", "var", "var/was-dir"} <= set(names)
    # what went is whited out once, at its top (not under a directory that went or became a link)
    whiteouts = sorted(n for n in names if "/.wh." in n)
    assert whiteouts == ["usr/share/.wh.gone", "var/.wh.old"]
    assert names.index("usr/share") < names.index("usr/share/.wh.gone")
    assert layer.diff_id.startswith("sha256:") and layer.size == os.path.getsize(layer.path)


def test_unpacked_on_its_base_it_gives_the_whole_root(tmp_path):
    _tar(tmp_path / "base.tar", BASE)
    _tar(tmp_path / "whole.tar", WHOLE)
    layer = diff_layer(tmp_path / "whole.tar", [tmp_path / "base.tar"], tmp_path / "layer.tar", EPOCH)
    stacked, expected = tmp_path / "stacked", tmp_path / "expected"
    stacked.mkdir()
    expected.mkdir()
    apply_tar(str(tmp_path / "base.tar"), str(stacked), overlay_whiteouts=False)
    apply_tar(str(layer.path), str(stacked), overlay_whiteouts=False)
    apply_tar(str(tmp_path / "whole.tar"), str(expected), overlay_whiteouts=False)
    assert _tree(stacked) == _tree(expected)


def test_a_layer_on_two_layers_and_the_same_bytes_twice(tmp_path):
    _tar(tmp_path / "base.tar", BASE)
    _tar(tmp_path / "whole.tar", WHOLE)
    middle = diff_layer(tmp_path / "whole.tar", [tmp_path / "base.tar"], tmp_path / "middle.tar", EPOCH)
    top_whole = [*WHOLE, ("var/more", "file", b"more")]
    _tar(tmp_path / "top-whole.tar", top_whole)
    top = diff_layer(tmp_path / "top-whole.tar", [tmp_path / "base.tar", middle.path], tmp_path / "top.tar", EPOCH)
    assert _names(top.path) == ["var", "var/more"]  # the whiteouts below are applied to the view of the base
    again = diff_layer(tmp_path / "top-whole.tar", [tmp_path / "base.tar", middle.path], tmp_path / "again.tar",
                       EPOCH)
    assert again.diff_id == top.diff_id
    assert (tmp_path / "again.tar").read_bytes() == (tmp_path / "top.tar").read_bytes()


def test_the_official_images_share_debian_bookworm_slim():
    for recipe in (recipes.PYTHON, recipes.NGINX, recipes.REDIS, recipes.POSTGRES, recipes.HTTPD):
        assert [r.reference for r in recipes.chain(recipe)] == ["debian:bookworm-slim", recipe.reference]
    assert [r.reference for r in recipes.chain(recipes.REGISTRY)] == [
        "debian:bookworm-slim", "python:3.11-slim", "registry:2"]
    whole = recipes.whole(recipes.REGISTRY)
    assert whole.base == "" and recipes.whole(whole) == whole
    assert whole.packages[:len(recipes.PYTHON.packages)] == recipes.PYTHON.packages
    assert whole.script.startswith(recipes.PYTHON.script)  # the base's commands run first
    assert whole.slim == recipes.DEBIAN_SLIM.slim
    # every base is a recipe listed before the images on it (`build --all` goes in this order)
    order = [r.reference for r in recipes.RECIPES]
    for recipe in recipes.RECIPES:
        if recipe.base:
            assert order.index(recipe.base) < order.index(recipe.reference)
    assert recipes.recipe_digest(recipes.NGINX, 1, "b") != recipes.recipe_digest(recipes.NGINX, 1, "c")
