"""The catalog's package cache, shared by every image and every build on this machine.

    <root>/debs/    downloaded .deb files (hard-linked into each bootstrap, new ones linked back)
    <root>/lists/   apt's package lists (the `Packages` indexes that fix which versions are used)
    <root>/tmp/     mmdebstrap's working roots (same file system as debs/, so links work)
    <root>/logs/    the full mmdebstrap output of each image's last build
    <root>/images/  the last layer and config built for each image, keyed by the digest of the
                    recipe and of the lists: loading it again into another daemon (a test's, a new
                    data root) needs no bootstrap, since the same inputs give the same bytes

apt checks every cached .deb against the lists' hashes, so a stale or foreign file is never used.
Builds may run side by side: new files arrive by link or rename, and the lists are replaced under
a lock.
"""

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

ENV = "DOCKYARD_CATALOG_CACHE"


@dataclass(frozen=True)
class PackageCache:
    root: Path

    @classmethod
    def default(cls) -> "PackageCache":
        if os.environ.get(ENV):
            return cls(Path(os.environ[ENV]))
        if os.geteuid() == 0:
            return cls(Path("/var/cache/dockyard/catalog"))
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return cls(Path(base) / "dockyard" / "catalog")

    @property
    def debs(self) -> Path:
        return self.root / "debs"

    @property
    def lists(self) -> Path:
        return self.root / "lists"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    def prepare(self) -> None:
        for path in (self.debs, self.lists, self.tmp, self.logs, self.images):
            path.mkdir(parents=True, exist_ok=True)
        self.lock.touch()

    def has_lists(self) -> bool:
        return any(name.endswith("_Packages") for name in os.listdir(self.lists)) if self.lists.is_dir() else False

    def lists_digest(self) -> str:
        """sha256 over the cached lists (names and contents): which package versions a build gets."""
        sha = hashlib.sha256()
        for name in sorted(os.listdir(self.lists)) if self.lists.is_dir() else []:
            if name.endswith(("_Packages", "Release")):
                sha.update(name.encode() + b"\0")
                with open(self.lists / name, "rb") as f:
                    while chunk := f.read(1 << 20):
                        sha.update(chunk)
        return sha.hexdigest()

    def built(self, reference: str, key: str) -> tuple[Path, bytes] | None:
        """The layer and config kept for ``reference`` under ``key``, if any."""
        directory = self.images / _safe(reference) / key
        try:
            return directory / "layer.tar", (directory / "config.json").read_bytes()
        except OSError:
            return None

    def keep_built(self, reference: str, key: str, layer: Path, config: bytes) -> Path:
        """Move ``layer`` into the image cache beside ``config``, replacing what was kept for
        ``reference`` before; returns the layer's new path.

        What is kept under the same key and config is left in place (the same inputs gave the same
        bytes, and a build beside this one may be reading them): ``layer`` is dropped instead."""
        base = self.images / _safe(reference)
        kept = base / key
        if _same(kept, config):
            layer.unlink(missing_ok=True)
            return kept / "layer.tar"
        staging = base / f".new-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        os.replace(layer, staging / "layer.tar")
        (staging / "config.json").write_bytes(config)
        for old in os.listdir(base):
            if not old.startswith("."):
                shutil.rmtree(base / old, ignore_errors=True)
        try:
            os.replace(staging, kept)
        except OSError:
            # Another build kept the same key between the removal and here: a directory replaces
            # only an empty one, so its copy stays (the same bytes) and this one goes.
            shutil.rmtree(staging, ignore_errors=True)
            if not _same(kept, config):
                raise
        return kept / "layer.tar"

    def pin(self, layer: Path) -> Path:
        """A hard link to a kept layer under tmp/, so a build or load that uses it keeps it even if
        another build replaces the image cache's entry meanwhile; the caller unlinks it (or the
        next build does, once this process is gone: the name ends in its PID)."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        pinned = self.tmp / f"build-pin-{os.urandom(6).hex()}-{os.getpid()}.layer.tar"
        os.link(layer, pinned)
        return pinned

    def deb_count(self) -> int:
        return sum(1 for name in os.listdir(self.debs) if name.endswith(".deb")) if self.debs.is_dir() else 0

    def hook_scripts(self, save_lists: bool) -> tuple[str, str]:
        """Shell for mmdebstrap's hooks ($1 is the root being built): `fill` before apt runs puts the
        cached lists and .debs in place; `save` after the downloads links new .debs into the cache
        and, when apt updated the lists, replaces the cached lists with them."""
        head = "set -e\n" + "".join(f"{name}={_quote(str(path))}\n" for name, path in
                                     (("DEBS", self.debs), ("LISTS", self.lists), ("LOCK", self.lock)))
        fill = head + """\
mkdir -p "$1/var/cache/apt/archives" "$1/var/lib/apt/lists"
cp -al "$DEBS"/. "$1/var/cache/apt/archives/" 2>/dev/null || cp -a "$DEBS"/. "$1/var/cache/apt/archives/"
flock "$LOCK" cp -a "$LISTS"/. "$1/var/lib/apt/lists/"
"""
        save = head + f"SAVE_LISTS={int(save_lists)}\n" + """\
for f in "$1"/var/cache/apt/archives/*.deb; do
    [ -e "$f" ] || continue
    name=${f##*/}
    [ -e "$DEBS/$name" ] && continue
    ln "$f" "$DEBS/$name" 2>/dev/null || { cp "$f" "$DEBS/.$name.tmp" && mv "$DEBS/.$name.tmp" "$DEBS/$name"; }
done
if [ "$SAVE_LISTS" = 1 ]; then
    flock "$LOCK" sh -c 'rm -rf "$2.new" && mkdir "$2.new" &&
        cp -a "$1"/var/lib/apt/lists/*_Packages "$1"/var/lib/apt/lists/*Release "$2.new"/ &&
        rm -rf "$2" && mv "$2.new" "$2"' sh "$1" "$LISTS"
fi
"""
        return fill, save


def _same(kept: Path, config: bytes) -> bool:
    try:
        return (kept / "config.json").read_bytes() == config and (kept / "layer.tar").is_file()
    except OSError:
        return False


def _safe(reference: str) -> str:
    return reference.replace("/", "_").replace(":", "_")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
