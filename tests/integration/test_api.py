"""The Engine API contract: versions, errors, filters, streams. Bad input changes nothing."""

import json
import socket

import pytest

from dockyard.cli.client import APIError
from dockyard.util.frames import split_frames


def raw_request(daemon, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(daemon.socket)
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return data


def container_ids(daemon) -> set[str]:
    return {c["Id"] for c in daemon.client.call("GET", "/containers/json", query={"all": True})}


def test_ping_and_version_headers(daemon):
    reply = raw_request(daemon, b"HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = reply.decode().lower()
    assert head.startswith("http/1.1 200") and "api-version: 1.41" in head and not reply.endswith(b"OK")
    assert raw_request(daemon, b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").endswith(b"OK")
    version = daemon.client.call("GET", "/version")
    assert version["ApiVersion"] == "1.41" and version["MinAPIVersion"] == "1.24"


@pytest.mark.parametrize("path,status,message", [
    ("/v1.99/version", 400, "client version 1.99 is too new. Maximum supported API version is 1.41"),
    ("/v1.12/version", 400, "client version 1.12 is too old. Minimum supported API version is 1.24"),
    ("/v1.41/swarm", 503, "This node is not a swarm manager. Use \"docker swarm init\""),
    ("/services", 503, "This node is not a swarm manager. Use \"docker swarm init\""),
    ("/tasks", 503, "This node is not a swarm manager."),
    ("/v1.30/containers/abc/checkpoints", 501, "GET /containers/abc/checkpoints is not implemented"),
    ("/plugins", 501, "GET /plugins is not implemented"),
])
def test_versions_cluster_and_unbuilt_endpoints(daemon, path, status, message):
    reply = raw_request(daemon, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}".encode())
    assert message in json.loads(body)["message"]


def test_versioned_and_unversioned_paths_agree(daemon):
    a = raw_request(daemon, b"GET /v1.24/images/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    b = raw_request(daemon, b"GET /images/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert json.loads(a.partition(b"\r\n\r\n")[2]) == json.loads(b.partition(b"\r\n\r\n")[2])


def test_invalid_json_is_a_400_and_creates_nothing(daemon):
    before = container_ids(daemon)
    body = b"{not json"
    reply = raw_request(daemon, b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: "
                        b"application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    assert reply.startswith(b"HTTP/1.1 400") and b"invalid JSON" in reply
    assert container_ids(daemon) == before
    assert daemon.client.call("GET", "/_ping") == b"OK"


@pytest.mark.parametrize("query,body,status,message", [
    ({}, {"Image": "nosuch"}, 404, "No such image: nosuch:latest"),
    ({"name": "bad!name"}, {"Image": "busybox"}, 400, "Invalid container name (bad!name)"),
    ({}, {"Image": "busybox", "HostConfig": "nope"}, 400,
     "cannot unmarshal string into Go struct field ContainerCreate.HostConfig of type HostConfig"),
    ({}, {"Image": "Busy Box"}, 404, "No such image"),
    ({}, {}, 400, "config cannot be empty"),
])
def test_bad_create_requests(daemon, query, body, status, message):
    before = container_ids(daemon)
    with pytest.raises(APIError) as info:
        daemon.client.call("POST", "/containers/create", query=query, body=body)
    assert info.value.status == status and message in info.value.message
    assert container_ids(daemon) == before


def test_duplicate_name_conflict(daemon):
    first = daemon.client.call("POST", "/containers/create", query={"name": "dup"}, body={"Image": "busybox"})
    try:
        with pytest.raises(APIError) as info:
            daemon.client.call("POST", "/containers/create", query={"name": "dup"}, body={"Image": "busybox"})
        assert info.value.status == 409
        assert info.value.message == (
            f'Conflict. The container name "/dup" is already in use by container "{first["Id"]}". '
            "You have to remove (or rename) that container to be able to reuse that name.")
    finally:
        daemon.client.call("DELETE", "/containers/dup")
    with pytest.raises(APIError) as info:
        daemon.client.call("DELETE", "/containers/dup")
    assert info.value.status == 404 and info.value.message == "No such container: dup"


def test_list_filters_limit_and_refusals(daemon):
    ids = []
    try:
        for code in (0, 4):
            cid = daemon.client.call("POST", "/containers/create", query={"name": f"flt{code}"},
                                     body={"Image": "busybox", "Cmd": ["sh", "-c", f"exit {code}"],
                                           "Labels": {"suite": "filters", "code": str(code)}})["Id"]
            ids.append(cid)
        daemon.client.call("POST", f"/containers/{ids[1]}/start")
        daemon.client.call("POST", f"/containers/{ids[1]}/wait")

        def listed(**filters):
            found = daemon.client.call("GET", "/containers/json",
                                       query={"all": True, "filters": json.dumps(filters)})
            return {c["Names"][0] for c in found}

        assert listed(label=["suite=filters"]) == {"/flt0", "/flt4"}
        assert listed(label=["suite=filters"], status=["created"]) == {"/flt0"}
        assert listed(label=["suite=filters"], exited=["4"]) == {"/flt4"}
        assert listed(label=["code=4"]) == {"/flt4"}
        assert listed(name=["flt0"]) == {"/flt0"}
        assert listed(id=[ids[1][:10]]) == {"/flt4"}
        assert listed(label=["suite=filters"], since=["flt0"]) == {"/flt4"}
        assert listed(label=["suite=filters"], before=["flt4"]) == {"/flt0"}
        newest = daemon.client.call("GET", "/containers/json", query={"all": True, "limit": 1})
        assert [c["Id"] for c in newest] == [ids[1]]
        with pytest.raises(APIError, match="invalid filter 'colour'"):
            daemon.client.call("GET", "/containers/json", query={"filters": '{"colour":["red"]}'})
        with pytest.raises(APIError, match="status=sleepy"):
            daemon.client.call("GET", "/containers/json", query={"filters": '{"status":["sleepy"]}'})
    finally:
        for cid in ids:
            daemon.client.call("DELETE", f"/containers/{cid}", query={"force": True})


def test_attach_uses_multiplexed_frames_and_wait_reports_the_code(daemon):
    cid = daemon.client.call("POST", "/containers/create",
                             body={"Image": "busybox", "Cmd": ["sh", "-c", "echo out; echo err >&2; exit 5"]})["Id"]
    try:
        attach = daemon.client.send("POST", f"/containers/{cid}/attach", upgrade=True,
                                    query={"stream": 1, "stdout": 1, "stderr": 1})
        assert attach.status == 101
        assert attach.headers["content-type"] == "application/vnd.docker.multiplexed-stream"
        wait = daemon.client.send("POST", f"/containers/{cid}/wait", query={"condition": "next-exit"})
        daemon.client.call("POST", f"/containers/{cid}/start")
        frames, rest = split_frames(attach.read())
        assert sorted(frames) == [(1, b"out\n"), (2, b"err\n")] and rest == b""
        assert wait.json() == {"Error": None, "StatusCode": 5}
        logs = daemon.client.send("GET", f"/containers/{cid}/logs", query={"stdout": 1, "stderr": 0})
        assert split_frames(logs.read())[0] == [(1, b"out\n")]
        stamped = daemon.client.send("GET", f"/containers/{cid}/logs",
                                     query={"stdout": 1, "stderr": 1, "timestamps": 1, "tail": 1})
        (stream, line), = split_frames(stamped.read())[0]
        assert line.endswith(b"Z err\n") and len(line.split(b" ")[0]) == 30
        with pytest.raises(APIError, match="you must choose at least one stream"):
            daemon.client.call("GET", f"/containers/{cid}/logs")
        with pytest.raises(APIError, match="invalid condition"):
            daemon.client.call("POST", f"/containers/{cid}/wait", query={"condition": "sometime"})
    finally:
        daemon.client.call("DELETE", f"/containers/{cid}", query={"force": True})


def test_start_failure_is_reported_and_the_daemon_keeps_serving(daemon):
    cid = daemon.client.call("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["/no/such"]})["Id"]
    try:
        with pytest.raises(APIError) as info:
            daemon.client.call("POST", f"/containers/{cid}/start")
        assert info.value.status == 400 and 'exec: "/no/such": stat /no/such: no such file or directory' in (
            info.value.message)
        state = daemon.client.call("GET", f"/containers/{cid}/json")["State"]
        assert state["ExitCode"] == 127 and "no such file" in state["Error"] and not state["Running"]
    finally:
        daemon.client.call("DELETE", f"/containers/{cid}")
    assert daemon.client.call("GET", "/_ping") == b"OK"


def test_image_inspect_and_list(daemon):
    image = daemon.client.call("GET", "/images/busybox/json")
    assert image["Id"].startswith("sha256:") and image["RepoTags"] == ["busybox:latest"]
    assert len(image["RootFS"]["Layers"]) == 1 and image["Config"]["Cmd"] == ["sh"]
    assert daemon.client.call("GET", f"/images/{image['Id'][7:19]}/json")["Id"] == image["Id"]
    listed = daemon.client.call("GET", "/images/json", query={"filters": '{"reference":["busybox"]}'})
    assert [i["Id"] for i in listed] == [image["Id"]]
    with pytest.raises(APIError) as info:
        daemon.client.call("GET", "/images/nosuch/json")
    assert info.value.status == 404 and info.value.message == "No such image: nosuch:latest"


def test_import_of_garbage_is_refused_and_stores_nothing(daemon):
    before = daemon.client.call("GET", "/images/json")
    with pytest.raises(APIError) as info:
        daemon.client.call("POST", "/images/create", query={"fromSrc": "-", "repo": "junk"}, body=b"not a tar" * 100)
    assert info.value.status == 400
    assert daemon.client.call("GET", "/images/json") == before
