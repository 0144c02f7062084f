"""The underlays' netfilter rules, kept in place while machines use them.

`dockyard machine` writes an underlay's DYM-* chains and jumps when a machine starts, and exits.
Another program (a firewall reload, a Docker daemon, an administrator) may delete them later,
which silently opens or cuts the underlay. The host's dockyardd keeps them as it keeps its own
(``network.rulekeeper.RuleKeeper``: woken by nfnetlink when a deletion may concern us, and every
few seconds anyway) for the machines of its default store, ``<data-root>/machine``, and of the
other stores (`-s`, ``MACHINE_STORAGE_PATH``) the machine CLI announced in ``/run/dym/stores``
while they have machines running; each repair is logged by the keeper ("restored rule ... of the
machine underlay ..."). Another daemon's default store (``<its data root>/machine``) is left to it.

Checked under the store's lock, so a check never meets an underlay halfway through being made or
released: a repair could otherwise put back the rules of an underlay `rm` is removing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os

from dockyard.machine.errors import MachineError

# The jumps into the underlays' chains are in these; a deletion there wakes the keeper at once.
JUMP_CHAINS = {("filter", "FORWARD"), ("filter", "INPUT")}
# One file per machine store with a running machine, holding the store's path (a tmpfs: a reboot
# ends the machines and forgets the stores with them).
STORES_DIR = "/run/dym/stores"


def _announcement(store_root: str, stores_dir: str) -> str:
    return os.path.join(stores_dir, hashlib.sha256(store_root.encode()).hexdigest()[:16])


def announce(store_root: str, stores_dir: str = STORES_DIR) -> None:
    """Tell the host's dockyardd that this store has a machine on an underlay (at a machine's start)."""
    path = _announcement(store_root, stores_dir)
    if os.path.exists(path):
        return
    os.makedirs(stores_dir, mode=0o700, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(store_root)
    os.replace(path + ".tmp", path)


def withdraw(store_root: str, stores_dir: str = STORES_DIR) -> None:
    """The store has no machine on an underlay any more (its last one stopped or removed)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_announcement(store_root, stores_dir))
    with contextlib.suppress(OSError):
        os.rmdir(stores_dir)  # the last store's withdrawal takes the directory too


def announced(stores_dir: str = STORES_DIR) -> list[str]:
    try:
        names = sorted(os.listdir(stores_dir))
    except FileNotFoundError:
        return []
    roots = []
    for name in names:
        with contextlib.suppress(OSError):
            with open(os.path.join(stores_dir, name)) as f:
                roots.append(f.read().strip())
    return roots


def _another_daemons(store_root: str) -> bool:
    """Is this the default store of a dockyardd's data root (``<data-root>/machine``, beside its
    engine-id)? That daemon keeps it."""
    parent, base = os.path.split(store_root.rstrip("/"))
    return base == "machine" and os.path.exists(os.path.join(parent, "engine-id"))


class UnderlayRules:
    """What ``RuleKeeper`` keeps for one machine store: the rules of its live underlays (a bridge of
    ours with at least one machine's veth on it)."""

    prefix = "DYM-"

    def __init__(self, store_root: str, stores_dir: str | None = None) -> None:
        """``stores_dir``: where the other stores are announced (None: the default store alone)."""
        self.store_root = store_root
        self.stores_dir = stores_dir
        # The keeper's watcher holds this set: the chains of underlays found later are added to it.
        self._watched: set[tuple[str, str]] = set(JUMP_CHAINS)

    def watched_chains(self) -> set[tuple[str, str]]:
        return self._watched

    def stores(self) -> list[str]:
        roots = [self.store_root]
        if self.stores_dir is not None:
            roots += [r for r in announced(self.stores_dir) if r != self.store_root and not _another_daemons(r)]
        return roots

    def heal(self) -> list[str]:
        """Put back what is missing; returns what was. Raises OSError when a check fails (the keeper
        reports it and tries again at its next check)."""
        restored: list[str] = []
        for root in self.stores():
            if not os.path.isdir(os.path.join(root, "machines")):
                continue  # no machine was ever made in this store (or it is gone): nothing to read
            try:
                restored += self._heal(root)
            except MachineError as exc:
                raise OSError(str(exc)) from None
        return restored

    def _heal(self, root: str) -> list[str]:
        from dockyard.machine.store import Store
        from dockyard.machine.underlay import Underlay, save_filter

        store = Store(root)
        underlays: set[Underlay] = set()
        for name in store.names():
            try:
                host = store.load(name)
                if host.driver_name == "netns" and host.driver.get("Key"):
                    underlays.add(Underlay.parse(host.driver["UnderlayBridge"], host.driver["UnderlayCIDR"]))
            except (MachineError, KeyError):
                continue  # a record being written or broken: `ls` shows it
        restored: list[str] = []
        if not underlays:
            return restored
        with store.lock():
            saved: list[str] | None = None
            for underlay in sorted(underlays, key=lambda u: u.bridge):
                if not underlay.in_use():
                    continue
                self._watched.update(("filter", chain) for chain in underlay.chains)
                if saved is None:
                    saved = save_filter()
                restored += [f"{item} of the machine underlay {underlay.bridge}" for item in underlay.repair(saved)]
        return restored
