"""Property-based fuzzing of the Engine API against moby's own v1.41 swagger (issue 13, part 4).

Schemathesis turns every operation of `swagger-v1.41.yaml` (api/swagger.yaml of moby v20.10.27)
into requests, schema-valid ("positive") and schema-violating ("negative"), and sends them to a
private daemon on a private data root. For every answer:

- the daemon is still running and answered within REQUEST_TIMEOUT (no crash, no hang);
- no 5xx, except the two Docker itself gives for what is not there: 501 (a feature Dockyard has
  not built) and 503 (cluster endpoints on a node that is not in a swarm);
- an error is Docker's `{"message": "..."}` in one line, never a traceback;
- after each operation the list endpoints still answer (nothing stored poisons them).

The run is bounded (FUZZ_EXAMPLES per operation and mode, 8 by default: about two minutes) and
deterministic (hypothesis derandomized); `make fuzz` raises FUZZ_EXAMPLES. The counts of requests
and statuses are printed at the end.
"""

import collections
import ipaddress
import itertools
import json
import os
import socket
import time
from pathlib import Path

import pytest
import requests
import urllib3

schemathesis = pytest.importorskip("schemathesis", reason="pip install '.[test]' brings schemathesis")
from conftest import PrivateDaemon  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402 - after the importorskip
from hypothesis.errors import Unsatisfiable  # noqa: E402

from dockyard.cli.client import APIError, Client  # noqa: E402

SWAGGER = Path(__file__).with_name("swagger-v1.41.yaml")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
REQUEST_TIMEOUT = 30
# Endpoints left out, and why: they reach outside this machine (pull, push, login, search, build
# contexts from URLs, imports from URLs), or hold the connection by design (hijacked attach and
# session, the endless events stream), or start a cluster member listening on the host's addresses (swarm
# init, whose bad input tests/unit/cluster and tests/integration/test_swarm.py cover), or dial the
# addresses they are given (swarm join, covered by tests/unit/cluster and test_swarm_machines.py).
EXCLUDED = {
    ("POST", "/swarm/init"), ("POST", "/swarm/join"),
    ("POST", "/images/create"), ("POST", "/images/{name}/push"), ("POST", "/auth"), ("GET", "/images/search"),
    ("GET", "/distribution/{name}/json"), ("POST", "/build"), ("POST", "/plugins/pull"),
    ("POST", "/plugins/{name}/upgrade"), ("POST", "/plugins/{name}/push"),
    ("POST", "/containers/{id}/attach"), ("GET", "/containers/{id}/attach/ws"), ("POST", "/session"),
    ("GET", "/events"),
}
ALLOWED_5XX = {501, 503}



@schemathesis.serializer("application/x-tar")
def _tar_body(ctx, value) -> bytes:
    """Uploads (`load`, `PUT archive`) are declared as binary strings: send what was generated as
    bytes, so the daemon meets arbitrary data where it expects a tar."""
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8", "surrogatepass")


schema = schemathesis.openapi.from_path(str(SWAGGER))
OPERATIONS = sorted(
    ((op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())
     if (op.method.upper(), op.path) not in EXCLUDED),
)
STATUSES: collections.Counter = collections.Counter()
UNGENERATED: set[str] = set()  # operation/mode pairs schemathesis has no data for


class _UnixConnection(urllib3.connection.HTTPConnection):
    def __init__(self, path: str, **kwargs) -> None:
        super().__init__("localhost", **kwargs)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(REQUEST_TIMEOUT)
        sock.connect(self._path)
        self.sock = sock


class _UnixPool(urllib3.HTTPConnectionPool):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", maxsize=1)
        self._path = path

    def _new_conn(self) -> _UnixConnection:
        return _UnixConnection(self._path)


class _TimedClient(Client):
    """The daemon's client for the set-up and checks around the requests: a daemon that stops
    answering fails the test within REQUEST_TIMEOUT, as the fuzzed requests do, instead of
    holding it until the suite's timeout."""

    def _connect(self):
        sock = super()._connect()
        sock.settimeout(REQUEST_TIMEOUT)
        return sock


class UnixAdapter(requests.adapters.HTTPAdapter):
    """requests over the daemon's unix socket: the test daemon listens on no TCP port, since an
    Engine API on TCP without TLS would make every local user root."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._pool = _UnixPool(path)

    def get_connection_with_tls_context(self, *args, **kwargs) -> _UnixPool:
        return self._pool

    def close(self) -> None:
        self._pool.close()


@pytest.fixture(scope="module")
def fuzz_daemon(busybox_tar, request):
    d = PrivateDaemon(busybox_tar).start()
    d.client = _TimedClient(d.host)
    d.import_busybox()
    d.session = requests.Session()
    d.session.mount("http://dockyard/", UnixAdapter(d.socket))
    d.base_url = "http://dockyard/v1.41"
    yield d
    d.session.close()
    alive = d.proc.poll() is None
    log = d.log()
    try:
        for net in d.client.call("GET", "/networks") if alive else []:
            if net["Name"] not in ("bridge", "host", "none"):
                d.client.call("DELETE", f"/networks/{net['Id']}")
    finally:
        d.cleanup()
    total = sum(STATUSES.values())
    summary = ", ".join(f"{status}: {count}" for status, count in sorted(STATUSES.items()))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    line = (f"fuzz: {total} requests over {len(OPERATIONS)} operations x 2 modes, {EXAMPLES} examples each; "
            f"statuses {summary}; nothing to generate for {', '.join(sorted(UNGENERATED)) or 'none'}")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # the counts belong in the run's output
            reporter.write_line("\n" + line)
    assert alive, "the daemon survived the fuzzing"
    assert "Traceback" not in log, f"the daemon logged a traceback:\n{log[-4000:]}"


# Every other request to a container, volume, network or image path goes to an object that
# exists, so the fuzzer reaches past the lookups. Not for the endpoints that follow a running
# container until it ends (wait, logs, stats) or that would tar its /proc (GET archive, export).
REAL_IDS = {"/containers/{id}": ("fuzz-run", "fuzz-idle"), "/volumes/{name}": ("fuzz-vol",),
            "/networks/{id}": ("fuzz-net",), "/images/{name}": ("busybox",)}
STREAMING = {"/containers/{id}/wait", "/containers/{id}/logs", "/containers/{id}/stats",
             "/containers/{id}/export"}
_turn = itertools.count()


def _targets(daemon) -> None:
    """(Re)make what REAL_IDS names: the fuzzer renames, stops and removes them too."""
    c = daemon.client

    def exists(path: str) -> dict | None:
        try:
            return c.call("GET", path)
        except APIError:
            return None

    if exists("/images/busybox/json") is None:
        daemon.import_busybox()
    run = exists("/containers/fuzz-run/json")
    if run is None:
        c.call("POST", "/containers/create", query={"name": "fuzz-run"},
               body={"Image": "busybox", "Cmd": ["sleep", "3600"]})
    if run is None or not run["State"]["Running"]:
        if run and run["State"]["Paused"]:
            c.call("POST", "/containers/fuzz-run/unpause")
        c.call("POST", "/containers/fuzz-run/start")
    if exists("/containers/fuzz-idle/json") is None:
        c.call("POST", "/containers/create", query={"name": "fuzz-idle"}, body={"Image": "busybox", "Cmd": ["true"]})
    if exists("/volumes/fuzz-vol") is None:
        c.call("POST", "/volumes/create", body={"Name": "fuzz-vol"})
    if exists("/networks/fuzz-net") is None:
        c.call("POST", "/networks/create", body={"Name": "fuzz-net"})


def _aim(case, daemon) -> None:
    prefix = next((p for p in REAL_IDS if case.path == p or case.path.startswith(p + "/")), None)
    if prefix is None or case.path in STREAMING or (case.path == "/containers/{id}/archive" and case.method == "GET"):
        return
    turn = next(_turn)
    if turn % 2:
        return
    _targets(daemon)
    key = "name" if "{name}" in prefix else "id"
    choices = REAL_IDS[prefix]
    case.path_parameters = {**(case.path_parameters or {}), key: choices[turn // 2 % len(choices)]}
    if isinstance(case.query, dict) and case.path in ("/containers/{id}/stop", "/containers/{id}/restart"):
        case.query["t"] = "1"  # `sleep` as PID 1 ignores SIGTERM: the stop would last as long as t says
    if isinstance(case.body, dict) and "Container" in case.body:
        case.body["Container"] = "fuzz-run"


def _tame(case) -> None:
    """Keep the requests on this machine and off the host's own networks: a network with a valid
    subnet of the fuzzer's choosing could shadow a host route (127.0.0.0/8, the LAN), so valid
    subnets are dropped (the daemon picks one from its private pool); invalid ones stay, the
    daemon has to refuse them. Container creates name the image that exists, so the host config
    is checked past the image lookup."""
    body = case.body
    if not isinstance(body, dict):
        return
    if case.path == "/networks/create" and isinstance(body.get("IPAM"), dict):
        for pool in body["IPAM"].get("Config") or []:
            if isinstance(pool, dict) and isinstance(pool.get("Subnet"), str):
                try:
                    ipaddress.ip_network(pool["Subnet"], strict=False)
                except ValueError:
                    continue
                for key in ("Subnet", "Gateway", "IPRange", "AuxiliaryAddresses"):
                    pool.pop(key, None)
    if case.path == "/containers/create" and isinstance(body.get("Image"), str):
        body["Image"] = "busybox"


def _check(case, response, daemon) -> None:
    STATUSES[response.status_code] += 1
    where = f"{case.method} {case.formatted_path} query={case.query!r} body={json.dumps(case.body, default=repr)[:600]}"
    assert daemon.proc.poll() is None, f"the daemon died on {where}"
    status = response.status_code
    assert status < 500 or status in ALLOWED_5XX, f"{status} {response.text[:500]!r} for {where}"
    if status >= 400 and case.method != "HEAD":
        try:
            message = response.json()["message"]
        except (ValueError, KeyError, TypeError):
            pytest.fail(f"{status} without Docker's {{'message': ...}} body: {response.text[:300]!r} for {where}")
        assert message and "Traceback" not in message, f"{status} {message!r} for {where}"


def _lists_still_answer(daemon) -> None:
    daemon.client.call("GET", "/containers/json", query={"all": 1})
    for path in ("/images/json", "/networks", "/volumes", "/system/df"):
        daemon.client.call("GET", path)


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize("method,path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation(fuzz_daemon, method, path, mode):
    operation = schema[path][method]
    generation = schemathesis.GenerationMode(mode)

    # No shrinking: a failing example is reported as found (derandomized, so it comes again).
    # Shrinking would send more requests to a daemon that may have stopped answering, each
    # waiting REQUEST_TIMEOUT, and it takes pytest-timeout's exception for one more failure.
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, print_blob=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(case=operation.as_strategy(generation_mode=generation))
    def run(case):
        _tame(case)
        _aim(case, fuzz_daemon)
        started = time.monotonic()
        try:
            response = case.call(base_url=fuzz_daemon.base_url, session=fuzz_daemon.session,
                                 timeout=REQUEST_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - a reset, a hang: both are findings
            pytest.fail(f"{type(exc).__name__} after {time.monotonic() - started:.1f} s: {exc} "
                        f"for {case.method} {case.formatted_path} query={case.query!r}")
        _check(case, response, fuzz_daemon)

    try:
        run()
    except Unsatisfiable:
        # Nothing to violate (negative mode of an operation whose only inputs are free strings),
        # or a body schemathesis cannot generate (raw tar uploads).
        UNGENERATED.add(f"{method} {path} ({mode})")
    _lists_still_answer(fuzz_daemon)
