"""The catalog's package cache, shared by every image and every build on this machine.

    <root>/debs/    downloaded .deb files (hard-linked into each bootstrap, new ones linked back)
    <root>/lists/   apt's package lists (the `Packages` indexes that fix which versions are used)
    <root>/tmp/     mmdebstrap's working roots (same file system as debs/, so links work)
    <root>/logs/    the full mmdebstrap output of each image's last build

apt checks every cached .deb against the lists' hashes, so a stale or foreign file is never used.
Builds may run side by side: new files arrive by link or rename, and the lists are replaced under
a lock.
"""

import os
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
    def lock(self) -> Path:
        return self.root / "lock"

    def prepare(self) -> None:
        for path in (self.debs, self.lists, self.tmp, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        self.lock.touch()

    def has_lists(self) -> bool:
        return any(name.endswith("_Packages") for name in os.listdir(self.lists)) if self.lists.is_dir() else False

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


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
