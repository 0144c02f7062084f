"""--security-opt: seccomp (Docker's default profile, unconfined, custom profiles), no-new-privileges,
and the AppArmor/SELinux options this host cannot honour. Effects are read from inside containers."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HELPER = Path(__file__).parent / "helpers" / "sysprobe.c"
# Docker's default profile denies these to a container with the default capabilities; the host allows
# them or fails them for another reason (keys not found, bad address, kexec not built in).
DENIED_BY_DEFAULT = ("keyctl", "add_key", "request_key", "unshare-user", "unshare-mount", "kexec_load",
                     "open_by_handle_at")


@pytest.fixture(scope="module")
def sysprobe(tmp_path_factory) -> str:
    """A static binary that makes one system call by name, bind-mounted into containers."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler to build the system-call probe")
    out = tmp_path_factory.mktemp("sysprobe") / "sysprobe"
    result = subprocess.run([compiler, "-static", "-O1", "-o", str(out), str(HELPER)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot build a static probe: {result.stderr.decode()[-300:]}")
    return str(out)


def _status(daemon, *flags: str) -> dict[str, str]:
    r = daemon.cli("run", "--rm", *flags, "busybox", "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    return dict(line.split(":\t", 1) for line in r.stdout.decode().splitlines() if ":\t" in line)


def _probe(daemon, sysprobe: str, calls: tuple[str, ...], *flags: str) -> dict[str, str]:
    script = "; ".join(f"/probe {c}" for c in calls)
    r = daemon.cli("run", "--rm", "-v", f"{sysprobe}:/probe:ro", *flags, "busybox", "sh", "-c", script)
    assert r.stderr == b"", r.stderr
    return dict(line.split(": ", 1) for line in r.stdout.decode().splitlines())


def test_default_profile_is_loaded_and_unconfined_is_not(daemon):
    assert _status(daemon)["Seccomp"] == "2"
    assert _status(daemon, "--security-opt", "seccomp=unconfined")["Seccomp"] == "0"
    assert _status(daemon, "--security-opt", "seccomp=builtin")["Seccomp"] == "2"


def test_default_profile_denies_dockers_syscall_families(daemon, sysprobe):
    confined = _probe(daemon, sysprobe, (*DENIED_BY_DEFAULT, "personality"))
    assert {c: confined[c] for c in DENIED_BY_DEFAULT} == {c: "Operation not permitted" for c in DENIED_BY_DEFAULT}
    assert confined["personality"] == "ok"  # allowed with Docker's argument values
    unconfined = _probe(daemon, sysprobe, ("keyctl", "add_key", "open_by_handle_at", "kexec_load"),
                        "--security-opt", "seccomp=unconfined")
    assert unconfined["keyctl"] == "ok" and unconfined["add_key"] == "ok"
    assert unconfined["open_by_handle_at"] != "Operation not permitted"
    assert unconfined["kexec_load"] != "Operation not permitted"


def test_custom_profile_from_a_file(daemon, tmp_path):
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO"},
                     {"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}],
    }, indent=2))
    r = daemon.cli("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "sh", "-c",
                   "mkdir /made; echo mkdir=$?; chmod 600 /etc/hosts; echo chmod=$?; touch /file && echo touch=ok")
    assert b"mkdir: can't create directory '/made': Operation not permitted" in r.stderr
    assert b"Function not implemented" in r.stderr  # errnoRet 38
    assert r.stdout == b"mkdir=1\nchmod=1\ntouch=ok\n"
    r = daemon.cli("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "mkdir", "/made")
    assert r.returncode == 0, r.stderr
    # The docker CLI sends the file's JSON inline; inspect shows it that way.
    r = daemon.cli("create", "--name", "custom-seccomp", "--security-opt", f"seccomp={profile}", "busybox")
    opts = daemon.client.call("GET", "/containers/custom-seccomp/json")["HostConfig"]["SecurityOpt"]
    assert len(opts) == 1 and json.loads(opts[0].removeprefix("seccomp=")) == json.loads(profile.read_text())
    daemon.cli("rm", "custom-seccomp")


def test_exec_runs_under_the_containers_filter(daemon, tmp_path):
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    daemon.cli("run", "-d", "--name", "exec-seccomp", "--security-opt", f"seccomp={profile}",
               "--security-opt", "no-new-privileges", "busybox", "sleep", "300")
    try:
        r = daemon.cli("exec", "exec-seccomp", "mkdir", "/x")
        assert r.returncode == 1 and b"Operation not permitted" in r.stderr
        r = daemon.cli("exec", "exec-seccomp", "grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status")
        assert r.stdout.split() == [b"NoNewPrivs:", b"1", b"Seccomp:", b"2"]
        # As with Docker (runc), --privileged widens an exec's capabilities, not its filter.
        r = daemon.cli("exec", "--privileged", "exec-seccomp", "mkdir", "/y")
        assert r.returncode == 1 and b"Operation not permitted" in r.stderr
    finally:
        daemon.cli("rm", "-f", "exec-seccomp")


def test_no_new_privileges(daemon):
    assert _status(daemon)["NoNewPrivs"] == "0"
    assert _status(daemon, "--security-opt", "no-new-privileges")["NoNewPrivs"] == "1"
    assert _status(daemon, "--security-opt", "no-new-privileges=true")["NoNewPrivs"] == "1"
    assert _status(daemon, "--security-opt", "no-new-privileges=false")["NoNewPrivs"] == "0"
    # With no_new_privs the filter goes in last, after the switch to the user; it still applies.
    status = _status(daemon, "--security-opt", "no-new-privileges", "-u", "1000")
    assert status["Seccomp"] == "2" and status["Uid"].split()[0] == "1000"
    assert _status(daemon, "-u", "1000")["Seccomp"] == "2"


@pytest.mark.parametrize(("profile", "message"), [
    ('{"defaultAction": "SCMP_ACT_SOMETIMES"}', "invalid seccomp profile: defaultAction: unknown action "
                                                "'SCMP_ACT_SOMETIMES'"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", '
     '"args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}', "syscalls[0].args[0].index must be 0 to 5"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}', "SCMP_ARCH_Z80 is not known"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", '
     '"includes": {"minKernel": "four"}}]}', "invalid kernel version"),
])
def test_invalid_profiles_are_refused_naming_the_file_and_the_problem(daemon, tmp_path, profile, message):
    path = tmp_path / "bad.json"
    path.write_text(profile)
    before = daemon.cli("ps", "-aq").stdout
    r = daemon.cli("run", "--rm", "--security-opt", f"seccomp={path}", "busybox", "true")
    assert r.returncode == 125
    assert message.encode() in r.stderr and str(path).encode() in r.stderr, r.stderr
    assert daemon.cli("ps", "-aq").stdout == before  # nothing created


def test_unreadable_profiles_and_bad_options_are_refused(daemon, tmp_path):
    r = daemon.cli("run", "--rm", "--security-opt", f"seccomp={tmp_path}/missing.json", "busybox", "true")
    assert r.returncode == 125
    assert f"opening seccomp profile ({tmp_path}/missing.json) failed".encode() in r.stderr
    (tmp_path / "broken.json").write_text("{not json")
    r = daemon.cli("run", "--rm", "--security-opt", f"seccomp={tmp_path}/broken.json", "busybox", "true")
    assert r.returncode == 125 and b"compacting json for seccomp profile" in r.stderr
    r = daemon.cli("run", "--rm", "--security-opt", "no-new-privileges=maybe", "busybox", "true")
    assert r.returncode == 125 and b'invalid --security-opt 2: "no-new-privileges=maybe"' in r.stderr
    r = daemon.cli("run", "--rm", "--security-opt", "sandwich", "busybox", "true")
    assert r.returncode == 125 and b"Invalid --security-opt" in r.stderr


def test_apparmor_and_selinux_refused_where_the_host_lacks_them(daemon):
    from dockyard.engine.securityopts import apparmor_enabled, selinux_enabled

    if apparmor_enabled() or selinux_enabled():
        pytest.skip("this host has AppArmor or SELinux enabled")
    r = daemon.cli("run", "--rm", "--security-opt", "apparmor=docker-default", "busybox", "true")
    assert r.returncode == 125 and b"apparmor is not enabled on this host" in r.stderr
    r = daemon.cli("run", "--rm", "--security-opt", "label=type:container_t", "busybox", "true")
    assert r.returncode == 125 and b"SELinux is not enabled on this host" in r.stderr
    # Asking for no confinement is always possible.
    r = daemon.cli("run", "--rm", "--security-opt", "apparmor=unconfined", "--security-opt", "label=disable",
                   "busybox", "true")
    assert r.returncode == 0, r.stderr


def test_systempaths_unconfined_becomes_empty_masked_and_readonly_paths(daemon):
    daemon.cli("create", "--name", "systempaths", "--security-opt", "systempaths=unconfined", "busybox")
    host_config = daemon.client.call("GET", "/containers/systempaths/json")["HostConfig"]
    assert host_config["MaskedPaths"] == [] and host_config["ReadonlyPaths"] == []
    assert not host_config.get("SecurityOpt")
    daemon.cli("rm", "systempaths")


def test_privileged_containers_get_no_default_profile_but_keep_a_chosen_one(daemon):
    """HostConfig.Privileged (the API field `--privileged` sets) drops Docker's default profile only."""
    def seccomp_mode(host_config: dict) -> str:
        cid = daemon.client.call("POST", "/containers/create", body={
            "Image": "busybox", "Cmd": ["grep", "^Seccomp:", "/proc/self/status"], "HostConfig": host_config})["Id"]
        try:
            daemon.client.call("POST", f"/containers/{cid}/start")
            daemon.client.call("POST", f"/containers/{cid}/wait")
            return daemon.cli("logs", cid).stdout.decode().split()[-1]
        finally:
            daemon.client.call("DELETE", f"/containers/{cid}", query={"force": "1"})

    assert seccomp_mode({"Privileged": True}) == "0"
    custom = json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"],
                                                                         "action": "SCMP_ACT_ERRNO"}]})
    assert seccomp_mode({"Privileged": True, "SecurityOpt": [f"seccomp={custom}"]}) == "2"
