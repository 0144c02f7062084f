"""The real docker CLI (v28) against a private Dockyard daemon: real containers, Docker's output formats."""

import json
import re
import time

import pytest

PS_COLUMNS = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
EMPTY_PS_HEADER = "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES"


def out(result) -> str:
    return result.stdout.decode()


def err(result) -> str:
    return result.stderr.decode()


def all_ids(daemon) -> set[str]:
    r = daemon.docker("ps", "-aq", "--no-trunc")
    assert r.returncode == 0, err(r)
    return set(out(r).split())


def ps_row(daemon, name: str, *flags: str) -> tuple[str, str] | None:
    """(header, row) of ``docker ps`` for the container called ``name``, or None when it is not listed."""
    r = daemon.docker("ps", *flags)
    assert r.returncode == 0, err(r)
    header, *rows = out(r).splitlines()
    for row in rows:
        if row.split()[-1] == name:
            return header, row
    return None


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def assert_daemon_answers(daemon) -> None:
    r = daemon.docker("version")
    assert r.returncode == 0, err(r)


@pytest.fixture
def containers(daemon):
    """Names of containers the test creates; force-removed afterwards whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        daemon.docker("rm", "-f", name)


def test_run_prints_output_and_passes_exit_codes(daemon):
    before = all_ids(daemon)
    r = daemon.docker("run", "--rm", "busybox", "echo", "hello")
    assert r.returncode == 0, err(r)
    assert r.stdout == b"hello\n"
    assert r.stderr == b""
    r = daemon.docker("run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert r.returncode == 3, err(r)
    assert all_ids(daemon) == before  # --rm: the CLI returns only once the container is gone


def test_stdout_and_stderr_stay_apart(daemon):
    r = daemon.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert r.returncode == 0, err(r)
    assert r.stdout == b"out\n"
    assert r.stderr == b"err\n"


def test_interactive_stdin_is_piped_through(daemon):
    r = daemon.docker("run", "--rm", "-i", "busybox", "cat", input=b"line one\nline two\n")
    assert r.returncode == 0, err(r)
    assert r.stdout == b"line one\nline two\n"
    data = bytes(range(256)) * 1000  # binary, larger than any single frame or pipe buffer
    r = daemon.docker("run", "--rm", "-i", "busybox", "cat", input=data)
    assert r.returncode == 0, err(r)
    assert r.stdout == data


def test_detached_container_ps_logs_inspect_rm(daemon, containers):
    name = "compat-detached"
    containers.append(name)
    r = daemon.docker("run", "-d", "--name", name, "busybox", "sh", "-c", "echo hi; sleep 30")
    assert r.returncode == 0, err(r)
    cid = out(r).strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid), cid

    found = ps_row(daemon, name)
    assert found is not None, f"{name} not in docker ps"
    header, row = found
    assert row.startswith(cid[:12] + " ")
    status = row[header.index("STATUS"):header.index("PORTS")]
    assert status.startswith("Up "), row

    header, row = ps_row(daemon, name, "-a")
    assert header.startswith("CONTAINER ID")
    positions = [header.find(column) for column in PS_COLUMNS]
    assert -1 not in positions and positions == sorted(positions), header
    # tabwriter alignment: each value starts where its column title starts
    assert row[header.index("IMAGE"):].startswith("busybox ")
    assert row[header.index("COMMAND"):].startswith('"sh -c ')
    assert row[header.index("NAMES"):] == name

    assert wait_for(lambda: out(daemon.docker("logs", name)) == "hi\n"), daemon.docker("logs", name)

    r = daemon.docker("inspect", name)
    assert r.returncode == 0, err(r)
    [info] = json.loads(r.stdout)
    assert info["Id"] == cid
    assert info["Name"] == f"/{name}"
    assert info["State"]["Running"] is True
    assert info["State"]["Status"] == "running"
    r = daemon.docker("inspect", "-f", "{{.State.Running}}", name)
    assert r.returncode == 0, err(r)
    assert out(r) == "true\n"

    r = daemon.docker("rm", name)
    assert r.returncode == 1
    assert "You cannot remove a running container" in err(r)
    assert ps_row(daemon, name) is not None  # still there, still running

    r = daemon.docker("rm", "-f", name)
    assert r.returncode == 0, err(r)
    assert out(r) == f"{name}\n"
    assert ps_row(daemon, name, "-a") is None
    assert cid not in all_ids(daemon)


def test_ps_header_without_rows(daemon):
    r = daemon.docker("ps", "-a", "--filter", "name=^compat-no-such-container$")
    assert r.returncode == 0, err(r)
    assert out(r) == EMPTY_PS_HEADER + "\n"


def test_ps_filters_by_published_port_volume_and_network(daemon, containers):
    """`docker ps --filter publish=/expose=/volume=/network=` as Docker matches them."""
    web, db, net, vol = "compat-filter-web", "compat-filter-db", "compat-filter-net", "compat-filter-vol"
    containers += [web, db]

    def names(*filters: str) -> set[str]:
        r = daemon.docker("ps", "--format", "{{.Names}}", *(f"--filter={f}" for f in filters))
        assert r.returncode == 0, err(r)
        return set(out(r).split()) & {web, db}

    r = daemon.docker("network", "create", net)
    assert r.returncode == 0, err(r)
    net_id = out(r).strip()
    try:
        r = daemon.docker("run", "-d", "--name", web, "-p", "127.0.0.1::80", "--expose", "53/udp", "busybox",
                          "sleep", "60")
        assert r.returncode == 0, err(r)
        r = daemon.docker("run", "-d", "--name", db, "--network", net, "-v", f"{vol}:/data", "-v", "/tmp:/host-tmp",
                          "busybox", "sleep", "60")
        assert r.returncode == 0, err(r)
        host_port = int(out(daemon.docker("port", web, "80")).strip().rpartition(":")[2])
        assert names(f"publish={host_port}") == {web}
        assert names(f"publish={host_port}/tcp") == {web}
        assert names(f"publish={host_port - 1}-{host_port + 1}/tcp") == {web}
        assert names(f"publish={host_port}/udp") == set()
        assert names("publish=80") == set()  # the container's side of the mapping is `expose`
        assert names("expose=80") == {web}
        assert names("expose=53/udp") == {web}
        assert names(f"volume={vol}") == {db}
        assert names("volume=/data") == {db}
        assert names("volume=/tmp") == {db}  # a bind mount by its source
        assert names("volume=compat-filter-none") == set()
        assert names(f"network={net}") == {db}
        assert names(f"network={net_id[:12]}") == {db}
        assert names("network=bridge") == {web}
        assert names(f"network={net}", "network=bridge") == {web, db}
        r = daemon.docker("ps", "--filter", "publish=127.0.0.1:80")
        assert r.returncode != 0 and "should not contain ':'" in err(r), err(r)
    finally:
        daemon.docker("rm", "-f", web, db)
        daemon.docker("network", "rm", net)
        daemon.docker("volume", "rm", vol)


def test_exited_container_shows_its_exit_code(daemon, containers):
    name = "compat-exit3"
    containers.append(name)
    r = daemon.docker("run", "--name", name, "busybox", "sh", "-c", "exit 3")
    assert r.returncode == 3, err(r)
    found = ps_row(daemon, name, "-a")
    assert found is not None, f"{name} not in docker ps -a"
    header, row = found
    assert row[header.index("STATUS"):].startswith("Exited (3) "), row
    assert ps_row(daemon, name) is None  # not running, so not in plain docker ps
    r = daemon.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name)
    assert out(r) == "exited 3\n", err(r)


def test_images_and_image_inspect(daemon):
    r = daemon.docker("image", "inspect", "busybox")
    assert r.returncode == 0, err(r)
    [image] = json.loads(r.stdout)
    assert "busybox:latest" in image["RepoTags"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image["Id"]), image["Id"]
    assert len(image["RootFS"]["Layers"]) == 1
    assert image["Config"]["Cmd"] == ["sh"]

    r = daemon.docker("images")
    assert r.returncode == 0, err(r)
    header, *rows = out(r).splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    rows = [row.split() for row in rows]
    assert ["busybox", "latest", image["Id"][7:19]] in [row[:3] for row in rows], rows


def test_import_run_and_rmi(daemon, busybox_tar):
    ref = "compat/imported:v1"
    r = daemon.docker("import", "-c", 'CMD ["echo","imported"]', str(busybox_tar), ref)
    try:
        assert r.returncode == 0, err(r)
        image_id = out(r).strip()
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", image_id), image_id
        assert "compat/imported" in out(daemon.docker("images"))

        r = daemon.docker("run", "--rm", ref)
        assert r.returncode == 0, err(r)
        assert out(r) == "imported\n"

        r = daemon.docker("rmi", ref)
        assert r.returncode == 0, err(r)
        lines = out(r).splitlines()
        assert f"Untagged: {ref}" in lines, lines
        assert f"Deleted: {image_id}" in lines, lines
        assert "compat/imported" not in out(daemon.docker("images"))
        assert daemon.docker("image", "inspect", ref).returncode != 0
    finally:
        if daemon.docker("image", "inspect", ref).returncode == 0:
            daemon.docker("rmi", "-f", ref)


def test_rmi_refuses_an_image_a_container_uses(daemon, containers):
    name = "compat-uses-busybox"
    containers.append(name)
    r = daemon.docker("run", "--name", name, "busybox", "true")
    assert r.returncode == 0, err(r)
    busybox_id = json.loads(daemon.docker("image", "inspect", "busybox").stdout)[0]["Id"]
    try:
        r = daemon.docker("rmi", "busybox")
        assert r.returncode != 0
        assert "container" in err(r) and "is using its referenced image" in err(r), err(r)
        # nothing was untagged or deleted
        r = daemon.docker("image", "inspect", "busybox")
        assert r.returncode == 0, err(r)
        assert json.loads(r.stdout)[0]["Id"] == busybox_id
    finally:
        if daemon.docker("image", "inspect", "busybox:latest").returncode != 0:
            daemon.import_busybox()  # other tests share this daemon and need busybox


def test_version_and_info(daemon):
    r = daemon.docker("version")
    assert r.returncode == 0, err(r)
    text = out(r)
    assert "Server: Dockyard" in text
    server = text[text.index("Server:"):]
    assert re.search(r"API version:\s+1\.41\b", server), text  # the CLI negotiates down to the daemon's 1.41
    r = daemon.docker("info")
    assert r.returncode == 0, err(r)
    assert "Server Version:" in out(r)


def test_invalid_container_name(daemon):
    before = all_ids(daemon)
    r = daemon.docker("run", "--name", "bad!name", "busybox", "true")
    assert r.returncode == 125
    assert "Invalid container name" in err(r)
    assert all_ids(daemon) == before
    assert_daemon_answers(daemon)


def test_duplicate_container_name(daemon, containers):
    name = "compat-dup"
    containers.append(name)
    r = daemon.docker("run", "--name", name, "busybox", "true")
    assert r.returncode == 0, err(r)
    before = all_ids(daemon)
    r = daemon.docker("run", "--name", name, "busybox", "true")
    assert r.returncode == 125
    assert f'Conflict. The container name "/{name}" is already in use by container' in err(r), err(r)
    assert all_ids(daemon) == before
    assert_daemon_answers(daemon)


def test_missing_image(daemon):
    before = all_ids(daemon)
    r = daemon.docker("run", "compat-nosuchimage")
    assert r.returncode == 125
    assert "compat-nosuchimage" in err(r)
    assert all_ids(daemon) == before
    assert_daemon_answers(daemon)


def test_missing_command_exits_127_and_leaves_nothing(daemon):
    before = all_ids(daemon)
    r = daemon.docker("run", "--rm", "busybox", "nosuchcmd")
    assert r.returncode == 127, err(r)
    assert "executable file not found" in err(r)
    assert all_ids(daemon) == before
    assert_daemon_answers(daemon)


def test_inspect_of_unknown_object(daemon):
    # Without --type the CLI tries container, image, network, volume... and skips only "not found" answers.
    r = daemon.docker("inspect", "compat-no-such-object")
    assert r.returncode == 1
    assert "No such object: compat-no-such-object" in err(r), err(r)
