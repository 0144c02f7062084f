"""Every request body is decoded into typed specs before anything is made: a known key with the
wrong type, an out-of-range number or a malformed name is a 400 in Docker's words, and the
daemon's state does not change (issue 13, part 4)."""

import pytest

from dockyard.cli.client import APIError


def state(daemon) -> tuple:
    c = daemon.client
    return ({x["Id"] for x in c.call("GET", "/containers/json", query={"all": True})},
            {v["Name"] for v in c.call("GET", "/volumes")["Volumes"] or []},
            {n["Id"] for n in c.call("GET", "/networks")})


def refused(daemon, method: str, path: str, body, *, query=None) -> str:
    before = state(daemon)
    with pytest.raises(APIError) as err:
        daemon.client.call(method, path, body=body, query=query)
    assert err.value.status == 400, err.value
    assert state(daemon) == before, "a refused request changed nothing"
    return str(err.value)


def deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("body,words", [
    ({"Image": "busybox", "Cmd": [1.5]},
     "cannot unmarshal number into Go struct field ContainerCreate.Cmd of type string"),
    ({"Image": "busybox", "Labels": []}, "cannot unmarshal array into Go struct field ContainerCreate.Labels"),
    ({"Image": "busybox", "HostConfig": {"Memory": "lots"}}, "HostConfig.Memory of type int64"),
    ({"Image": "busybox", "HostConfig": {"Memory": 2 ** 63}}, "number 9223372036854775808"),
    ({"Image": "busybox", "Tty": "yes"}, "ContainerCreate.Tty of type bool"),
    ({"Image": "busybox", "HostConfig": {"BlkioWeight": 70000}}, "of type uint16"),
    ({"Image": "busybox", "HostConfig": {"RestartPolicy": "always"}}, "HostConfig.RestartPolicy of type RestartPolicy"),
    ({"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "70000"}]}}},
     'invalid port specification: "70000"'),
    ({"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "999.1.1.1", "HostPort": "80"}]}}},
     "invalid IP address: '999.1.1.1'"),
    ({"Image": "busybox", "HostConfig": {"PortBindings": {"99999/tcp": []}}}, 'invalid port specification: "99999"'),
    ({"Image": "busybox", "ExposedPorts": {"80/bogus": {}}}, 'invalid proto: "bogus"'),
    ({"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "volume", "VolumeOptions": {"NoCopy": "no"}}]}},
     "HostConfig.Mounts.VolumeOptions.NoCopy of type bool"),
    ({"Image": "busybox",
      "NetworkingConfig": {"EndpointsConfig": {"bridge": {"IPAMConfig": {"IPv4Address": "1.2.3"}}}}},
     "invalid IP address"),
    ({"Image": "busybox", "Healthcheck": {"Test": deep(3)}}, "Healthcheck.Test of type []string"),
    ({"Image": "busybox", "Env": deep(200)}, "Env"),
])
def test_container_bodies_with_wrong_types_are_refused(daemon, body, words):
    assert words in refused(daemon, "POST", "/containers/create", body)


@pytest.mark.parametrize("name", ["x" * 10_000, "web\n", "a", "-web", "we b"])
def test_bad_container_names_are_refused(daemon, name):
    message = refused(daemon, "POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"]}, query={"name": name})
    assert "Invalid container name" in message


def test_a_body_nested_thousands_deep_is_a_400(daemon):
    text = '{"Image": "busybox", "Labels": ' + "[" * 100_000 + "]" * 100_000 + "}"
    before = state(daemon)
    with pytest.raises(APIError) as err:
        daemon.client.call("POST", "/containers/create", body=text.encode(),
                           headers={"Content-Type": "application/json"})
    assert err.value.status == 400 and state(daemon) == before


@pytest.mark.parametrize("body,words", [
    ({"Name": 5}, "VolumeCreate.Name of type string"),
    ({"Name": "v1", "Labels": ["a"]}, "VolumeCreate.Labels of type map[string]string"),
    ({"Name": "v1", "DriverOpts": {"type": 1}}, "VolumeCreate.DriverOpts of type string"),
    ({"Name": "vol\n"}, "includes invalid characters"),
    ({"Name": "v" * 300}, "includes invalid characters"),
])
def test_volume_bodies_with_wrong_types_are_refused(daemon, body, words):
    assert words in refused(daemon, "POST", "/volumes/create", body)


@pytest.mark.parametrize("body,words", [
    ({"Name": "n1", "IPAM": "x"}, "NetworkCreate.IPAM of type IPAM"),
    ({"Name": "n1", "IPAM": {"Config": [{"Subnet": "10.300.0.0/24"}]}}, "invalid CIDR address"),
    ({"Name": "n1", "IPAM": {"Config": [{"Subnet": "10.99.0.0/24", "Gateway": "10.99.0"}]}}, "invalid IP address"),
    ({"Name": "n1", "Internal": 1}, "NetworkCreate.Internal of type bool"),
    ({"Name": ["n1"]}, "NetworkCreate.Name of type string"),
    ({"Name": "  "}, "invalid name"),
])
def test_network_bodies_with_wrong_types_are_refused(daemon, body, words):
    assert words in refused(daemon, "POST", "/networks/create", body)


def test_update_exec_and_connect_bodies_are_typed(daemon):
    cid = daemon.client.call("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["sleep", "60"]})["Id"]
    try:
        daemon.client.call("POST", f"/containers/{cid}/start")
        assert "of type int64" in refused(daemon, "POST", f"/containers/{cid}/update", {"Memory": "1g"})
        # Values the kernel would refuse with a bare EINVAL (found by tests/fuzz): Docker's words.
        assert "CPU cfs quota can not be less than 1ms" in refused(daemon, "POST", f"/containers/{cid}/update",
                                                                   {"CpuQuota": 999})
        assert "CPU cfs period" in refused(daemon, "POST", f"/containers/{cid}/update", {"CpuPeriod": 10})
        assert "swappiness" in refused(daemon, "POST", f"/containers/{cid}/update", {"MemorySwappiness": 101})
        assert "ExecCreate.Cmd of type []string" in refused(daemon, "POST", f"/containers/{cid}/exec", {"Cmd": "ls"})
        assert "NetworkConnect.EndpointConfig" in refused(daemon, "POST", "/networks/bridge/connect",
                                                          {"Container": cid, "EndpointConfig": []})
    finally:
        daemon.client.call("DELETE", f"/containers/{cid}", query={"force": True})


def test_unknown_keys_are_ignored_and_null_means_unset(daemon):
    body = {"Image": "busybox", "Cmd": ["true"], "NoSuchKey": {"x": [1]}, "Labels": None,
            "HostConfig": {"Memory": None, "AlsoUnknown": 1, "PortBindings": {"80/tcp": [{"HostPort": "8000-8010"}]}}}
    cid = daemon.client.call("POST", "/containers/create", body=body)["Id"]
    try:
        view = daemon.client.call("GET", f"/containers/{cid}/json")
        assert "NoSuchKey" not in view["Config"] and "AlsoUnknown" not in view["HostConfig"]
        assert view["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostPort": "8000-8010"}]}
        assert any(c["Id"] == cid for c in daemon.client.call("GET", "/containers/json", query={"all": True}))
    finally:
        daemon.client.call("DELETE", f"/containers/{cid}", query={"force": True})


def test_a_failing_archive_helper_answers_one_line(daemon):
    """`docker cp` into a container with a body that is no tar, or onto a file: a Docker-style
    error of one line, never the helper's traceback."""
    cid = daemon.client.call("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["true"]})["Id"]
    try:
        for path, body, status in (("/tmp", b"this is not a tar archive" * 100, 400),
                                   ("/bin/busybox", b"", 400),
                                   ("/no/such/dir", b"", 404)):
            with pytest.raises(APIError) as err:
                daemon.client.call("PUT", f"/containers/{cid}/archive", query={"path": path}, body=body)
            assert err.value.status == status, err.value
            assert "\n" not in str(err.value) and "Traceback" not in str(err.value)
    finally:
        daemon.client.call("DELETE", f"/containers/{cid}", query={"force": True})


def test_import_streams_its_body(daemon, busybox_tar):
    """`docker import -` with a chunked body: stored through a pipe, not gathered first."""
    with open(busybox_tar, "rb") as f:
        daemon.client.call("POST", "/images/create", query={"fromSrc": "-", "repo": "streamed", "tag": "v1"}, body=f)
    try:
        assert daemon.client.call("GET", "/images/streamed:v1/json")["RootFS"]["Layers"]
        with pytest.raises(APIError) as err:
            daemon.client.call("POST", "/images/create", query={"fromSrc": "-", "repo": "broken"},
                               body=b"\x1f\x8b" + b"not really gzip" * 1000)
        assert err.value.status == 400 and "could not be read" in str(err.value)
    finally:
        daemon.client.call("DELETE", "/images/streamed:v1")


@pytest.mark.parametrize("query,words", [
    ({"buildargs": '{"A": 1}'}, "buildargs parameter: the values must be strings"),
    ({"labels": '{"a": ["b"]}'}, "labels parameter: the values must be strings"),
    ({"ulimits": '[{"Name": "nofile", "Soft": "many"}]'}, "Ulimits.Soft of type int64"),
])
def test_build_query_values_are_typed(daemon, query, words):
    import io
    import tarfile

    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        dockerfile = b"FROM busybox\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    with pytest.raises(APIError) as err:
        daemon.client.call("POST", "/build", query=query, body=context.getvalue(),
                           headers={"Content-Type": "application/x-tar"})
    assert err.value.status == 400 and words in str(err.value)
