"""Engine behaviours docker-compose 1.29.2's own suites rely on (each found failing there while it passed
against Docker 20.10): aliases, null healthcheck fields, unset namespace modes, isolation values."""

import pytest

from dockyard.cli.client import APIError


@pytest.fixture
def network(daemon):
    name = "compose-engine-net"
    daemon.client.call("POST", "/networks/create", body={"Name": name})
    yield name
    daemon.client.call("DELETE", f"/networks/{name}")


def create(daemon, body: dict) -> str:
    return daemon.client.call("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["sleep", "60"],
                                                                  **body})["Id"]


def test_short_id_alias_comes_at_start_not_at_create(daemon, network):
    """docker-compose reconnects a created container whose aliases lack its short ID (one-off `run`
    containers drop the service alias that way), so the short ID must not be there before start."""
    cid = create(daemon, {"HostConfig": {"NetworkMode": network},
                          "NetworkingConfig": {"EndpointsConfig": {network: {"Aliases": ["app"]}}}})
    try:
        inspect = lambda: daemon.client.call("GET", f"/containers/{cid}/json")  # noqa: E731
        assert inspect()["NetworkSettings"]["Networks"][network]["Aliases"] == ["app"]
        daemon.client.call("POST", f"/networks/{network}/disconnect", body={"Container": cid})
        daemon.client.call("POST", f"/networks/{network}/connect", body={"Container": cid, "EndpointConfig": {}})
        assert not inspect()["NetworkSettings"]["Networks"][network]["Aliases"]
        daemon.client.call("POST", f"/containers/{cid}/start")
        assert inspect()["NetworkSettings"]["Networks"][network]["Aliases"] == [cid[:12]]
    finally:
        daemon.client.call("DELETE", f"/containers/{cid}", query={"force": True})


def test_null_healthcheck_fields_and_unset_modes(daemon):
    cid = create(daemon, {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 1_000_000_000, "StartPeriod": None}})
    try:
        details = daemon.client.call("GET", f"/containers/{cid}/json")
        assert details["Config"]["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 1_000_000_000}
        host = details["HostConfig"]
        assert (host["PidMode"], host["UsernsMode"], host["Isolation"]) == ("", "", "")
    finally:
        daemon.client.call("DELETE", f"/containers/{cid}", query={"force": True})


def test_invalid_isolation_refused(daemon):
    with pytest.raises(APIError) as info:
        create(daemon, {"HostConfig": {"Isolation": "foobar"}})
    assert info.value.status == 400
    assert info.value.message == "Invalid isolation: \"foobar\" - linux only supports 'default'"


def test_restart_keeps_the_last_finish_time(daemon):
    """docker-compose's `restart` test: after a restart FinishedAt is the stop's time, not zero."""
    cid = create(daemon, {"Cmd": ["top"]})
    try:
        daemon.client.call("POST", f"/containers/{cid}/start")
        daemon.client.call("POST", f"/containers/{cid}/restart", query={"t": 1})
        state = daemon.client.call("GET", f"/containers/{cid}/json")["State"]
        assert state["Running"] and state["FinishedAt"] != "0001-01-01T00:00:00Z"
    finally:
        daemon.client.call("DELETE", f"/containers/{cid}", query={"force": True})
