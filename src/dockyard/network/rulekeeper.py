"""Keeps the daemon's netfilter rules in place for its whole life.

Other programs share the tables (a Docker daemon, a firewall reload, an administrator) and may
delete a jump into our chains or flush them, which silently cuts containers off. The keeper runs
`Firewall.heal` from one asyncio task, woken by nfnetlink when a deletion may concern us (see
nfwatch.py), after every change of our own rules, and every POLL seconds anyway (iptables-legacy
sends no notifications; notifications can be lost). Repairs are logged and counted, and `info`
shows a warning from then on.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from dockyard.errors import DockyardError
from dockyard.network.nfwatch import Watcher, generation
from dockyard.util.timefmt import now_ns, rfc3339_ns

log = logging.getLogger("dockyard.networks")
POLL = 3.0  # seconds between two checks when nothing woke the keeper sooner
SETTLE = 0.1  # a burst of ruleset changes (another daemon starting) gets one check
FIGHT_REPAIRS, FIGHT_WINDOW = 3, 10  # this many repairs within this many seconds: someone fights us


class Kept(Protocol):
    """What the keeper keeps: network/iptables.py's Firewall, network/mesh's Mesh."""

    prefix: str

    def heal(self) -> list[str]: ...

    def watched_chains(self) -> set[tuple[str, str]]: ...


class RuleKeeper:
    def __init__(self, firewall: Kept, generation: Callable[[], object] | None = None) -> None:
        self.firewall = firewall
        # What tells that nothing changed since the last clean check (Mesh: one generation per
        # namespace it programs); by default the daemon's own nftables generation.
        self._own_generation = generation
        self.repairs = 0  # how many checks found rules removed (and put them back)
        self.repaired_at = 0
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._nft: bool | None = None  # does iptables write nftables? (asked at the first check)
        self._clean: object = None  # ruleset generation at the last check that found all in place
        self._recent: list[int] = []  # times of the latest repairs
        self._told = False

    def changed(self) -> None:
        """Our rules were rewritten (network or ports changed): check the jumps too. Any thread."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _generation(self) -> object:
        """nftables' ruleset generation, when iptables writes nftables (not iptables-legacy, whose
        changes it does not count)."""
        if self._own_generation is not None:
            return self._own_generation()
        if self._nft is None:
            import subprocess

            version = subprocess.run(["iptables", "-V"], capture_output=True, text=True).stdout
            self._nft = "nf_tables" in version
        return generation() if self._nft else None

    def check(self) -> list[str]:
        """One check (blocking: a worker thread); returns what had to be put back. Skipped while
        the ruleset generation is the one of the last clean check: nothing changed since, so a
        quiet host costs one netlink request per poll instead of an iptables-save."""
        before = self._generation()
        if before is not None and before == self._clean:
            return []
        self._clean = None
        restored = self.firewall.heal()
        if not restored:
            self._clean = before  # changes after `before` was read bump it: they get checked
        if restored:
            self.repairs += 1
            self.repaired_at = now_ns()
            for item in restored:
                log.warning("restored %s (removed by another program)", item)
        return restored

    def _fighting(self) -> bool:
        """Repairs in quick succession: someone removes our rules as fast as we put them back (most
        likely another dockyardd with the same --bridge, hence the same chains). Said once."""
        now = now_ns()
        self._recent = [t for t in self._recent if now - t < FIGHT_WINDOW * 1e9] + [now]
        if len(self._recent) < FIGHT_REPAIRS:
            return False
        if not self._told:
            self._told = True
            log.error("netfilter rules of this daemon keep being removed (%d repairs in %d s): is another "
                      "dockyardd running with the same --bridge (chains %s)? Checking every %g s only while this "
                      "lasts", len(self._recent), FIGHT_WINDOW, self.firewall.prefix, POLL)
        return True

    def warning(self) -> str | None:
        if not self.repairs:
            return None
        times = "once" if self.repairs == 1 else f"{self.repairs} times"
        return (f"WARNING: netfilter rules of dockyardd were removed by another program and restored ({times}, "
                f"last at {rfc3339_ns(self.repaired_at)})")

    async def run(self) -> None:
        """Until cancelled (before the daemon tears its rules down, or they would come back)."""
        self._loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()
        watcher = Watcher(self._loop, self.firewall.watched_chains(), wake.set)
        failure = ""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), POLL)
                    await asyncio.sleep(SETTLE)
                wake.clear()
                try:
                    restored = await asyncio.to_thread(self.check)
                    failure = ""
                    if restored and self._fighting():
                        await asyncio.sleep(POLL)  # no quicker than the poll while someone keeps removing them
                except (DockyardError, OSError) as exc:  # the keeper carries on: the next check may succeed
                    if str(exc) != failure:  # once per kind of failure, not every few seconds
                        log.warning("checking the netfilter rules failed: %s", exc)
                    failure = str(exc)
        finally:
            self._wake = None
            watcher.close()
