"""bench/daemons.py's iptables clean-up after a private dockerd (conformance/run --docker, the
benchmarks, tests beside Docker): it removes that dockerd's rules and never a neighbour's."""

from conftest import _bench_daemons

daemons = _bench_daemons()

BEFORE = {"nat": [":PREROUTING ACCEPT", ":POSTROUTING ACCEPT", "-A POSTROUTING -s 10.9.9.0/24 -j MASQUERADE"],
          "filter": [":FORWARD DROP"]}
# What our dockerd (bridge dkmine, subnet 10.1.2.0/24) made as it started.
MADE = {"nat": [":DOCKER -", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
                "-A POSTROUTING -s 10.1.2.0/24 ! -o dkmine -j MASQUERADE", "-A DOCKER -i dkmine -j RETURN"],
        "filter": [":DOCKER-USER -", "-A FORWARD -j DOCKER-USER", "-A DOCKER-USER -j RETURN"]}
# Later: a published port of ours (the hairpin rule names addresses only), and a neighbour's rules.
LATER = {"nat": ["-A DOCKER ! -i dkmine -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.2.5:80",
                 "-A POSTROUTING -s 10.1.2.5/32 -d 10.1.2.5/32 -p tcp -m tcp --dport 80 -j MASQUERADE",
                 "-A DOCKER -i dkother -j RETURN",
                 "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
                 "-A DY-dy1 -p tcp --dport 9090 -j DNAT --to-destination 10.7.7.2:80"],
         "filter": ["-A DOCKER-USER -i dkother -j DROP"]}


def _now() -> dict[str, list[str]]:
    return {table: BEFORE[table] + MADE[table] + LATER[table] for table in BEFORE}


def _undo(shared_in_use: bool) -> dict[str, list[str]]:
    return daemons.rules_to_undo(_now(), BEFORE, MADE, ["dkmine"], ["10.1.2.0/24"], shared_in_use)


def test_a_neighbours_rules_and_jumps_that_appeared_during_the_run_stay():
    undo = _undo(shared_in_use=False)
    for table, lines in LATER.items():
        for line in lines:
            if "dkmine" not in line and "10.1.2." not in line:
                assert line not in undo.get(table, []), line
    assert not any(line in undo.get(table, []) for table, lines in BEFORE.items() for line in lines)


def test_what_our_dockerd_made_goes_rules_first_then_its_chains():
    undo = _undo(shared_in_use=False)
    assert undo["nat"] == [*MADE["nat"][1:], *LATER["nat"][:2], ":DOCKER -"]
    assert undo["filter"] == ["-A FORWARD -j DOCKER-USER", "-A DOCKER-USER -j RETURN", ":DOCKER-USER -"]


def test_only_dockers_rules_count_as_made_by_the_dockerd_while_it_started():
    neighbour = "-A DYM-FWD-dymt1 -i dymt1 -j DROP"  # a machine's underlay, made at the same moment
    after = {table: BEFORE[table] + MADE[table] + ([neighbour] if table == "filter" else []) for table in BEFORE}
    # The bridge's own rules count through its name (undo_iptables' bridges), not as made.
    assert daemons.rules_added(BEFORE, after) == {table: [line for line in lines if "DOCKER" in line]
                                                  for table, lines in MADE.items()}


def test_the_shared_chains_and_jumps_stay_while_another_dockerd_uses_them():
    undo = _undo(shared_in_use=True)
    assert undo["nat"] == ["-A POSTROUTING -s 10.1.2.0/24 ! -o dkmine -j MASQUERADE", "-A DOCKER -i dkmine -j RETURN",
                           *LATER["nat"][:2]]
    assert "filter" not in undo
