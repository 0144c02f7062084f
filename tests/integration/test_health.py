"""Health checks: --health-* flags, State.Health, ps status, filters and events."""

import json
import time


def wait_health(daemon, name, status, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        health = daemon.client.call("GET", f"/containers/{name}/json")["State"].get("Health") or {}
        if health.get("Status") == status:
            return health
        time.sleep(0.05)
    raise AssertionError(f"{name} never became {status}: {health}")


def test_healthy_then_unhealthy_with_log_streak_ps_and_events(daemon):
    since = time.time()
    daemon.cli("run", "-d", "--name", "checked", "--health-cmd", "cat /tmp/ok", "--health-interval", "100ms",
               "--health-retries", "2", "--health-timeout", "2s", "busybox", "sh", "-c", "touch /tmp/ok; sleep 300")
    try:
        starting = daemon.client.call("GET", "/containers/checked/json")["State"]["Health"]
        assert starting["Status"] in ("starting", "healthy")
        health = wait_health(daemon, "checked", "healthy")
        assert health["FailingStreak"] == 0 and health["Log"][-1]["ExitCode"] == 0
        assert "(healthy)" in daemon.cli("ps", "--filter", "name=checked").stdout.decode()
        assert daemon.cli("ps", "-q", "--filter", "health=healthy", "--filter", "name=checked").stdout.strip()
        daemon.cli("exec", "checked", "rm", "/tmp/ok")
        health = wait_health(daemon, "checked", "unhealthy")
        assert health["FailingStreak"] >= 2 and "No such file" in health["Log"][-1]["Output"]
        assert len(health["Log"]) <= 5
        assert "(unhealthy)" in daemon.cli("ps", "--filter", "name=checked").stdout.decode()
        events = daemon.client.send("GET", "/events", query={
            "since": f"{since:.6f}", "until": f"{time.time():.6f}",
            "filters": json.dumps({"container": ["checked"]})})
        actions = [e["Action"] for e in events.json_lines()]
        assert "health_status: healthy" in actions and "health_status: unhealthy" in actions
        assert not any(a.startswith("exec_") and "cat /tmp/ok" in a for a in actions)  # probes are not execs
    finally:
        daemon.cli("rm", "-f", "checked")


def test_timeout_counts_as_failure_and_no_healthcheck(daemon):
    daemon.cli("run", "-d", "--name", "slowcheck", "--health-cmd", "sleep 5", "--health-interval", "100ms",
               "--health-timeout", "200ms", "--health-retries", "1", "busybox", "sleep", "300")
    try:
        health = wait_health(daemon, "slowcheck", "unhealthy")
        assert "exceeded timeout" in health["Log"][-1]["Output"]
    finally:
        daemon.cli("rm", "-f", "slowcheck")
    daemon.cli("create", "--name", "nocheck", "--no-healthcheck", "busybox", "true")
    try:
        config = daemon.client.call("GET", "/containers/nocheck/json")["Config"]
        assert config["Healthcheck"] == {"Test": ["NONE"]}
    finally:
        daemon.cli("rm", "nocheck")
    r = daemon.cli("create", "--no-healthcheck", "--health-cmd", "true", "busybox", "true")
    assert r.returncode == 125 and b"conflicts with --health-* options" in r.stderr
