"""GET /events and `dockyard events`: Docker's event shapes, since/until and filters."""

import json
import time


def test_container_lifecycle_events(daemon):
    since = time.time()
    r = daemon.cli("run", "--name", "evented", "--label", "team=blue", "busybox", "sh", "-c", "exit 3")
    assert r.returncode == 3
    daemon.cli("rm", "evented")
    until = time.time() + 0.5
    stream = daemon.client.send("GET", "/events", query={
        "since": f"{since:.6f}", "until": f"{until:.6f}", "filters": json.dumps({"container": ["evented"]})})
    events = list(stream.json_lines())
    actions = [e["Action"] for e in events]
    assert actions == ["create", "attach", "start", "die", "destroy"] or actions == ["create", "start", "die",
                                                                                      "destroy"]
    die = events[actions.index("die")]
    assert die["Type"] == "container" and die["status"] == "die" and die["from"] == "busybox"
    assert die["Actor"]["Attributes"] == {"exitCode": "3", "image": "busybox", "name": "evented", "team": "blue"}
    assert die["id"] == die["Actor"]["ID"] and len(die["id"]) == 64 and die["timeNano"] // 10**9 == die["time"]


def test_event_filters_and_cli_format(daemon):
    since = time.time()
    daemon.cli("run", "--rm", "--name", "ev-a", "busybox", "true")
    daemon.cli("run", "--rm", "--name", "ev-b", "busybox", "true")
    r = daemon.cli("events", "--since", f"{since:.6f}", "--until", f"{time.time() + 0.3:.6f}",
                   "--filter", "event=start", "--filter", "type=container")
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 2 and all(" container start " in line for line in lines)
    assert "name=ev-a" in lines[0] and "name=ev-b" in lines[1]
    r = daemon.cli("events", "--since", f"{since:.6f}", "--until", f"{time.time() + 0.3:.6f}",
                   "--filter", "container=ev-b", "--format", "{{.Type}} {{.Action}}")
    assert r.stdout.decode().splitlines() == ["container create", "container start", "container die",
                                              "container destroy"]


def test_live_events_arrive_while_streaming(daemon):
    stream = daemon.client.send("GET", "/events", query={"filters": json.dumps({"event": ["create"]})})
    daemon.cli("create", "--name", "ev-live", "busybox", "true")
    try:
        event = next(stream.json_lines())
        assert event["Action"] == "create" and event["Actor"]["Attributes"]["name"] == "ev-live"
    finally:
        stream.close()
        daemon.cli("rm", "ev-live")
