"""Waiting for a service to converge, as docker/cli's service/progress: `overall progress: N out
of M tasks`, a line per slot (or per node of a global service) with its task's state, then the
monitor period's `verify:` countdown and `Service <id> converged`. An update the managers paused
(or rolled back) ends the wait with their message. A line is printed when it changes."""

import json
import sys
import time

from dockyard.cli.client import Client

POLL = 0.2  # docker/cli polls every 200 ms
STATES = ["new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"]
BAR_WIDTH = 50


def _bar(state: str) -> str:
    if state not in STATES:
        return ""
    filled = BAR_WIDTH * (STATES.index(state) + 1) // len(STATES)
    return "[" + "=" * (filled - 1) + ">" + " " * (BAR_WIDTH - filled) + "]"


class _Printer:
    def __init__(self) -> None:
        self.shown: dict[str, str] = {}

    def show(self, key: str, text: str) -> None:
        if self.shown.get(key) != text:
            self.shown[key] = text
            sys.stdout.write(f"{key}: {text}\n")
            sys.stdout.flush()


def wait_converged(client: Client, service_id: str) -> int:
    printer = _Printer()
    converged_at: float | None = None
    while True:
        service = client.call("GET", f"/services/{service_id}")
        status = service.get("UpdateStatus") or {}
        state = status.get("State")
        if state in ("paused", "rollback_paused"):
            sys.stderr.write(f"{'service update paused' if state == 'paused' else 'service rollback paused'}"
                             f": {status.get('Message', '')}\n")
            return 1
        rolling_back = state in ("rollback_started", "rollback_completed")
        if state == "rollback_started" and status.get("Message"):
            printer.show("rollback", status["Message"])
        overall = "rolling back update: " if rolling_back else ""
        mode = service["Spec"].get("Mode") or {}
        filters = {"service": [service_id], "_up-to-date": ["true"]}
        tasks = [t for t in client.call("GET", "/tasks", query={"filters": json.dumps(filters)}) or []
                 if t["DesiredState"] not in ("shutdown", "remove", "orphaned")]
        if "Replicated" in mode:
            want = mode["Replicated"].get("Replicas", 1)
            by_slot = {}
            for task in sorted(tasks, key=lambda t: t["CreatedAt"]):
                if task.get("Slot", 0) <= want:
                    by_slot[task["Slot"]] = task
            running = sum(1 for t in by_slot.values() if t["Status"]["State"] == "running")
            printer.show("overall progress", f"{overall}{running} out of {want} tasks")
            for slot in range(1, want + 1):
                task = by_slot.get(slot)
                state = task["Status"]["State"] if task else ""
                err = task["Status"].get("Err", "") if task else ""
                printer.show(f"{slot}/{want}", f"{state:<10}{_bar(state)}" if not err else f"{state:<10}{err}")
            done = running == want
        elif "ReplicatedJob" in mode or "GlobalJob" in mode:
            completed = sum(1 for t in tasks if t["Status"]["State"] == "complete")
            total = mode.get("ReplicatedJob", {}).get("TotalCompletions", 1) if "ReplicatedJob" in mode \
                else max(len(tasks), 1)
            printer.show("job progress", f"{completed} out of {total} complete")
            if completed >= total:
                sys.stdout.write("job complete\n")
                return 0
            done = False
        else:
            running = sum(1 for t in tasks if t["Status"]["State"] == "running")
            printer.show("overall progress", f"{overall}{running} out of {len(tasks)} tasks")
            done = bool(tasks) and running == len(tasks)
        if not done:
            if converged_at is not None:
                printer.show("verify", "Detected task failure")
            converged_at = None
        elif converged_at is None:
            converged_at = time.monotonic()
        if converged_at is not None:
            monitor = (service["Spec"].get("UpdateConfig") or {}).get("Monitor") or 5_000_000_000
            left = monitor / 1e9 - (time.monotonic() - converged_at)
            if left <= 0:
                printer.show("verify", f"Service {service_id} converged")
                if state == "rollback_completed":
                    printer.show("rollback", status.get("Message", ""))
                return 0
            printer.show("verify", f"Waiting {int(left) + 1} seconds to verify that tasks are stable...")
        time.sleep(POLL)
