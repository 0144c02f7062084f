import pytest

from dockyard.util.timefmt import human_duration, parse_rfc3339, rfc3339_fixed, rfc3339_ns


@pytest.mark.parametrize("seconds,text", [
    (0.2, "Less than a second"), (1, "1 second"), (5, "5 seconds"), (60, "About a minute"), (150, "2 minutes"),
    (3600, "About an hour"), (7200, "2 hours"), (3 * 86400, "3 days"), (20 * 86400, "2 weeks"),
    (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_human_duration_matches_go_units(seconds, text):
    assert human_duration(seconds) == text


def test_rfc3339_round_trip():
    ns = 1_700_000_000_436_415_619
    assert rfc3339_ns(ns) == "2023-11-14T22:13:20.436415619Z"
    assert parse_rfc3339(rfc3339_ns(ns)) == ns
    assert rfc3339_ns(1_700_000_000_500_000_000) == "2023-11-14T22:13:20.5Z"
    assert rfc3339_fixed(1_700_000_000_000_000_000) == "2023-11-14T22:13:20.000000000Z"
    assert rfc3339_ns(0) == "0001-01-01T00:00:00Z"
    assert parse_rfc3339("2023-11-14T23:13:20+01:00") == 1_700_000_000 * 10**9
