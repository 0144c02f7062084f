"""`dockyard catalog ls|build`: familiar images built here from Debian packages.

The build runs on the client (mmdebstrap, the package cache); the daemon receives each image as a
`docker load` archive through the Engine API, so the same command fills any Docker-compatible
daemon. Imported only when a catalog command runs.
"""

import os
import sys
import time

from dockyard.cli.client import APIError, Client
from dockyard.cli.flags import Command, Opt, command

LS = Command("catalog ls", "[OPTIONS]", "List the images the catalog can build, and which are built", (
    Opt(("-q", "--quiet"), "quiet", "bool", "Only show image names"),
), max_args=0)
BUILD = Command("catalog build", "[OPTIONS] NAME[:TAG] [NAME[:TAG]...]",
                "Build catalog images from Debian packages into the image store", (
    Opt(("-a", "--all"), "all", "bool", "Build every image of the catalog"),
    Opt(("--rebuild",), "rebuild", "bool", "Build even when an up-to-date image exists"),
    Opt(("--pull",), "pull", "bool", "Refresh the cached Debian package lists first (newer package versions)"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Print only the image IDs"),
))
DEFAULT_SOURCE_DATE_EPOCH = 1747699200  # 2025-05-20T00:00:00Z, the Debian snapshot this tree's sources name


def source_date_epoch() -> int:
    text = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not text:
        return DEFAULT_SOURCE_DATE_EPOCH
    if not text.isdigit():
        raise ValueError(f"SOURCE_DATE_EPOCH must be a number of seconds since 1970, not {text!r}")
    return int(text)


def _inspect(client: Client, reference: str) -> dict | None:
    try:
        return client.call("GET", f"/images/{reference}/json")
    except APIError as exc:
        if exc.status == 404:
            return None
        raise


def _status(client: Client, recipe, digest: str) -> tuple[str, dict | None]:
    from dockyard.catalog.recipes import LABEL

    image = _inspect(client, recipe.reference)
    if image is None:
        return "not built", None
    label = ((image.get("Config") or {}).get("Labels") or {}).get(LABEL)
    if label == digest:
        return "built", image
    return ("outdated" if label else "other image"), image


@command(LS)
def ls(client: Client, values: dict, _args: list[str]) -> int:
    from dockyard.catalog.bootstrap import FINGERPRINT
    from dockyard.catalog.recipes import RECIPES, recipe_digest
    from dockyard.cli.output import human_size, table

    if values["quiet"]:
        sys.stdout.write("".join(r.reference + "\n" for r in RECIPES))
        return 0
    epoch = source_date_epoch()
    rows = []
    for recipe in RECIPES:
        status, image = _status(client, recipe, recipe_digest(recipe, epoch, FINGERPRINT))
        image_id = image["Id"].removeprefix("sha256:")[:12] if image else ""
        size = human_size(image["Size"]) if image else ""
        note = f" ({recipe.replaceable})" if recipe.replaceable else ""
        rows.append([recipe.reference, status, image_id, size, recipe.description + note])
    sys.stdout.write(table(["IMAGE", "STATUS", "IMAGE ID", "SIZE", "DESCRIPTION"], rows))
    return 0


class _Display:
    """One status line per image: redrawn in place on a terminal, a line per stage otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty() and not quiet
        self.prefix = ""
        self.started = 0.0

    def begin(self, prefix: str) -> None:
        self.prefix, self.started = prefix, time.monotonic()
        self.stage("starting")

    def stage(self, text: str) -> None:
        if self.quiet:
            return
        elapsed = time.monotonic() - self.started
        if self.tty:
            width = max(20, os.get_terminal_size(sys.stderr.fileno()).columns - 1)
            sys.stderr.write(f"\r\033[K{self.prefix} {elapsed:5.1f}s {text}"[:width + 5])
        else:
            sys.stderr.write(f"{self.prefix} {elapsed:5.1f}s {text}\n")
        sys.stderr.flush()

    def end(self, text: str) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K")
        if not self.quiet:
            sys.stderr.write(f"{self.prefix} {time.monotonic() - self.started:5.1f}s {text}\n")
            sys.stderr.flush()


@command(BUILD)
def build(client: Client, values: dict, names: list[str]) -> int:
    from dockyard.catalog import recipes as catalog
    from dockyard.cli.flags import UsageError

    if values["all"] and names:
        raise UsageError("give image names or --all, not both")
    if not values["all"] and not names:
        raise UsageError('"dockyard catalog build" requires at least 1 argument (or --all).')
    try:
        epoch = source_date_epoch()
        chosen = list(catalog.RECIPES) if values["all"] else [catalog.find(name) for name in names]
    except (LookupError, ValueError) as exc:
        sys.stderr.write(f"{exc.args[0]}\n")
        return 1
    named = set(chosen)
    # Each image once, in the order given, after the bases it is a layer on (needed to build it).
    chosen = list(dict.fromkeys(r for recipe in chosen for r in catalog.chain(recipe)))
    from dockyard.catalog.bootstrap import FINGERPRINT, BootstrapError
    from dockyard.catalog.cache import PackageCache

    cache = PackageCache.default()
    display = _Display(values["quiet"])
    refresh = values["pull"]
    for number, recipe in enumerate(chosen, 1):
        display.begin(f"[{number}/{len(chosen)}] {recipe.reference}")
        rebuild = values["rebuild"] and recipe in named  # a base is only built when it is not up to date
        digest = catalog.recipe_digest(recipe, epoch, FINGERPRINT)
        status, image = _status(client, recipe, digest)
        if status == "built" and not rebuild:
            assert image is not None  # a built image is found
            _tag_aliases(client, recipe, image["Id"])
            display.end(f"up to date {image['Id'][:19]}")
            if values["quiet"] and recipe in named:
                sys.stdout.write(image["Id"] + "\n")
            continue
        update = refresh or not cache.has_lists()
        kept = None
        if not update and not rebuild:
            kept = _kept(cache, recipe, epoch)
        try:
            if kept is not None:
                display.stage("loading the image built before from the same inputs")
                try:
                    image_id = _load(client, recipe, *kept)
                finally:
                    _unpin(kept[0])
                display.end(f"loaded {image_id[:19]} (built before from the same inputs), "
                            f"tagged {', '.join(recipe.references)}")
            else:
                try:
                    image_id = _build_one(client, recipe, epoch, cache, display, update=update)
                except BootstrapError:
                    if update:
                        raise
                    # Cached lists can name versions the mirror has dropped since (a point release).
                    display.stage("failed with the cached package lists; retrying with fresh ones")
                    image_id = _build_one(client, recipe, epoch, cache, display, update=True)
                display.end(f"built {image_id[:19]}, tagged {', '.join(recipe.references)}")
        except BootstrapError as exc:
            display.end("failed")
            sys.stderr.write(f"catalog build {recipe.reference}: {exc}\n")
            return 1
        if update:
            refresh = False  # the lists are fresh for the rest of this run
        if values["quiet"] and recipe in named:
            sys.stdout.write(image_id + "\n")
    return 0


def _build_one(client: Client, recipe, epoch: int, cache, display: _Display, *, update: bool) -> str:
    """Bootstrap ``recipe``, keep its layer and config in the image cache and load it; an image on a
    base gets the layer that differs from the base's layers (built first if the cache lacks them)."""
    from dockyard.catalog.recipes import find

    below, base_config = [], None
    if recipe.base:
        base = find(recipe.base)
        found = _kept(cache, base, epoch)
        if found is None:  # not kept (a cleaned cache, other lists): made again, the same bytes
            display.stage(f"building its base {base.reference} first")
            _build_one(client, base, epoch, cache, display, update=update)
            update = False
            found = _kept(cache, base, epoch)
        if found is None:
            from dockyard.catalog.bootstrap import BootstrapError

            raise BootstrapError(f"{base.reference} was built but its layer is not in the image cache {cache.images} "
                                 "(removed by another build?); build again")
        below, base_config = found
    try:
        return _build_layer(client, recipe, epoch, cache, display, below, base_config, update=update)
    finally:
        _unpin(below)


def _build_layer(client: Client, recipe, epoch: int, cache, display: _Display, below: list, base_config,
                 *, update: bool) -> str:
    from dockyard.catalog.bootstrap import FINGERPRINT, Layer, bootstrap, copy_layer
    from dockyard.catalog.busybox import make_layer
    from dockyard.catalog.image import config_bytes
    from dockyard.catalog.layering import diff_layer
    from dockyard.catalog.recipes import recipe_digest

    transform = make_layer(epoch) if recipe.variant == "busybox" else copy_layer
    cache.prepare()
    log_path = cache.logs / (recipe.reference.replace(":", "_").replace("/", "_") + ".log")
    display.stage("update package lists" if update else "using cached package lists")
    layer = bootstrap(recipe, cache, epoch, update=update, progress=display.stage, log_path=log_path,
                      transform=transform)
    if recipe.base:
        display.stage(f"comparing with {recipe.base} for the layer on it")
        root = layer
        try:
            layer = diff_layer(root.path, [b.path for b in below],
                               root.path.with_name(root.path.name.replace("build-", "build-diff-", 1)), epoch)
        finally:
            root.path.unlink(missing_ok=True)
    digest = recipe_digest(recipe, epoch, FINGERPRINT)
    try:
        config = config_bytes(recipe, layer, digest, epoch, base_config)
        path = cache.keep_built(recipe.reference, _key(digest, cache), layer.path, config)
    finally:
        layer.path.unlink(missing_ok=True)
    display.stage(f"loading {layer.size / 1e6:.1f} MB layer into the daemon")
    own = [Layer(cache.pin(path), layer.diff_id, layer.size)]
    try:
        return _load(client, recipe, [*below, *own], config)
    finally:
        _unpin(own)


def _key(digest: str, cache) -> str:
    """What an image's bytes depend on: the recipe's digest and the package lists."""
    import hashlib

    return hashlib.sha256(f"{digest}\n{cache.lists_digest()}".encode()).hexdigest()


def _kept(cache, recipe, epoch: int):
    """The layers (lowest first) and config kept in the image cache for ``recipe`` and its bases
    from the current inputs, or None when one of them is missing. The layers are pinned (see
    PackageCache.pin): the caller unlinks them with _unpin."""
    import json

    from dockyard.catalog.bootstrap import FINGERPRINT, Layer
    from dockyard.catalog.recipes import chain, recipe_digest

    layers: list[Layer] = []
    config = b""
    try:
        for part in chain(recipe):
            found = cache.built(part.reference, _key(recipe_digest(part, epoch, FINGERPRINT), cache))
            if found is None:
                _unpin(layers)
                return None
            path, config = found
            pinned = cache.pin(path)
            layers.append(Layer(pinned, json.loads(config)["rootfs"]["diff_ids"][-1], pinned.stat().st_size))
    except FileNotFoundError:  # replaced by another build between the look-up and the link
        _unpin(layers)
        return None
    return layers, config


def _unpin(layers: list) -> None:
    for layer in layers:
        layer.path.unlink(missing_ok=True)


def _load(client: Client, recipe, layers: list, config: bytes) -> str:
    """`POST /images/load` of the layers and config; returns the image ID (the config's digest)."""
    import hashlib

    from dockyard.catalog.bootstrap import BootstrapError
    from dockyard.catalog.image import ArchiveReader

    reader = ArchiveReader(recipe, layers, config)
    try:
        response = client.send("POST", "/images/load", query={"quiet": True}, body=reader,
                               headers={"Content-Type": "application/x-tar"})
    finally:
        reader.close()
    try:
        for message in response.json_lines():
            if "error" in message:
                raise BootstrapError(f"the daemon refused the image: {message['error']}")
    finally:
        response.close()
    return "sha256:" + hashlib.sha256(config).hexdigest()


def _tag_aliases(client: Client, recipe, image_id: str) -> None:
    """An up-to-date image keeps all its names (a user may have removed one tag)."""
    for reference in recipe.references[1:]:
        found = _inspect(client, reference)
        if found is None or found["Id"] != image_id:
            repo, _, tag = reference.rpartition(":")
            client.call("POST", f"/images/{image_id}/tag", query={"repo": repo, "tag": tag})
