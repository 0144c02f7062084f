"""The underlays' netfilter rules, kept in place while machines use them.

`dockyard machine` writes an underlay's DYM-* chains and jumps when a machine starts, and exits.
Another program (a firewall reload, a Docker daemon, an administrator) may delete them later,
which silently opens or cuts the underlay. The host's dockyardd keeps them as it keeps its own
(``network.rulekeeper.RuleKeeper``: woken by nfnetlink when a deletion may concern us, and every
few seconds anyway) for the machines of its default store, ``<data-root>/machine``; each repair
is logged by the keeper ("restored rule ... of the machine underlay ...").

Checked under the store's lock, so a check never meets an underlay halfway through being made or
released: a repair could otherwise put back the rules of an underlay `rm` is removing.
"""

from __future__ import annotations

import os

from dockyard.machine.errors import MachineError

# The jumps into the underlays' chains are in these; a deletion there wakes the keeper at once.
JUMP_CHAINS = {("filter", "FORWARD"), ("filter", "INPUT")}


class UnderlayRules:
    """What ``RuleKeeper`` keeps for one machine store: the rules of its live underlays (a bridge of
    ours with at least one machine's veth on it)."""

    prefix = "DYM-"

    def __init__(self, store_root: str) -> None:
        self.store_root = store_root
        # The keeper's watcher holds this set: the chains of underlays found later are added to it.
        self._watched: set[tuple[str, str]] = set(JUMP_CHAINS)

    def watched_chains(self) -> set[tuple[str, str]]:
        return self._watched

    def heal(self) -> list[str]:
        """Put back what is missing; returns what was. Raises OSError when a check fails (the keeper
        reports it and tries again at its next check)."""
        if not os.path.isdir(os.path.join(self.store_root, "machines")):
            return []  # no machine was ever made in this store: nothing to read
        try:
            return self._heal()
        except MachineError as exc:
            raise OSError(str(exc)) from None

    def _heal(self) -> list[str]:
        from dockyard.machine.store import Store
        from dockyard.machine.underlay import Underlay, save_filter

        store = Store(self.store_root)
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
