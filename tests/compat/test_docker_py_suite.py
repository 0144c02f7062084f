"""Behaviours docker-py's own integration suite (`make conformance`) checks, each kept here as a
fast test of the normal suite: builds, commit, image load."""

import io
import os

import pytest

docker = pytest.importorskip("docker")


@pytest.fixture
def api(daemon):
    client = docker.APIClient(base_url=daemon.host, version="auto", timeout=60)
    yield client
    client.close()


def test_build_stderr_of_run_reaches_the_stream_in_red(api):
    script = io.BytesIO(b'FROM busybox\nRUN sh -c ">&2 echo \'to stderr\'"\n')
    lines = [chunk.get("stream") for chunk in api.build(fileobj=script, decode=True, nocache=True, rm=True)]
    assert "\x1b[91mto stderr\n\x1b[0m" in lines


def test_build_failing_run_reports_its_exit_code(api):
    script = io.BytesIO(b"FROM busybox\nRUN exit 3\n")
    logs = list(api.build(fileobj=script, decode=True, rm=True))
    assert logs[-1]["errorDetail"] == {"code": 3,
                                       "message": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"}


def test_build_with_network_none_has_no_network(api):
    script = io.BytesIO(b"FROM busybox\nRUN ip -o link | grep -v ' lo:' | grep -q .\n")
    logs = list(api.build(fileobj=script, network_mode="none", decode=True, rm=True))
    assert logs[-1]["errorDetail"]["code"] == 1


def test_build_with_a_dockerfile_outside_the_context(api, tmp_path):
    """docker-py sends it inside the tar as `.dockerfile.<random>`, naming it twice in the query
    (`dockerfile=<name>&dockerfile=<text>`): the first value counts, as in Go's FormValue."""
    context, elsewhere = tmp_path / "ctx", tmp_path / "df"
    context.mkdir()
    elsewhere.mkdir()
    (context / "file.txt").write_text("hello world")
    (context / ".dockerignore").write_text(".dockerignore\n")
    (elsewhere / "Dockerfile").write_text("FROM busybox\nCOPY . /src\nWORKDIR /src\n")
    lines = list(api.build(path=str(context), dockerfile=str(elsewhere / "Dockerfile"), tag="pyooc:1",
                           decode=True, rm=True))
    assert "Successfully tagged pyooc:1" in lines[-1]["stream"]
    ctnr = api.create_container("pyooc:1", "ls -a")
    api.start(ctnr)
    api.wait(ctnr)
    assert sorted(api.logs(ctnr).split()) == [b".", b"..", b"file.txt"]
    api.remove_container(ctnr)
    api.remove_image("pyooc:1")


def test_commit_of_a_container_that_is_exiting(api):
    """commit pauses a running container; one whose process has just exited (its cgroup gone, its
    exit not yet recorded) is committed without the pause, as Docker does, not a 500."""
    for _ in range(25):
        ctnr = api.create_container("busybox", ["touch", "/test"])
        api.start(ctnr)
        image = api.commit(ctnr["Id"])
        assert image["Id"].startswith("sha256:")
        api.remove_container(ctnr, force=True)
        api.remove_image(image["Id"])


def test_load_of_a_bad_archive_is_an_image_load_error(daemon):
    client = docker.DockerClient(base_url=daemon.host, version="auto", timeout=60)
    try:
        with pytest.raises(docker.errors.ImageLoadError):
            client.images.load(b"abc")
        with pytest.raises(docker.errors.ImageLoadError):
            client.images.load(os.urandom(1024))
    finally:
        client.close()


def test_exec_detach_keys_from_the_client_config(api):
    """docker-py sends the config file's detachKeys as `detachKeys` (lower case): Go's JSON decoding
    takes it as DetachKeys, so ctrl-p detaches the exec's TTY without reaching it."""
    api._general_configs["detachKeys"] = "ctrl-p"
    ctnr = api.create_container("busybox", "cat", detach=True, stdin_open=True)
    api.start(ctnr)
    try:
        exec_id = api.exec_create(ctnr, "cat", stdin=True, tty=True, stdout=True)
        assert api.exec_inspect(exec_id)["DetachKeys"] == "ctrl-p"
        sock = api.exec_start(exec_id, tty=True, socket=True)._sock
        sock.settimeout(30)
        sock.sendall(b"\x10")
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        assert received == b""  # detached: nothing echoed, the connection closed
        sock.close()
    finally:
        api.remove_container(ctnr, force=True)


def test_remove_link_keeps_both_containers(api):
    target = api.create_container("busybox", "cat", detach=True, stdin_open=True)
    api.start(target)
    parent = api.create_container("busybox", "cat", detach=True, stdin_open=True, host_config=api.create_host_config(
        links={api.inspect_container(target)["Name"][1:]: "mylink"}))
    try:
        api.start(parent)
        link = api.inspect_container(parent)["Name"][1:] + "/mylink"
        api.remove_container(link, link=True)
        assert not api.inspect_container(parent)["HostConfig"]["Links"]
        assert api.inspect_container(target)["State"]["Running"] and api.inspect_container(parent)["State"]["Running"]
        with pytest.raises(docker.errors.NotFound):
            api.remove_container(link, link=True)
    finally:
        api.remove_container(parent, force=True)
        api.remove_container(target, force=True)


def test_ipv6_network_addresses_routes_and_reconnect(api):
    """EnableIPv6 with a user subnet: the bridge holds the gateway, each endpoint an address (the one
    asked for, or the next free), with the default route; inspect shows them as Docker does."""
    import random

    from docker.types import IPAMConfig, IPAMPool

    groups = [random.randrange(0x10, 0x100), random.randrange(0x1000, 0x10000), random.randrange(0x1000, 0x10000)]
    prefix = "fd{:x}:{:x}:{:x}:1".format(*groups)  # no leading zeros: the form Docker prints
    net = api.create_network(f"v6-{os.urandom(3).hex()}", enable_ipv6=True, ipam=IPAMConfig(pool_configs=[
        IPAMPool(subnet=f"{prefix}::/64", iprange=f"{prefix}::/96", gateway=f"{prefix}::ffff")]))["Id"]
    containers = []
    try:
        assert api.inspect_network(net)["EnableIPv6"] is True
        first = api.create_container("busybox", "top", host_config=api.create_host_config(network_mode=net),
                                     networking_config=api.create_networking_config(
                                         {net: api.create_endpoint_config(ipv6_address=f"{prefix}::f00d")}))
        containers.append(first)
        second = api.create_container("busybox", "top", host_config=api.create_host_config(network_mode=net))
        containers.append(second)
        api.start(first)
        api.start(second)
        endpoint = api.inspect_container(first)["NetworkSettings"]["Networks"]
        endpoint = next(iter(endpoint.values()))
        assert endpoint["IPAMConfig"]["IPv6Address"] == f"{prefix}::f00d"
        assert (endpoint["GlobalIPv6Address"], endpoint["GlobalIPv6PrefixLen"], endpoint["IPv6Gateway"]) == (
            f"{prefix}::f00d", 64, f"{prefix}::ffff")
        other = next(iter(api.inspect_container(second)["NetworkSettings"]["Networks"].values()))
        assert other["GlobalIPv6Address"] == f"{prefix}::1"
        ping = api.exec_create(first, ["sh", "-c", f"ip -6 route | grep -q 'default via {prefix}::ffff' && "
                                                   f"ping6 -c1 -W5 {prefix}::ffff && ping6 -c1 -W5 {prefix}::1"])
        api.exec_start(ping)
        assert api.exec_inspect(ping)["ExitCode"] == 0
        api.disconnect_container_from_network(first, net)
        api.connect_container_to_network(first, net, ipv6_address=f"{prefix}::beef")
        views = {v["IPv6Address"] for v in api.inspect_network(net)["Containers"].values()}
        assert views == {f"{prefix}::beef/64", f"{prefix}::1/64"}
        with pytest.raises(docker.errors.APIError):  # an IPv6 network needs its subnet here
            api.create_network(f"v6-{os.urandom(3).hex()}", enable_ipv6=True)
    finally:
        for c in containers:
            api.remove_container(c, force=True)
        api.remove_network(net)


def test_a_build_whose_client_goes_away_is_cancelled(api):
    """As Docker: closing the connection cancels the build; the RUN under way is killed and no later
    step runs (docker-py's suite leaves unread builds behind that would otherwise go on creating
    containers during later tests)."""
    import time

    context = docker.utils.mkbuildcontext(io.BytesIO(b"FROM busybox\nRUN sleep 300\nRUN echo never > /never\n"))
    response = api._post(api._url("/build"), data=context, params={"t": "pycancel:1", "rm": True},
                         headers={"Content-Type": "application/tar"}, stream=True)
    lines = response.iter_lines()
    running = next(line for line in lines if b"Running in" in line)
    cid = running.split(b"Running in ")[1].split(b"\\n")[0].decode()[:12]

    def running() -> bool:
        try:
            return api.inspect_container(cid)["State"]["Running"]
        except docker.errors.NotFound:
            return False

    assert len(cid) == 12
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not running():  # the step's container is started
        time.sleep(0.05)
    assert running()
    response.close()
    deadline = time.monotonic() + 60  # a bound, not a timing claim: `sleep 300` must be killed
    while time.monotonic() < deadline and running():
        time.sleep(0.1)
    assert not running()
    with pytest.raises(docker.errors.ImageNotFound):
        api.inspect_image("pycancel:1")
    assert not [c for c in api.containers(all=True) if "echo never" in c["Command"]]


def test_link_local_ipv6_network_by_driver_option(api):
    """docker-compose's IPv6 networks: the `com.docker.network.enable_ipv6` driver option with a
    link-local subnet. The default route names the container's link, the only one a link-local
    gateway is reachable on; without an IPv6 subnet the option leaves the network IPv4-only, as in
    Docker 20.10 (which has no default IPv6 pools)."""
    from docker.types import IPAMConfig, IPAMPool

    option = {"com.docker.network.enable_ipv6": "true"}
    net = api.create_network(f"ll6-{os.urandom(3).hex()}", options=option, ipam=IPAMConfig(pool_configs=[
        IPAMPool(subnet="fe80::/64", gateway="fe80::1001:1")]))["Id"]
    plain = api.create_network(f"ll6-{os.urandom(3).hex()}", options=option)["Id"]
    container = None
    try:
        assert api.inspect_network(net)["EnableIPv6"] is True
        assert api.inspect_network(plain)["EnableIPv6"] is False
        container = api.create_container("busybox", "top", host_config=api.create_host_config(network_mode=net),
                                         networking_config=api.create_networking_config(
                                             {net: api.create_endpoint_config(ipv6_address="fe80::1001:102")}))
        api.start(container)
        endpoint = next(iter(api.inspect_container(container)["NetworkSettings"]["Networks"].values()))
        assert (endpoint["GlobalIPv6Address"], endpoint["IPv6Gateway"]) == ("fe80::1001:102", "fe80::1001:1")
        check = api.exec_create(container, ["sh", "-c", "ip -6 route | grep -q 'default via fe80::1001:1 dev eth0' "
                                                        "&& ping -6 -c1 -W5 -I eth0 fe80::1001:1"])
        api.exec_start(check)
        assert api.exec_inspect(check)["ExitCode"] == 0
        with pytest.raises(docker.errors.APIError, match="failed to parse com.docker.network.enable_ipv6 value"):
            api.create_network(f"ll6-{os.urandom(3).hex()}", options={"com.docker.network.enable_ipv6": "yes"})
    finally:
        if container:
            api.remove_container(container, force=True)
        api.remove_network(net)
        api.remove_network(plain)


def test_default_ipc_mode_follows_the_api_version(daemon, api):
    """dockerd's default IpcMode is "private"; clients older than API 1.40 (docker-compose 1.x) get
    "shareable", the default they knew, so another container can join such a container's IPC."""
    old = docker.APIClient(base_url=daemon.host, version="1.38", timeout=60)
    made = []
    try:
        donor = old.create_container("busybox", "top", host_config=old.create_host_config())["Id"]
        made.append(donor)
        private = api.create_container("busybox", "top", host_config=api.create_host_config())["Id"]
        made.append(private)
        bare = old.create_container("busybox", "top")["Id"]  # no HostConfig: the daemon's default
        made.append(bare)
        assert [api.inspect_container(c)["HostConfig"]["IpcMode"] for c in made] == ["shareable", "private",
                                                                                       "private"]
        api.start(donor)
        api.start(private)
        joiner = api.create_container("busybox", ["sh", "-c", "echo x > /dev/shm/mark"],
                                      host_config=api.create_host_config(ipc_mode=f"container:{donor}"))["Id"]
        made.append(joiner)
        api.start(joiner)
        assert api.wait(joiner)["StatusCode"] == 0
        check = api.exec_create(donor, ["cat", "/dev/shm/mark"])
        assert api.exec_start(check) == b"x\n"
        refused = api.create_container("busybox", "true",
                                       host_config=api.create_host_config(ipc_mode=f"container:{private}"))["Id"]
        made.append(refused)
        with pytest.raises(docker.errors.APIError, match="non-shareable IPC"):
            api.start(refused)
    finally:
        for c in made:
            api.remove_container(c, force=True)
        old.close()
