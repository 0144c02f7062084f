"""`dockyard machine`: three hosts on this box, each a network namespace with its own dockyardd,
driven through the real docker CLI with `eval $(dockyard machine env NAME)`.

The machines' store is under a private host daemon's data root; the underlay gets a bridge and a
/24 of the module's own, so these tests run beside others. Everything (namespaces, veths, mounts,
cgroups, netfilter chains, processes) is checked gone after `rm`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import BIN, DOCKER_CLI, PrivateDaemon
from netstate import free_port_pair, free_prefix
from waiting import until

NAMES = ("m1", "m2", "m3")
HTTPD = "mkdir -p /www && echo hello-from-$0 > /www/index.html && exec httpd -f -p 80 -h /www"
# The same server, ending on SIGTERM (httpd as PID 1 ignores it and would wait out a stop's 10 s).
HTTPD_TERM = "mkdir -p /www; echo hello-from-$0 > /www/index.html; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"
RETRY = "for i in $(seq 50); do {cmd} && exit 0; sleep 0.1; done; exit 1"
REGISTRY_CONFIG = """version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
"""


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")
    return result.stdout.decode()


class Fleet:
    """The machines of this module: their store, underlay, and the clients pointed at them."""

    def __init__(self, host: PrivateDaemon) -> None:
        self.host = host
        self.storage = os.path.join(host.data_root, "machine")
        self.bridge = f"dymt{os.urandom(3).hex()}"
        self.prefix = free_prefix()
        self.cidr = f"{self.prefix}.1/24"
        self.docker_config = os.path.join(host.dir, "docker-config")

    def machine(self, *args: str, input: bytes | None = None, env: dict | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        environment.update({"NETNS_UNDERLAY_BRIDGE": self.bridge, "NETNS_UNDERLAY_CIDR": self.cidr,
                            "SHELL": "/bin/bash", **(env or {})})
        return subprocess.run([str(BIN / "dockyard"), "machine", "-s", self.storage, *args], input=input,
                              capture_output=True, timeout=timeout, env=environment)

    def env(self, name: str) -> dict[str, str]:
        """What `eval $(dockyard machine env NAME)` exports."""
        found = {}
        for line in ok(self.machine("env", name)).splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export "):].partition("=")
                found[key] = value.strip('"')
        return found

    def docker(self, name: str, *args: str, input: bytes | None = None, timeout: float = 120):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        environment.update(self.env(name), DOCKER_CONFIG=self.docker_config)
        return subprocess.run([DOCKER_CLI, *args], input=input, capture_output=True, timeout=timeout,
                              env=environment)

    def ip(self, name: str) -> str:
        return ok(self.machine("ip", name)).strip()

    def record(self, name: str) -> dict:
        return json.loads(ok(self.machine("inspect", name)))

    def key(self, name: str) -> str:
        return self.record(name)["Driver"]["Key"]


def leftovers(fleet: Fleet, keys: list[str]) -> list[str]:
    """What the removed machines left on the host."""
    found = []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [f"link dym{k}" for k in keys if f"dym{k}" in links]
    if fleet.bridge in links:
        found.append(f"underlay bridge {fleet.bridge}")
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    found += [f"rule {line}" for line in rules.splitlines() if fleet.bridge in line]
    with open("/proc/self/mountinfo") as f:
        mounts = f.read()
    found += [f"mount {line}" for line in mounts.splitlines()
              if fleet.storage in line or any(f"/run/dym/{k}" in line for k in keys)]
    found += [f"run dir {k}" for k in keys if os.path.exists(f"/run/dym/{k}")]
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        found += [f"cgroup {hierarchy / 'dockyard-machines' / k}" for k in keys
                  if (hierarchy / "dockyard-machines" / k).exists()]
    procs = subprocess.run(["pgrep", "-af", fleet.storage], capture_output=True, text=True).stdout
    found += [f"process {line}" for line in procs.splitlines() if "pgrep" not in line]
    return found


def registry_image() -> bytes:
    """An image tarball (for `docker import`) of Debian's docker-registry: the binary, the two
    libraries it links, and a config serving plain HTTP on :5000."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not os.path.exists(binary):
        pytest.fail("docker-registry is not installed: `make test` installs it (apt-get install docker-registry)")
    libraries = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    files = {"/bin/registry": binary}
    for line in libraries.splitlines():
        path = line.split("=>")[-1].split("(")[0].strip()
        if path.startswith("/"):
            files[path] = path
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("etc", "etc/docker", "etc/docker/registry", "var", "var/lib", "var/lib/registry", "tmp"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for target, source in files.items():
            tar.add(os.path.realpath(source), arcname=target.lstrip("/"))
        config = REGISTRY_CONFIG.encode()
        info = tarfile.TarInfo("etc/docker/registry/config.yml")
        info.size = len(config)
        tar.addfile(info, io.BytesIO(config))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def fleet(busybox_tar):
    host = PrivateDaemon(busybox_tar).start()
    host.import_busybox()
    fleet = Fleet(host)
    try:
        def create(name: str) -> subprocess.CompletedProcess:
            extra = ["--engine-label", "role=front"] if name == "m1" else []
            return fleet.machine("create", "--engine-insecure-registry", f"{fleet.prefix}.0/24", *extra, name)

        with ThreadPoolExecutor(3) as pool:
            for result in pool.map(create, NAMES):
                ok(result)
        busybox = busybox_tar.read_bytes()
        for name in NAMES:
            ok(fleet.docker(name, "import", "-c", 'CMD ["sh"]', "-", "busybox:latest", input=busybox))
        yield fleet
    finally:
        fleet.machine("rm", "-f", *fleet.machine("ls", "-q").stdout.decode().split())
        host.cleanup()


def test_three_machines_each_run_containers(fleet):
    table = ok(fleet.machine("ls")).splitlines()
    assert table[0].split() == ["NAME", "ACTIVE", "DRIVER", "STATE", "URL", "DOCKER", "ERRORS"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert sorted(rows) == list(NAMES)
    addresses = set()
    for name in NAMES:
        _, active, driver, state, url, version = rows[name]
        assert (active, driver, state) == ("-", "netns", "Running")
        assert url == f"tcp://{fleet.ip(name)}:2376" and url.startswith(f"tcp://{fleet.prefix}.")
        assert version.startswith("v")
        addresses.add(url)
        # The real docker CLI over mutual TLS, set up the way users do it.
        script = (f"eval $({BIN}/dockyard machine -s {fleet.storage} env {name}) && "
                  f"{DOCKER_CLI} info --format '{{{{.Name}}}}' && "
                  f"{DOCKER_CLI} run --rm busybox echo ran-on-$DOCKER_MACHINE_NAME")
        out = ok(subprocess.run(["bash", "-c", script], capture_output=True, timeout=60,
                                env={**{k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")},
                                     "DOCKER_CONFIG": fleet.docker_config}))
        assert out.split() == [name, f"ran-on-{name}"]
    assert len(addresses) == 3
    # Containers are per machine; the machine's engine has its label.
    ok(fleet.docker("m1", "create", "--name", "only-on-m1", "busybox", "true"))
    assert "only-on-m1" in ok(fleet.docker("m1", "ps", "-a", "--format", "{{.Names}}"))
    assert "only-on-m1" not in ok(fleet.docker("m2", "ps", "-a", "--format", "{{.Names}}"))
    ok(fleet.docker("m1", "rm", "only-on-m1"))
    assert "role=front" in ok(fleet.docker("m1", "info", "--format", "{{json .Labels}}"))


def test_published_port_of_one_machine_reached_from_another(fleet):
    ok(fleet.docker("m1", "run", "-d", "--name", "web", "-p", "8080:80", "busybox", "sh", "-c", HTTPD, "m1"))
    try:
        url = f"http://{fleet.ip('m1')}:8080/"
        out = ok(fleet.docker("m2", "run", "--rm", "busybox", "sh", "-c",
                              RETRY.format(cmd=f"wget -qO- {url}")))
        assert "hello-from-m1" in out
    finally:
        fleet.docker("m1", "rm", "-f", "web")


def test_machines_reach_the_host_and_nothing_beyond_the_underlay(fleet):
    port = free_port_pair()
    ok(fleet.host.docker("run", "-d", "--name", "host-web", "-p", f"{port}:80", "busybox", "sh", "-c", HTTPD, "host"))
    try:
        # The host's published ports on its underlay address, as a VirtualBox VM reaches them.
        url = f"http://{fleet.prefix}.1:{port}/"
        assert "hello-from-host" in ok(fleet.docker("m2", "run", "--rm", "busybox", "sh", "-c",
                                                    RETRY.format(cmd=f"wget -qO- {url}")))
    finally:
        fleet.host.docker("rm", "-f", "host-web")
    assert "default" not in ok(fleet.machine("ssh", "m2", "ip route"))
    forward = subprocess.run(["iptables", "-S", f"DYM-FWD-{fleet.bridge}"], capture_output=True, text=True).stdout
    assert f"-A DYM-FWD-{fleet.bridge} -i {fleet.bridge} -j DROP" in forward
    assert f"-A DYM-FWD-{fleet.bridge} -o {fleet.bridge} -j DROP" in forward


def test_push_on_one_machine_pull_on_another(fleet):
    ok(fleet.docker("m1", "import", "-c", 'CMD ["/bin/registry", "serve", "/etc/docker/registry/config.yml"]', "-",
                    "registry:machines", input=registry_image()))
    ok(fleet.docker("m1", "run", "-d", "--name", "registry", "-p", "5000:5000", "registry:machines"))
    try:
        registry = f"{fleet.ip('m1')}:5000"
        # From m2, wait until the registry answers, then push m2's busybox to it.
        ok(fleet.docker("m2", "run", "--rm", "busybox", "sh", "-c",
                        RETRY.format(cmd=f"wget -qO- http://{registry}/v2/ >/dev/null")))
        ok(fleet.docker("m2", "tag", "busybox:latest", f"{registry}/shared/busybox:1"))
        ok(fleet.docker("m2", "push", f"{registry}/shared/busybox:1"))
        assert ok(fleet.docker("m3", "images", "-q", f"{registry}/shared/busybox")).strip() == ""
        ok(fleet.docker("m3", "pull", f"{registry}/shared/busybox:1"))
        assert ok(fleet.docker("m3", "run", "--rm", f"{registry}/shared/busybox:1", "echo", "pulled")).strip() \
            == "pulled"
    finally:
        fleet.docker("m1", "rm", "-f", "registry")


def test_stop_and_start_keep_images_and_containers(fleet):
    ok(fleet.docker("m3", "run", "-d", "--name", "sleeper", "busybox", "sh", "-c",
                    'trap "exit 3" TERM; sleep 1000 & wait'))
    before = fleet.key("m3")
    out = ok(fleet.machine("stop", "m3"))
    assert out.splitlines() == ['Stopping "m3"...', 'Machine "m3" was stopped.']
    assert ok(fleet.machine("status", "m3")).strip() == "Stopped"
    assert fleet.machine("ls", "--filter", "state=Stopped", "-q").stdout.decode().split() == ["m3"]
    assert not os.path.exists(f"/run/dym/{before}")  # a stopped machine holds no namespace
    assert "is not running" in fleet.machine("env", "m3").stderr.decode()
    again = fleet.machine("stop", "m3")
    assert again.returncode == 1 and 'Machine "m3" is already stopped.' in again.stderr.decode()
    ok(fleet.machine("start", "m3"))
    state = ok(fleet.docker("m3", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "sleeper")).split()
    assert state == ["exited", "3"]  # stopped as a host shuts down: SIGTERM, and the exit recorded
    assert ok(fleet.docker("m3", "run", "--rm", "busybox", "echo", "still-here")).strip() == "still-here"
    ok(fleet.docker("m3", "rm", "sleeper"))
    # kill: pulled plug, then back on start.
    assert ok(fleet.machine("kill", "m2")).splitlines()[-1] == 'Machine "m2" was killed.'
    assert ok(fleet.machine("status", "m2")).strip() == "Stopped"
    ok(fleet.machine("start", "m2"))
    assert ok(fleet.docker("m2", "run", "--rm", "busybox", "echo", "back")).strip() == "back"
    # An engine that dies leaves the machine in Error, saying why; start brings it back.
    pid = int(Path(f"/run/dym/{fleet.key('m2')}/dockyardd.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    for _ in range(500):
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
        except FileNotFoundError:
            break
        time.sleep(0.01)
    row = ok(fleet.machine("ls", "--filter", "name=m2", "--format", "{{.State}}|{{.Error}}")).strip()
    assert row.startswith("Error|dockyardd of m2 is not running")
    ok(fleet.machine("start", "m2"))
    assert ok(fleet.docker("m2", "run", "--rm", "busybox", "echo", "again")).strip() == "again"


def test_machines_survive_a_restart_of_the_host_daemon(fleet):
    ok(fleet.docker("m1", "run", "-d", "--name", "long", "-p", "8082:80", "busybox", "sh", "-c", HTTPD_TERM, "m1"))
    try:
        fleet.host.stop()
        fleet.host.start()
        table = ok(fleet.machine("ls", "--format", "{{.Name}} {{.State}}")).splitlines()
        assert table == ["m1 Running", "m2 Running", "m3 Running"]
        assert ok(fleet.docker("m1", "inspect", "-f", "{{.State.Running}}", "long")).strip() == "true"
        # The underlay still carries machine-to-machine traffic.
        url = f"http://{fleet.ip('m1')}:8082/"
        assert "hello-from-m1" in ok(fleet.docker("m2", "run", "--rm", "busybox", "sh", "-c",
                                                  RETRY.format(cmd=f"wget -qO- {url}")))
        # restart: the engine comes back with its containers stopped as a rebooted host's are.
        ok(fleet.machine("restart", "m1"))
        assert ok(fleet.docker("m1", "inspect", "-f", "{{.State.Status}}", "long")).strip() == "exited"
    finally:
        fleet.docker("m1", "rm", "-f", "long")


def test_commands_print_what_docker_machine_prints(fleet):
    ip = fleet.ip("m1")
    directory = os.path.join(fleet.storage, "machines", "m1")
    assert ok(fleet.machine("url", "m1")).strip() == f"tcp://{ip}:2376"
    assert ok(fleet.machine("version", "m1")).strip() == ok(fleet.docker("m1", "version", "-f",
                                                                        "{{.Server.Version}}")).strip()
    assert "Get the URL of a machine" in ok(fleet.machine("help", "url"))
    assert ok(fleet.machine("ip", "m1", "m2")).split() != []
    assert ok(fleet.machine("inspect", "-f", "{{.Driver.IPAddress}}", "m1")).strip() == ip
    record = fleet.record("m1")
    assert record["DriverName"] == "netns" and record["Name"] == "m1"
    assert record["HostOptions"]["EngineOptions"]["Labels"] == ["role=front"]
    assert ok(fleet.machine("config", "m1")) == (f'--tlsverify\n--tlscacert="{directory}/ca.pem"\n'
                                                 f'--tlscert="{directory}/cert.pem"\n--tlskey="{directory}/key.pem"\n'
                                                 f"-H=tcp://{ip}:2376\n")
    env = ok(fleet.machine("env", "m1"))
    assert env == (f'export DOCKER_TLS_VERIFY="1"\nexport DOCKER_HOST="tcp://{ip}:2376"\n'
                   f'export DOCKER_CERT_PATH="{directory}"\nexport DOCKER_MACHINE_NAME="m1"\n'
                   "# Run this command to configure your shell: \n"
                   f"# eval $(dockyard machine -s {fleet.storage} env m1)\n")
    fish = ok(fleet.machine("env", "--shell", "fish", "m1"))
    assert f'set -gx DOCKER_HOST "tcp://{ip}:2376";' in fish
    assert ok(fleet.machine("env", "-u")).splitlines()[:4] == ["unset DOCKER_TLS_VERIFY", "unset DOCKER_HOST",
                                                              "unset DOCKER_CERT_PATH", "unset DOCKER_MACHINE_NAME"]
    assert ok(fleet.machine("active", env={"DOCKER_HOST": f"tcp://{ip}:2376"})).strip() == "m1"
    none = fleet.machine("active")
    assert none.returncode == 1 and none.stderr.decode().strip() == "No active host found"
    active = ok(fleet.machine("ls", env={"DOCKER_HOST": f"tcp://{ip}:2376"})).splitlines()[1].split()
    assert active[:2] == ["m1", "*"]
    assert ok(fleet.machine("ls", "--filter", "label=role=front", "-q")).split() == ["m1"]
    assert ok(fleet.machine("ls", "--filter", "name=m[23]", "-q")).split() == ["m2", "m3"]
    # ssh: a shell in the machine's namespaces (its hostname, its address), talking to its engine.
    out = ok(fleet.machine("ssh", "m2", "hostname; ip -4 -o addr show eth0; echo spot > dog.file"))
    assert out.split()[0] == "m2" and fleet.ip("m2") in out
    assert "m2" in ok(fleet.machine("ssh", "m2", "docker", "info", "--format", "{{.Name}}"))
    # New certificates: the engine restarts with them (its containers run on) and clients still connect.
    ok(fleet.docker("m2", "run", "-d", "--name", "through", "busybox", "sleep", "1000"))
    out = ok(fleet.machine("regenerate-certs", "-f", "m2"))
    assert "Regenerating TLS certificates" in out and "Restarting docker..." in out
    assert ok(fleet.docker("m2", "inspect", "-f", "{{.State.Running}}", "through")).strip() == "true"
    ok(fleet.docker("m2", "rm", "-f", "through"))
    # scp between machines, as the book does: the file lands in the other machine's home.
    ok(fleet.machine("scp", "m2:dog.file", "m3:dog.file"))
    assert ok(fleet.machine("ssh", "m3", "cat dog.file")).strip() == "spot"


def test_bad_input_is_refused_and_changes_nothing(fleet):
    before = ok(fleet.machine("ls", "-q")).split()
    bad = fleet.machine("create", "bad_name")
    assert bad.returncode == 1 and "Invalid hostname specified" in bad.stderr.decode()
    exists = fleet.machine("create", "m1")
    assert exists.returncode == 1 and 'Docker machine "m1" already exists' in exists.stderr.decode()
    typo = fleet.machine("create", "--engine-opt", "no-such-flag=1", "m9")
    assert typo.returncode == 1 and "no-such-flag" in typo.stderr.decode()
    clash = fleet.machine("create", "--netns-underlay-cidr", "10.300.0.1/24", "m9")
    assert clash.returncode == 1 and "--netns-underlay-cidr" in clash.stderr.decode()
    missing = fleet.machine("status", "nope")
    assert missing.returncode == 1 and 'Docker machine "nope" does not exist' in missing.stderr.decode()
    running = fleet.machine("start", "m1")
    assert running.returncode == 1 and 'Machine "m1" is already running.' in running.stderr.decode()
    assert ok(fleet.machine("ls", "-q")).split() == before
    assert not os.path.exists(os.path.join(fleet.storage, "machines", "m9"))


def test_provision_and_upgrade_restart_the_engine_and_keep_containers(fleet):
    def engine_pid() -> int:
        return int(Path(f"/run/dym/{fleet.key('m3')}/dockyardd.pid").read_text())

    ok(fleet.docker("m3", "run", "-d", "--name", "through", "busybox", "sleep", "1000"))
    try:
        before, serial = engine_pid(), Path(fleet.storage, "machines", "m3", "server.pem").read_bytes()
        out = ok(fleet.machine("provision", "m3")).splitlines()
        assert out == ["(m3) Copying certs to the local machine directory...",
                       "(m3) Setting Docker configuration on the remote daemon..."]
        assert Path(fleet.storage, "machines", "m3", "server.pem").read_bytes() != serial  # a new certificate
        after = engine_pid()
        assert after != before
        assert ok(fleet.docker("m3", "inspect", "-f", "{{.State.Running}}", "through")).strip() == "true"
        # upgrade: the engine again, on the host's installed dockyardd; the container still runs.
        assert ok(fleet.machine("upgrade", "m3")).splitlines() == ["Upgrading docker...", "Restarting docker..."]
        assert engine_pid() != after
        assert Path(f"/proc/{engine_pid()}/cmdline").read_bytes().split(b"\0")[1] == bytes(BIN / "dockyardd")
        assert ok(fleet.docker("m3", "inspect", "-f", "{{.State.Running}}", "through")).strip() == "true"
    finally:
        fleet.docker("m3", "rm", "-f", "through")
    # A stopped machine: provision needs it running; upgrade starts it first.
    ok(fleet.machine("stop", "m3"))
    refused = fleet.machine("provision", "m3")
    assert refused.returncode == 1 and 'Host "m3" is not running' in refused.stderr.decode()
    out = ok(fleet.machine("upgrade", "m3")).splitlines()
    assert out[0] == "Starting machine so machine can be upgraded..." and out[-1] == "Restarting docker..."
    assert ok(fleet.machine("status", "m3")).strip() == "Running"
    assert ok(fleet.docker("m3", "run", "--rm", "busybox", "echo", "upgraded")).strip() == "upgraded"


def test_mount_says_the_netns_driver_shares_the_host_filesystem(fleet):
    home = os.path.join(fleet.storage, "machines", "m2", "home")
    out = fleet.machine("mount", "m2:data", "/mnt/nowhere")
    assert out.returncode == 1
    assert out.stderr.decode().strip() == (
        'Driver "netns" does not support mount: a netns machine shares the host\'s filesystem (it has no mount '
        f"namespace), so m2:data is {home}/data on this host; use that path, or `mount --bind {home}/data "
        "/mnt/nowhere`")
    assert not os.path.exists("/mnt/nowhere")
    usage = fleet.machine("mount", "m2:data")
    assert usage.returncode == 1 and "Expected two arguments" in usage.stderr.decode()


def test_the_host_daemon_puts_back_underlay_rules_another_program_removed(fleet):
    """`dockyard machine` writes the underlay's rules and exits; the host's dockyardd keeps them (its
    data root holds the store) as it keeps its own, and says so in its log."""
    forward = f"DYM-FWD-{fleet.bridge}"
    rule = [forward, "-i", fleet.bridge, "-o", fleet.bridge, "-j", "ACCEPT"]
    jump = ["FORWARD", "-j", forward]
    for removed in (rule, jump):
        ok(subprocess.run(["iptables", "-w", "-D", *removed], capture_output=True))

    def back() -> bool:
        return all(subprocess.run(["iptables", "-w", "-C", *kept], capture_output=True).returncode == 0
                   for kept in (rule, jump))

    assert until(back, timeout=60), subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    assert until(lambda: f"jump '-A FORWARD -j {forward}' of the machine underlay {fleet.bridge}" in fleet.host.log())
    said = [line for line in fleet.host.log().splitlines() if f"of the machine underlay {fleet.bridge}" in line]
    assert any("restored rule" in line and "(removed by another program)" in line for line in said), said
    # Machine to machine traffic crosses FORWARD again.
    ok(fleet.docker("m1", "run", "-d", "--name", "kept", "-p", "8083:80", "busybox", "sh", "-c", HTTPD, "m1"))
    try:
        url = f"http://{fleet.ip('m1')}:8083/"
        assert "hello-from-m1" in ok(fleet.docker("m2", "run", "--rm", "busybox", "sh", "-c",
                                                  RETRY.format(cmd=f"wget -qO- {url}")))
    finally:
        fleet.docker("m1", "rm", "-f", "kept")


def test_the_host_daemon_keeps_the_underlay_of_another_store_while_it_has_machines(fleet):
    """A store given with -s is announced in /run/dym/stores while it has a running machine, so
    the host's dockyardd keeps its underlay's rules too; its last machine's rm withdraws it."""
    other = Fleet(fleet.host)
    other.storage = os.path.join(fleet.host.dir, "other-store")
    announcement = os.path.join("/run/dym/stores", hashlib.sha256(other.storage.encode()).hexdigest()[:16])
    ok(other.machine("create", "o1"))
    try:
        with open(announcement) as f:
            assert f.read() == other.storage
        jump = ["FORWARD", "-j", f"DYM-FWD-{other.bridge}"]
        ok(subprocess.run(["iptables", "-w", "-D", *jump], capture_output=True))
        assert until(lambda: subprocess.run(["iptables", "-w", "-C", *jump], capture_output=True).returncode == 0,
                     timeout=60)
    finally:
        key = other.key("o1")
        ok(other.machine("rm", "-y", "o1"))
    assert not os.path.exists(announcement)
    assert leftovers(other, [key]) == []


def test_rm_leaves_nothing_behind(fleet):
    keys = [fleet.key(name) for name in NAMES]
    ok(fleet.docker("m1", "run", "-d", "-p", "8081:80", "busybox", "sh", "-c", HTTPD, "m1"))
    ok(fleet.docker("m2", "run", "-d", "busybox", "sleep", "1000"))
    ok(fleet.machine("stop", "m3"))
    out = ok(fleet.machine("rm", "-y", *NAMES))
    assert out.splitlines()[-3:] == ["Successfully removed m1", "Successfully removed m2", "Successfully removed m3"]
    assert ok(fleet.machine("ls", "-q")).strip() == ""
    assert leftovers(fleet, keys) == []
    assert os.listdir(os.path.join(fleet.storage, "machines")) == []
