"""Root filesystems from Debian packages with mmdebstrap, as one reproducible layer tarball.

mmdebstrap resolves the packages with apt from the host's Debian sources, installs them into a
fresh root, runs the recipe's hooks and writes a tar sorted by name with every mtime clamped to
SOURCE_DATE_EPOCH (and the logs, caches and machine-id that would differ removed). This module
drives it, reports its stages and turns its tar into the image's layer: /dev's nodes dropped
(the runtime makes /dev), owners by number only, the sha256 (the DiffID) taken on the way.
"""

import glob
import hashlib
import os
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from dockyard.catalog.cache import PackageCache
from dockyard.catalog.recipes import SUITE, Recipe, whole

Progress = Callable[[str], None]
MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"
# What the -slim images leave out (the official images' /etc/dpkg/dpkg.cfg.d/docker).
SLIM_DPKG_OPTIONS = (
    "path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/groff/*", "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/lintian/*", "path-exclude=/usr/share/linda/*",
    "path-exclude=/usr/share/locale/*", "path-include=/usr/share/locale/locale.alias",
)
# Written last, so they never act during the build itself (docker-clean would delete the .debs
# before they reach the cache): the official Debian images' apt settings.
_CLEAN = '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"'
APT_DOCKER_CLEAN = f"""\
DPkg::Post-Invoke {{ {_CLEAN}; }};
APT::Update::Post-Invoke {{ {_CLEAN}; }};
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
"""
APT_NO_LANGUAGES = 'Acquire::Languages "none";\n'
FINISH = f"""
rm -f "$ROOT"/etc/resolv.conf "$ROOT"/etc/hostname "$ROOT"/etc/apt/apt.conf.d/99mmdebstrap "$ROOT"/var/cache/apt/*.bin
if [ -d "$ROOT"/etc/apt/apt.conf.d ]; then
cat > "$ROOT"/etc/apt/apt.conf.d/docker-clean <<'APTCONF'
{APT_DOCKER_CLEAN}APTCONF
cat > "$ROOT"/etc/apt/apt.conf.d/docker-no-languages <<'APTCONF'
{APT_NO_LANGUAGES}APTCONF
fi
"""

# What the builder adds to every recipe: part of each recipe's digest, so a change here shows the
# images built before it as outdated.
FINGERPRINT = hashlib.sha256(repr((SUITE, SLIM_DPKG_OPTIONS, FINISH, "merged-usr", "no-recommends",
                                   "copy_layer 1")).encode()).hexdigest()


class BootstrapError(Exception):
    """mmdebstrap failed; the message ends with the tail of its output."""


@dataclass(frozen=True)
class Layer:
    path: Path
    diff_id: str
    size: int


def host_sources() -> list[str]:
    """The host's enabled apt source files that point at Debian (the only network the build uses)."""
    candidates = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list")),
                  *sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))]
    found = []
    for path in candidates:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if any("debian" in line for line in lines):
            found.append(path)
    if not found:
        raise BootstrapError("no Debian apt sources on this machine (/etc/apt/sources.list*); the catalog installs "
                             f"Debian {SUITE} packages from the mirrors configured there")
    return found


def mmdebstrap_binary() -> str:
    path = shutil.which("mmdebstrap")
    if not path:
        raise BootstrapError("mmdebstrap is not installed: run `apt-get install mmdebstrap` (or `make catalog`)")
    return path


def _stage_files(recipe: Recipe, root: Path, source_date_epoch: int) -> None:
    """The recipe's files in a tree mmdebstrap copies over the image root (`sync-in`)."""
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    for spec in recipe.files:
        target = root / spec.path.lstrip("/")
        for parent in reversed(target.relative_to(root).parents[:-1]):
            (root / parent).mkdir(mode=0o755, exist_ok=True)
            (root / parent).chmod(0o755)
        target.write_bytes(spec.content())
        target.chmod(spec.mode)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (source_date_epoch, source_date_epoch), follow_symlinks=False)
    os.utime(root, (source_date_epoch, source_date_epoch))


def command(recipe: Recipe, cache: PackageCache, work: Path, *, update: bool) -> list[str]:
    """mmdebstrap's argv for ``recipe``'s whole root (its bases' packages, files and commands too)."""
    recipe = whole(recipe)
    fill, save = cache.hook_scripts(save_lists=update)
    (work / "fill.sh").write_text(fill)
    (work / "save.sh").write_text(save)
    argv = [mmdebstrap_binary(), "--mode=auto", "--format=tar", "--skip=essential/unlink",
            '--aptopt=APT::Install-Recommends "false"', '--aptopt=Acquire::Languages "none"',
            f"--setup-hook=sh {work}/fill.sh \"$1\""]
    if not update:
        argv.append("--skip=update")
    if recipe.variant == "busybox":
        # The extract variant unpacks the packages without installing them (no dpkg, no shell).
        argv += ["--variant=extract", "--include=busybox-static", f"--extract-hook=sh {work}/save.sh \"$1\""]
    else:
        script = 'set -e\nROOT="$1"\nrun() { chroot "$ROOT" "$@"; }\n' + recipe.script + FINISH
        (work / "customize.sh").write_text(script)
        argv += ["--variant=minbase", f"--customize-hook=sh {work}/save.sh \"$1\""]
        if os.path.isdir(MERGED_USR_HOOKS):  # the /usr merge by symlinks, without the usrmerge package (and perl)
            argv.append(f"--hook-dir={MERGED_USR_HOOKS}")
        if recipe.packages:
            argv.append("--include=" + ",".join(recipe.packages))
        if recipe.slim:
            argv += [f"--dpkgopt={option}" for option in SLIM_DPKG_OPTIONS]
        if recipe.files:
            argv.append(f"--customize-hook=sync-in {work}/files /")
        argv.append(f"--customize-hook=sh {work}/customize.sh \"$1\"")
    return [*argv, SUITE, "-", *host_sources()]


def bootstrap(recipe: Recipe, cache: PackageCache, source_date_epoch: int, *, update: bool, progress: Progress,
              log_path: Path, transform: Callable) -> Layer:
    """Run mmdebstrap for ``recipe``'s whole root and write it as a layer with ``transform(tar_in, tar_out)``."""
    recipe = whole(recipe)
    cache.prepare()
    remove_abandoned(cache)
    work = Path(cache.tmp) / f"build-{recipe.reference.replace(':', '-').replace('/', '-')}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "tmp").mkdir(parents=True)
    try:
        if recipe.files:
            _stage_files(recipe, work / "files", source_date_epoch)
        argv = _contained(command(recipe, cache, work, update=update))
        # mmdebstrap's root goes inside our work directory (same file system as the cache: links work).
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch), "TMPDIR": str(work / "tmp"),
               "LC_ALL": "C.UTF-8"}
        layer_path = work / "layer.tar"
        with open(log_path, "w") as log:
            log.write(" ".join(argv) + "\n")
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=env, preexec_fn=_death_signal())
            tail: list[str] = []
            reader = threading.Thread(target=_follow, args=(proc.stderr, log, tail, progress), daemon=True)
            reader.start()
            try:
                digest, size = _write_layer(proc.stdout, layer_path, transform)
            except (tarfile.TarError, OSError) as exc:
                proc.kill()
                proc.wait()
                reader.join()
                raise BootstrapError(f"mmdebstrap's output could not be read ({exc}):\n" + "".join(tail)) from None
            finally:
                if proc.stdout is not None:
                    proc.stdout.close()
            code = proc.wait()
            reader.join()
        if code != 0:
            raise BootstrapError(f"mmdebstrap failed (exit status {code}); the end of its output "
                                 f"(all of it in {log_path}):\n" + "".join(tail[-25:]))
        final = cache.tmp / f"{work.name}.layer.tar"
        os.replace(layer_path, final)
        return Layer(final, "sha256:" + digest, size)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _contained(argv: list[str]) -> list[str]:
    """As root, mmdebstrap mounts /proc, /sys and /dev into the root it builds: in a mount namespace
    of its own those mounts vanish with it, even when it is killed before it can unmount them."""
    unshare = shutil.which("unshare")
    if os.geteuid() == 0 and unshare:
        return [unshare, "--mount", "--propagation", "private", *argv]
    return argv


def _death_signal() -> Callable[[], None]:
    """For the child before exec (prepared here, so nothing is imported after the fork): SIGTERM,
    which mmdebstrap answers by cleaning up, when the CLI dies."""
    import ctypes
    import signal

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig, sigterm = 1, int(signal.SIGTERM)
    return lambda: prctl(pr_set_pdeathsig, sigterm)


def remove_abandoned(cache: PackageCache) -> None:
    """Work directories and layers of builds whose process is gone (killed): named build-...-PID."""
    for entry in os.listdir(cache.tmp):
        if not entry.startswith("build-"):
            continue
        pid = entry.removesuffix(".layer.tar").rpartition("-")[2]
        if not pid.isdigit() or int(pid) == os.getpid() or os.path.exists(f"/proc/{pid}"):
            continue
        path = cache.tmp / entry
        if path.is_dir():
            # --one-file-system semantics: never descend into a mount a dead build may have left.
            subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False, capture_output=True)
        else:
            path.unlink(missing_ok=True)


def _follow(stream, log, tail: list[str], progress: Progress) -> None:
    """mmdebstrap's stderr: all of it to the log, its `I:` stage lines to the progress display."""
    for raw in stream:
        line = raw.decode(errors="replace")
        log.write(line)
        tail.append(line)
        del tail[:-60]
        if line.startswith("I: "):
            text = line[3:].strip()
            if text.startswith("running --"):
                text = text.split(" in shell:")[0].split(":")[0]  # not the whole hook script
            progress(text)
        elif line.startswith("E: "):
            progress(line.strip())


class _HashingWriter:
    def __init__(self, out) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.out.write(data)


def _write_layer(stream, path: Path, transform: Callable) -> tuple[str, int]:
    with open(path, "wb") as raw:
        out = _HashingWriter(raw)
        with tarfile.open(fileobj=stream, mode="r|") as tar_in, \
                tarfile.open(fileobj=cast(BinaryIO, out), mode="w|", format=tarfile.PAX_FORMAT) as tar_out:
            transform(tar_in, tar_out)
    return out.sha.hexdigest(), out.size


def copy_layer(tar_in: tarfile.TarFile, tar_out: tarfile.TarFile) -> None:
    """mmdebstrap's root as a layer: entries in its (sorted) order, /dev left empty, numeric owners."""
    for member in tar_in:
        name = member.name.removeprefix("./").rstrip("/")
        if name in ("", ".") or name.startswith("dev/"):
            continue
        member.name = name
        if member.islnk():
            member.linkname = member.linkname.removeprefix("./")
        normalise(member)
        tar_out.addfile(member, tar_in.extractfile(member) if member.isreg() else None)


def normalise(member: tarfile.TarInfo) -> None:
    """Owners by number, no access or change times: nothing of the machine or the hour in the layer."""
    member.uname = member.gname = ""
    member.pax_headers = {k: v for k, v in member.pax_headers.items() if k not in ("atime", "ctime", "uname", "gname")}
