"""--security-opt through the real docker CLI: it reads profile files itself and sends them inline."""

import json


def _status(daemon, *flags: str) -> dict[str, str]:
    r = daemon.docker("run", "--rm", *flags, "busybox", "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    return dict(line.split(":\t", 1) for line in r.stdout.decode().splitlines() if ":\t" in line)


def test_docker_cli_seccomp_and_no_new_privileges(daemon, tmp_path):
    default = _status(daemon)
    assert default["Seccomp"] == "2" and default["NoNewPrivs"] == "0"
    assert _status(daemon, "--security-opt", "seccomp=unconfined")["Seccomp"] == "0"
    assert _status(daemon, "--security-opt", "no-new-privileges")["NoNewPrivs"] == "1"
    assert _status(daemon, "--security-opt", "no-new-privileges=true")["NoNewPrivs"] == "1"
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    r = daemon.docker("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "mkdir", "/made")
    assert r.returncode == 1 and b"Operation not permitted" in r.stderr
    r = daemon.docker("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "touch", "/file")
    assert r.returncode == 0, r.stderr


def test_docker_cli_sees_refusals(daemon, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"defaultAction": "SCMP_ACT_NOPE"}))
    r = daemon.docker("run", "--rm", "--security-opt", f"seccomp={bad}", "busybox", "true")
    assert r.returncode == 125 and b"invalid seccomp profile: defaultAction: unknown action 'SCMP_ACT_NOPE'" in r.stderr
    r = daemon.docker("run", "--rm", "--security-opt", "no-new-privileges=sometimes", "busybox", "true")
    assert r.returncode == 125 and b'invalid --security-opt 2: "no-new-privileges=sometimes"' in r.stderr
    info = json.loads(daemon.docker("info", "--format", "{{json .SecurityOptions}}").stdout)
    assert "name=seccomp,profile=default" in info
