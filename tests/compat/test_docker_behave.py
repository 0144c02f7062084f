"""Behaviours a new user of Docker 20.10 relies on (issue 14, "Containers"), through the docker CLI
and docker-py against a private dockyardd."""

import io
import json
import shutil
import tarfile

import pytest
from waiting import until

RUNTIMES = ["dockyard", *[pytest.param(name, marks=pytest.mark.skipif(not shutil.which(name),
                                                                    reason=f"{name} not installed"))
                          for name in ("runc", "crun")]]


def run(daemon, *args, input=None):
    r = daemon.docker(*args, input=input)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def ok(daemon, *args, input=None) -> str:
    code, out, err = run(daemon, *args, input=input)
    assert code == 0, (args, out, err)
    return out


@pytest.fixture
def names(daemon):
    made = []
    yield made
    for name in made:
        daemon.docker("rm", "-f", name)


@pytest.fixture
def sdk(daemon):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host, version="auto", timeout=60)
    yield client
    client.close()


def test_empty_entrypoint_clears_the_images(daemon, names):
    names += ["bh-ep-img", "bh-ep"]
    ok(daemon, "create", "--name", "bh-ep-img", "busybox", "true")
    ok(daemon, "commit", "--change", 'ENTRYPOINT ["false"]', "bh-ep-img", "bh-entrypoint:1")
    try:
        assert ok(daemon, "run", "--rm", "--entrypoint", "", "bh-entrypoint:1", "whoami") == "root\n"
        ok(daemon, "create", "--name", "bh-ep", "--entrypoint", "", "bh-entrypoint:1", "echo", "x")
        assert ok(daemon, "inspect", "-f", "{{.Path}} {{json .Args}} {{json .Config.Entrypoint}}",
                  "bh-ep") == 'echo ["x"] null\n'
        code, _, err = run(daemon, "create", "--entrypoint", "", "bh-entrypoint:1")
        assert code != 0 and "No command specified" in err
    finally:
        daemon.docker("rm", "-f", "bh-ep")
        daemon.docker("rmi", "bh-entrypoint:1")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_home_comes_from_the_containers_passwd(daemon, runtime):
    def home(*args):
        return ok(daemon, "run", "--rm", "--runtime", runtime, *args, "busybox", "sh", "-c", "echo $HOME from a shell")

    assert home() == "/root from a shell\n"
    assert home("-u", "nobody") == "/home from a shell\n"  # busybox's passwd entry for nobody
    if runtime != "crun":  # crun leaves HOME empty for a user without an entry; runc (Docker's) says "/"
        assert home("-u", "4321") == "/ from a shell\n"
    assert home("-e", "HOME=/mine") == "/mine from a shell\n"


def test_home_in_an_exec_and_a_shell_form_cmd(daemon, names):
    names += ["bh-home", "bh-home-img"]
    ok(daemon, "create", "--name", "bh-home-img", "busybox", "true")
    ok(daemon, "commit", "--change", "CMD echo $HOME from a shell", "bh-home-img", "bh-home:1")
    try:
        assert ok(daemon, "run", "--rm", "bh-home:1") == "/root from a shell\n"
        ok(daemon, "run", "-d", "--name", "bh-home", "busybox", "sleep", "60")
        assert ok(daemon, "exec", "-u", "nobody", "bh-home", "sh", "-c", "echo $HOME") == "/home\n"
        assert "HOME=" not in ok(daemon, "inspect", "-f", "{{json .Config.Env}}", "bh-home")  # as Docker: runtime-set
    finally:
        daemon.docker("rm", "-f", "bh-home")
        daemon.docker("rmi", "bh-home:1")


def test_stop_sends_the_images_stopsignal(daemon, names):
    names += ["bh-quit-img", "bh-quit"]
    ok(daemon, "create", "--name", "bh-quit-img", "busybox", "true")
    # PID 1 ignores TERM (no handler) and exits 0 on QUIT: only the image's STOPSIGNAL stops it cleanly.
    ok(daemon, "commit", "--change", "STOPSIGNAL SIGQUIT", "--change",
       'CMD ["sh", "-c", "trap \\"echo quit; exit 0\\" QUIT; echo ready; while true; do sleep 0.1; done"]',
       "bh-quit-img", "bh-quit:1")
    try:
        ok(daemon, "run", "-d", "--name", "bh-quit", "bh-quit:1")
        assert until(lambda: "ready" in ok(daemon, "logs", "bh-quit"))
        assert ok(daemon, "stop", "bh-quit") == "bh-quit\n"
        assert ok(daemon, "inspect", "-f", "{{.Config.StopSignal}} {{.State.ExitCode}}", "bh-quit") == "SIGQUIT 0\n"
        assert ok(daemon, "logs", "bh-quit") == "ready\nquit\n"
    finally:
        daemon.docker("rm", "-f", "bh-quit")
        daemon.docker("rmi", "bh-quit:1")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_sys_fs_cgroup_is_the_containers_own(daemon, names, runtime):
    name = f"bh-cg-{runtime}"
    names.append(name)
    script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares "
              "/sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/pids/pids.max; "
              "mkdir /sys/fs/cgroup/memory/sub 2>&1 || true; touch /sys/fs/cgroup/x 2>&1 || true; sleep 60")
    ok(daemon, "run", "-d", "--name", name, "--runtime", runtime, "-m", "64m", "--cpu-shares", "512",
       "--cpuset-cpus", "0", "--pids-limit", "77", "busybox", "sh", "-c", script)
    assert until(lambda: len(ok(daemon, "logs", name).splitlines()) >= (6 if runtime == "dockyard" else 5))
    lines = ok(daemon, "logs", name).splitlines()
    assert lines[:4] == ["67108864", "512", "0", "77"]
    assert "Read-only file system" in lines[4]
    if runtime == "dockyard":  # runc and crun leave the tmpfs holding the hierarchies writable
        assert "Read-only file system" in lines[5]
    ok(daemon, "update", "-m", "32m", "--memory-swap", "64m", name)
    assert ok(daemon, "exec", name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes") == "33554432\n"
    # The container's own processes, not the host's: its cgroup.procs lists just its PID 1 and the exec.
    procs = ok(daemon, "exec", name, "cat", "/sys/fs/cgroup/pids/cgroup.procs").split()
    assert "1" in procs and len(procs) == 2


def test_privileged_and_private_cgroupns_views(daemon):
    assert ok(daemon, "run", "--rm", "--privileged", "busybox", "sh", "-c",
              "mkdir /sys/fs/cgroup/memory/sub && rmdir /sys/fs/cgroup/memory/sub && echo writable") == "writable\n"
    out = ok(daemon, "run", "--rm", "--cgroupns", "private", "-m", "32m", "busybox", "sh", "-c",
             "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; grep memory /proc/self/cgroup")
    limit, own = out.splitlines()
    assert limit == "33554432" and own.endswith(":memory:/")  # the namespace is rooted at its cgroup


@pytest.mark.parametrize("network", ["bridge", "none"])
def test_default_network_sysctls(daemon, network):
    script = ("cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range; "
              "nc -l -p 80 & sleep 0.2; netstat -ltn | grep -c ':80 '")
    out = ok(daemon, "run", "--rm", "--net", network, "-u", "nobody", "busybox", "sh", "-c", script)
    assert out.split("\n") == ["0", "0\t2147483647", "1", ""]  # a non-root process listens on port 80
    out = ok(daemon, "run", "--rm", "--net", network, "--sysctl", "net.ipv4.ip_unprivileged_port_start=1000",
             "busybox", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start")
    assert out == "1000\n"


def test_rm_of_a_paused_container(daemon, names):
    names.append("bh-paused")
    cid = ok(daemon, "run", "-d", "--name", "bh-paused", "busybox", "sleep", "60").strip()
    ok(daemon, "pause", "bh-paused")
    code, _, err = run(daemon, "rm", "bh-paused")
    assert code == 1 and err == (f"Error response from daemon: You cannot remove a paused container {cid}. Unpause "
                                 "and then stop the container before attempting removal or force remove\n")
    ok(daemon, "rm", "-f", "bh-paused")


def test_ps_command_quotes_and_latest(daemon, names):
    names += ["bh-cmd", *[f"bh-last{i}" for i in range(5)]]
    assert run(daemon, "run", "--name", "bh-cmd", "busybox", "sh", "-c", "exit 3")[0] == 3
    assert ok(daemon, "ps", "-a", "--filter", "name=bh-cmd", "--format", "{{.Command}}") == "\"sh -c 'exit 3'\"\n"
    ids = [ok(daemon, "create", "--name", f"bh-last{i}", "busybox", "true").strip() for i in range(5)]
    assert ok(daemon, "ps", "-l", "-q", "--no-trunc") == ids[-1] + "\n"
    listed = ok(daemon, "ps", "-a", "-q", "--no-trunc", "--filter", "name=bh-last").split()
    assert listed == ids[::-1]


def test_diff_of_an_untouched_container_is_empty(daemon, names):
    names.append("bh-diff")
    ok(daemon, "run", "-d", "--name", "bh-diff", "busybox", "sleep", "60")
    assert run(daemon, "diff", "bh-diff") == (0, "", "")


def test_host_network_discards_published_ports(daemon):
    code, out, err = run(daemon, "run", "--rm", "--net", "host", "-p", "80:80", "busybox", "echo", "ran")
    assert code == 0 and out == "ran\n"
    assert "WARNING: Published ports are discarded when using host network mode" in err
    code, _, err = run(daemon, "run", "--rm", "--net", "host", "--link", "x:y", "busybox", "true")
    assert code == 125 and "host type networking can't be used with links" in err


def test_kill_returns_once_the_exit_is_recorded(sdk):
    for _ in range(5):
        c = sdk.containers.run("busybox", ["sleep", "60"], detach=True)
        try:
            c.kill()
            c.reload()
            assert (c.attrs["State"]["Running"], c.attrs["State"]["ExitCode"]) == (False, 137)
        finally:
            c.remove(force=True)


def test_tty_exec_framing_follows_the_start_request(sdk):
    c = sdk.containers.run("busybox", "cat", detach=True, stdin_open=True)
    cmd = 'sh -c "echo hello out; sleep 0.2; echo hello err >&2"'
    try:
        api = sdk.api
        # docker-py's exec_start sends Tty false by default: Docker frames the TTY's output as stdout.
        assert api.exec_start(api.exec_create(c.id, cmd, tty=True)) == b"hello out\r\nhello err\r\n"
        assert api.exec_start(api.exec_create(c.id, cmd, tty=True), demux=True) == \
            (b"hello out\r\nhello err\r\n", None)
        streamed = b"".join(api.exec_start(api.exec_create(c.id, cmd, tty=True), stream=True))
        assert streamed == b"hello out\r\nhello err\r\n"
        for demux in (False, True):
            for stream in (False, True):
                result = c.exec_run(cmd, tty=True, demux=demux, stream=stream)
                output = result.output
                if stream:
                    output = b"".join((part[0] or b"") if demux else part for part in output)
                elif demux:
                    assert output[1] is None
                    output = output[0]
                assert output == b"hello out\r\nhello err\r\n", (demux, stream)
        assert c.exec_run(cmd, demux=True).output == (b"hello out\n", b"hello err\n")
    finally:
        c.remove(force=True)


def test_archive_inside_a_volume_running_or_stopped(sdk, tmp_path):
    volume = sdk.volumes.create("bh-vol1")
    ro = tmp_path / "ro"
    ro.mkdir()
    c = sdk.containers.run("busybox", ["sh", "-c", "echo data > /vol1/data.txt; sleep 60"], detach=True,
                           volumes={"bh-vol1": {"bind": "/vol1", "mode": "rw"}, str(ro): {"bind": "/ro", "mode": "ro"}})
    try:
        assert until(lambda: c.exec_run("cat /vol1/data.txt").output == b"data\n")
        for state in ("running", "stopped"):
            if state == "stopped":
                c.stop(timeout=0)
            chunks, stat = c.get_archive("/vol1/data.txt")
            with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
                assert tar.extractfile("data.txt").read() == b"data\n", state
            assert stat["name"] == "data.txt"
            payload = io.BytesIO()
            with tarfile.open(fileobj=payload, mode="w") as tar:
                info = tarfile.TarInfo(f"{state}.txt")
                info.size = 3
                tar.addfile(info, io.BytesIO(b"put"))
            assert c.put_archive("/vol1", payload.getvalue())
            with pytest.raises(Exception, match="mounted volume is marked read-only"):
                c.put_archive("/ro", payload.getvalue())
        c.start()
        assert c.exec_run("ls /vol1").output.split() == [b"data.txt", b"running.txt", b"stopped.txt"]
        assert not list(ro.iterdir())
    finally:
        c.remove(force=True)
        volume.remove()


def test_json_file_with_only_max_file(daemon, names):
    names.append("bh-log")
    ok(daemon, "run", "--name", "bh-log", "--log-driver", "json-file", "--log-opt", "max-file=3", "busybox",
       "echo", "logged")
    assert ok(daemon, "logs", "bh-log") == "logged\n"
    assert json.loads(ok(daemon, "inspect", "-f", "{{json .HostConfig.LogConfig}}", "bh-log")) == \
        {"Type": "json-file", "Config": {"max-file": "3"}}


def test_network_names_options_and_one_endpoint_at_create(daemon, sdk):
    ok(daemon, "network", "create", "test 01")
    try:
        view = json.loads(ok(daemon, "network", "inspect", "test 01"))[0]
        assert view["Name"] == "test 01" and view["Options"] == {} and view["IPAM"]["Options"] == {}
        assert ok(daemon, "run", "--rm", "--network", "test 01", "busybox", "echo", "joined") == "joined\n"
        code, _, err = run(daemon, "network", "create", " ")
        assert code != 0 and "invalid name:" in err
        api = sdk.api
        # docker-py sends no IPAM options: Docker echoes null, and its driver Options as {}.
        net_id = api.create_network("bh-pynet", ipam={"Driver": "default", "Config": []})["Id"]
        try:
            view = api.inspect_network(net_id)
            assert view["IPAM"]["Options"] is None and view["Options"] == {}
            config = {"bh-pynet": api.create_endpoint_config(aliases=["a"]), "test 01": api.create_endpoint_config()}
            with pytest.raises(Exception, match="Container cannot be connected to network endpoints: bh-pynet, "
                                                "test 01"):
                sdk.containers.run("busybox", "true", network="bh-pynet", networking_config=config)
        finally:
            api.remove_network(net_id)
    finally:
        daemon.docker("network", "rm", "test 01")


def test_a_network_that_does_not_exist_yet_fails_the_start_not_the_create(daemon, names):
    """As Docker 20.10: create keeps the endpoint asked for (NetworkID empty); start looks the network
    up again, so it fails while the network is missing and works once it exists."""
    names.append("bh-later")
    ok(daemon, "create", "--name", "bh-later", "--network", "bh-later-net", "--network-alias", "x",
       "busybox", "true")
    endpoint = json.loads(ok(daemon, "inspect", "bh-later"))[0]["NetworkSettings"]["Networks"]["bh-later-net"]
    assert (endpoint["NetworkID"], endpoint["Aliases"]) == ("", ["x"])
    code, _, err = run(daemon, "start", "bh-later")
    assert code != 0 and "network bh-later-net not found" in err
    ok(daemon, "network", "create", "bh-later-net")
    try:
        ok(daemon, "start", "-a", "bh-later")
        endpoint = json.loads(ok(daemon, "inspect", "bh-later"))[0]["NetworkSettings"]["Networks"]["bh-later-net"]
        assert endpoint["NetworkID"] == json.loads(ok(daemon, "network", "inspect", "bh-later-net"))[0]["Id"]
    finally:
        daemon.docker("rm", "-f", "bh-later")
        daemon.docker("network", "rm", "bh-later-net")


def test_network_connect_links_and_mac_address(sdk):
    api = sdk.api
    net_id = api.create_network("bh-linknet")["Id"]
    made = []
    try:
        made.append(api.create_container("busybox", "top")["Id"])
        api.connect_container_to_network(made[0], "bh-linknet", mac_address="02:42:ac:11:00:02",
                                         links=[("bh-upstream", "bar")])
        endpoint = api.inspect_container(made[0])["NetworkSettings"]["Networks"]["bh-linknet"]
        assert endpoint["MacAddress"] == "02:42:ac:11:00:02" and endpoint["Links"] == ["bh-upstream:bar"]
        api.start(made[0])
        endpoint = api.inspect_container(made[0])["NetworkSettings"]["Networks"]["bh-linknet"]
        assert endpoint["MacAddress"] == "02:42:ac:11:00:02"
        made.append(api.create_container("busybox", "top", name="bh-upstream",
                                         host_config=api.create_host_config(network_mode="bh-linknet"))["Id"])
        api.start(made[1])
        upstream_ip = api.inspect_container(made[1])["NetworkSettings"]["Networks"]["bh-linknet"]["IPAddress"]
        container = sdk.containers.get(made[0])
        code, output = container.exec_run(["sh", "-c", "nslookup bar; cat /sys/class/net/eth1/address"])
        assert code == 0 and f"Address: {upstream_ip}" in output.decode(), output
        assert output.decode().endswith("02:42:ac:11:00:02\n")
        with pytest.raises(Exception, match="invalid MAC address: nope"):
            api.connect_container_to_network(made[1], "bridge", mac_address="nope")
    finally:
        for cid in made:
            api.remove_container(cid, force=True)
        api.remove_network(net_id)


def test_a_named_subnet_only_has_to_be_free_among_the_daemons_networks(daemon):
    """libnetwork refuses a subnet the user names only when one of its own networks overlaps it; a
    host route (another daemon's bridge) only steers the automatic choice."""
    import os
    import subprocess

    from netstate import free_prefix

    prefix, link = free_prefix(), "dyt" + os.urandom(3).hex()
    subprocess.run(["ip", "link", "add", link, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{prefix}.1/24", "dev", link], check=True)
        subprocess.run(["ip", "link", "set", link, "up"], check=True)
        ok(daemon, "network", "create", "--subnet", f"{prefix}.0/24", "bh-routed")
        code, _, err = run(daemon, "network", "create", "--subnet", f"{prefix}.128/25", "bh-inside")
        assert code != 0 and "Pool overlaps with other one on this address space" in err
        ok(daemon, "network", "rm", "bh-routed")
    finally:
        subprocess.run(["ip", "link", "del", link], check=False)


def test_endpoint_settings_echo_as_docker_20_10(sdk):
    """Aliases keep the client's order with the short ID after them; DriverOpts and the network's
    AuxiliaryAddresses come back as given (the auxiliary address is never handed out)."""
    api = sdk.api
    from netstate import free_prefix

    prefix = free_prefix()
    pool = {"Subnet": f"{prefix}.0/24", "IPRange": f"{prefix}.0/29", "AuxiliaryAddresses": {"router": f"{prefix}.2"}}
    net_id = api.create_network("bh-epnet", ipam={"Driver": "default", "Config": [pool]})["Id"]
    made = []
    try:
        config = api.inspect_network(net_id)["IPAM"]["Config"][0]
        assert config["AuxiliaryAddresses"] == {"router": f"{prefix}.2"}
        c = sdk.containers.run("busybox", "sleep 60", detach=True, network="bh-epnet", networking_config={
            "bh-epnet": api.create_endpoint_config(aliases=["hello"], driver_opt={"key1": "a"})})
        made.append(c)
        c.reload()
        endpoint = c.attrs["NetworkSettings"]["Networks"]["bh-epnet"]
        assert endpoint["Aliases"] == ["hello", c.id[:12]] and endpoint["DriverOpts"] == {"key1": "a"}
        assert endpoint["IPAddress"] == f"{prefix}.3"  # .1 is the gateway, .2 the auxiliary address
        with pytest.raises(Exception, match="must belong to the master pool"):
            api.create_network("bh-badaux", ipam={"Driver": "default", "Config": [
                {"Subnet": f"{free_prefix()}.0/24", "AuxiliaryAddresses": {"x": "192.0.2.1"}}]})
    finally:
        for c in made:
            c.remove(force=True)
        api.remove_network(net_id)


def test_rm_link_and_link_names(daemon, names):
    names += ["bh-lk1", "bh-lk2"]
    ok(daemon, "run", "-d", "--name", "bh-lk1", "busybox", "sleep", "60")
    ok(daemon, "create", "--name", "bh-lk2", "--link", "bh-lk1:mylink", "busybox", "true")
    assert ok(daemon, "inspect", "-f", "{{json .HostConfig.Links}}", "bh-lk2") == '["/bh-lk1:/bh-lk2/mylink"]\n'
    listed = ok(daemon, "ps", "-a", "--no-trunc", "--filter", "name=bh-lk", "--format", "{{.Names}}").split()
    assert sorted(listed) == ["bh-lk1,bh-lk2/mylink", "bh-lk2"]
    assert "bh-lk2/mylink" not in ok(daemon, "ps", "-a", "--filter", "name=bh-lk1", "--format", "{{.Names}}")
    assert ok(daemon, "rm", "--link", "bh-lk2/mylink") == "bh-lk2/mylink\n"
    assert ok(daemon, "inspect", "-f", "{{json .HostConfig.Links}}", "bh-lk2") == "null\n"
    assert ok(daemon, "ps", "-a", "--no-trunc", "--filter", "name=bh-lk1", "--format", "{{.Names}}") == "bh-lk1\n"
    for link, message in (("bh-lk2/nope", "No such container: bh-lk2/nope"),
                          ("bh-lk1", "Conflict, cannot remove the default link name of the container")):
        code, _, err = run(daemon, "rm", "--link", link)
        assert code == 1 and message in err
