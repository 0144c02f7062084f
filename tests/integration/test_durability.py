"""The daemon dies (SIGKILL) in the middle of a burst of create/start/stop calls: every container
is accounted for afterwards, running ones keep their PIDs, and restart policies apply."""

import os
import signal
import threading
import time

from dockyard.cli.client import APIError, Client

POLICIES = ["always", "unless-stopped", "on-failure", "no"]


def test_sigkill_in_a_burst_loses_nothing(fresh_daemon):
    d = fresh_daemon
    originals = {}
    for i in range(20):
        policy = POLICIES[i % 4]
        name = f"dur-{policy}-{i}"
        d.client.call("POST", "/containers/create", query={"name": name}, body={
            "Image": "busybox", "Cmd": ["sleep", "300"],
            "HostConfig": {"RestartPolicy": {"Name": policy}}})
        d.client.call("POST", f"/containers/{name}/start")
        originals[name] = d.client.call("GET", f"/containers/{name}/json")["State"]["Pid"]
    created: list[str] = []
    stopped: list[str] = []
    to_stop = [n for n in originals if "unless-stopped" in n][:3]

    def burst() -> None:
        client = Client(d.host)
        for i in range(40):
            try:
                cid = client.call("POST", "/containers/create", query={"name": f"burst-{i}"},
                                  body={"Image": "busybox", "Cmd": ["sleep", "300"]})["Id"]
                created.append(cid)
                client.call("POST", f"/containers/{cid}/start")
                if i < len(to_stop):
                    client.call("POST", f"/containers/{to_stop[i]}/stop", query={"t": 0})
                    stopped.append(to_stop[i])
            except Exception:  # noqa: BLE001 - the daemon is killed under us
                return

    worker = threading.Thread(target=burst)
    worker.start()
    time.sleep(0.4)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    worker.join(30)
    assert created, "the burst made progress before the kill"
    print(f"burst: {len(created)} created, stopped {stopped}")
    # While the daemon is down, one `always` container dies: the new daemon must notice and restart it.
    victim = next(n for n in originals if "always" in n)
    os.kill(originals[victim], signal.SIGKILL)
    time.sleep(0.3)
    d.start()

    everything = d.client.call("GET", "/containers/json", query={"all": True})
    names = [c["Names"][0].lstrip("/") for c in everything]
    assert len(names) == len(set(names)), "no name is used twice"
    for name in originals:
        assert name in names, f"{name} was lost"
    for cid in created:
        assert d.client.call("GET", f"/containers/{cid}/json")["Id"] == cid
    records = set(os.listdir(os.path.join(d.data_root, "containers")))
    assert records == {c["Id"] for c in everything}, "no files without a record, no record without files"

    for name, pid in originals.items():
        state = d.client.call("GET", f"/containers/{name}/json")["State"]
        if name == victim:
            continue
        if name in stopped:
            assert not state["Running"], f"{name} was stopped by the user and must stay stopped"
            continue
        if name in to_stop and not state["Running"]:
            continue  # its stop was in flight when the daemon died
        assert state["Running"] and state["Pid"] == pid, f"{name} kept running under the same PID"
    deadline = time.time() + 10
    while time.time() < deadline:
        state = d.client.call("GET", f"/containers/{victim}/json")["State"]
        if state["Running"]:
            break
        time.sleep(0.1)
    assert state["Running"] and state["Pid"] != originals[victim], "`always` restarted the container that died"
    # The reattached containers are still controllable: stop one, exec in another.
    keeper = next(n for n in originals if n.startswith("dur-no-"))
    assert d.cli("exec", keeper, "true").returncode == 0
    assert d.cli("stop", "-t", "0", keeper).returncode == 0
    try:
        d.client.call("GET", "/containers/burst-999/json")
    except APIError as exc:
        assert exc.status == 404
