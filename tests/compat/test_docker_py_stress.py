"""docker-py's `containers.run(remove=True)` from 8 threads, many times, on a private daemon:
the output is exactly b"hi\\n" every time, no call hangs, the daemon logs no traceback.

`make test` runs 500 (about ten seconds on 2 cores); `make stress` runs DOCKYARD_STRESS_RUNS (5,000)."""

import os
import threading

import pytest

docker = pytest.importorskip("docker")

RUNS = int(os.environ.get("DOCKYARD_STRESS_RUNS", "500"))
THREADS = 8
CALL_TIMEOUT = 60  # seconds for one run() (create, start, logs -f, wait, remove): a hang, not a slow call


def test_many_runs_from_threads(fresh_daemon):
    stress_daemon = fresh_daemon
    outputs: list[bytes] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(RUNS))

    def worker() -> None:
        client = docker.DockerClient(base_url=stress_daemon.host, version="1.41", timeout=CALL_TIMEOUT)
        try:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                try:
                    out = client.containers.run("busybox", ["echo", "hi"], remove=True)
                except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                with lock:
                    outputs.append(out)
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(outputs) == RUNS and set(outputs) == {b"hi\n"}
    log = stress_daemon.log()
    assert "Traceback" not in log and " ERROR " not in log
    assert stress_daemon.client.call("GET", "/containers/json", query={"all": True}) == []
