"""The netfilter upkeep's pure parts: telling what of our rules is missing from iptables-save
output (and the restore lines that put it back), and which nfnetlink notifications concern us."""

import struct

from dockyard.network.iptables import BridgeRules, Firewall, PortRule, parse_save
from dockyard.network.nfwatch import NFNL_SUBSYS_NFTABLES, NFT_MSG_DELRULE, NFT_MSG_DELTABLE, concerns

BUILTIN = {"nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"], "filter": ["INPUT", "FORWARD", "OUTPUT"]}


def _firewall() -> Firewall:
    fw = Firewall("DY-t")
    fw._wanted = fw.render([BridgeRules("t0", "10.9.0.0/24"), BridgeRules("t1", "10.9.1.0/24", icc=False)],
                           [PortRule("tcp", "", 8080, "10.9.0.2", 80, "t0")])
    return fw


def _saved(fw: Firewall, drop: tuple[str, ...] = (), flush: tuple[str, ...] = ()) -> str:
    """What iptables-save prints when our rules are all in place, minus ``drop``ped lines and the
    rules of ``flush``ed chains; another program's chain and rules are there too."""
    jumps = {(t, c): f"-A {c} {' '.join(rule)}" for t, c, rule in fw._jumps()}
    out = []
    for table in ("nat", "filter"):
        out += [f"*{table}", *(f":{c} ACCEPT [0:0]" for c in BUILTIN[table]), ":OTHER - [0:0]"]
        out += [f":{chain} - [0:0]" for chain in parse_save(fw._wanted)[table]]
        out += [line for (t, _c), line in jumps.items() if t == table]
        out += ["-A FORWARD -j OTHER"] if table == "filter" else []
        out += [line for line in fw._wanted.split(f"*{table}\n")[1].split("COMMIT")[0].splitlines()
                if line.startswith("-A") and line.split()[1] not in flush]
        out.append("COMMIT")
    return "\n".join(line for line in out if line not in drop) + "\n"


def test_nothing_missing_means_nothing_to_do():
    fw = _firewall()
    assert fw.missing(_saved(fw)) == ([], [])


def test_a_deleted_jump_is_inserted_again_first_without_touching_the_chains():
    fw = _firewall()
    gone, lines = fw.missing(_saved(fw, drop=("-A FORWARD -j DY-t-FWD", "-A POSTROUTING -j DY-t-POST")))
    assert gone == ["jump nat POSTROUTING -> DY-t-POST", "jump FORWARD -> DY-t-FWD"]
    assert lines == ["*nat", "-I POSTROUTING 1 -j DY-t-POST", "COMMIT", "*filter", "-I FORWARD 1 -j DY-t-FWD",
                     "COMMIT"]


def test_a_flushed_chain_is_written_again_whole():
    fw = _firewall()
    gone, lines = fw.missing(_saved(fw, flush=("DY-t-FWD",)))
    assert gone == ["rules of filter/DY-t-FWD (0 found, 9 expected)"]
    assert lines[0] == "*filter" and lines[-1] == "COMMIT" and ":DY-t-FWD - [0:0]" in lines
    assert "-A DY-t-FWD -i t1 -o t1 -j DROP" in lines and not any(line.startswith("-I") for line in lines)


def test_tables_gone_bring_back_chains_and_jumps_in_one_restore():
    fw = _firewall()
    gone, lines = fw.missing("")
    assert "chain nat/DY-t" in gone and "jump FORWARD -> DY-t-FWD" in gone
    assert lines.count("COMMIT") == 2 and "-I PREROUTING 1 -m addrtype --dst-type LOCAL -j DY-t" in lines


def _message(kind: int, attrs: dict[int, str], family: int = 2) -> bytes:
    payload = b""
    for attr, value in attrs.items():
        data = value.encode() + b"\0"
        payload += struct.pack("=HH", 4 + len(data), attr) + data + b"\0" * (-len(data) % 4)
    body = struct.pack("=BBH", family, 0, 0) + payload
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_NFTABLES << 8) | kind, 0, 0, 0) + body


def test_only_deletions_that_may_hit_our_rules_wake_the_check():
    watched = _firewall().watched_chains()
    assert concerns(_message(NFT_MSG_DELRULE, {1: "filter", 2: "FORWARD"}), watched)
    assert concerns(_message(NFT_MSG_DELRULE, {1: "nat", 2: "DY-t-POST"}), watched)
    assert concerns(_message(NFT_MSG_DELRULE, {1: "nat"}), watched)  # a flush of the whole table
    assert concerns(_message(NFT_MSG_DELTABLE, {1: "filter"}), watched)
    assert not concerns(_message(NFT_MSG_DELRULE, {1: "filter", 2: "DOCKER-USER"}), watched)
    assert not concerns(_message(6, {1: "filter", 2: "FORWARD"}), watched)  # a new rule
    assert not concerns(_message(NFT_MSG_DELRULE, {1: "filter", 2: "FORWARD"}, family=10), watched)  # IPv6
    both = _message(6, {1: "filter", 2: "FORWARD"}) + _message(NFT_MSG_DELTABLE, {1: "nat"})
    assert concerns(both, watched)


class _Rules:
    """A Firewall stand-in: each heal returns the next answer (what it "restored")."""

    def __init__(self, answers: list[list[str]]) -> None:
        self.answers, self.calls = answers, 0

    def watched_chains(self) -> set:
        return {("filter", "NOTHING-WATCHED")}

    def heal(self) -> list[str]:
        self.calls += 1
        return self.answers.pop(0) if self.answers else []


def test_the_keeper_polls_wakes_on_changes_and_counts_repairs(monkeypatch):
    import asyncio
    import contextlib
    import threading

    from dockyard.network import rulekeeper

    monkeypatch.setattr(rulekeeper, "POLL", 0.02)
    rules = _Rules([[], ["jump FORWARD -> DY-t-FWD"], [], ["chain nat/DY-t"]])
    keeper = rulekeeper.RuleKeeper(rules)
    keeper._generation = lambda: None  # as with iptables-legacy: every poll checks

    async def scenario() -> None:
        task = asyncio.create_task(keeper.run())
        while rules.answers:  # the poll alone (no notification) reaches every answer
            await asyncio.sleep(0.01)
        monkeypatch.setattr(rulekeeper, "POLL", 3600)
        await asyncio.sleep(0.05)  # the last poll-length wait may still be under way
        calls = rules.calls
        threading.Thread(target=keeper.changed).start()  # from a worker thread, as _apply_rules may run
        while rules.calls == calls:
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert keeper.repairs == 2
    assert keeper.warning().startswith("WARNING: netfilter rules of dockyardd were removed by another program and "
                                       "restored (2 times, last at ")
    assert rulekeeper.RuleKeeper(_Rules([])).warning() is None


def test_a_check_is_skipped_while_the_ruleset_generation_stays_that_of_the_last_clean_check():
    from dockyard.network import rulekeeper

    rules = _Rules([[], [], ["jump FORWARD -> DY-t-FWD"], [], []])
    keeper = rulekeeper.RuleKeeper(rules)
    generations = iter([7, 7, 8, 9, 10, 10])
    keeper._generation = lambda: next(generations)
    keeper.check()  # 7: checked, clean
    keeper.check()  # 7 again: skipped
    assert rules.calls == 1
    keeper.check()  # 8: checked, clean
    keeper.check()  # 9: checked, a repair (which changes the generation)
    keeper.check()  # 10: checked again, clean
    keeper.check()  # 10: skipped
    assert rules.calls == 4 and keeper.repairs == 1
