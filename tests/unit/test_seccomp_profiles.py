"""Docker's seccomp profile format -> OCI, the --security-opt parser, and libseccomp compilation."""

import os

import pytest

from dockyard.engine import securityopts
from dockyard.engine.specs.containers import HostConfig
from dockyard.errors import InvalidParameter
from dockyard.runtime.linux import seccomp
from dockyard.runtime.linux.capabilities import DOCKER_DEFAULT
from dockyard.runtime.seccomp_profiles import ProfileError, default_profile, docker_profile_to_oci

NEW_KERNEL = (6, 1)


def _allowed(oci: dict) -> set[str]:
    """Names allowed without conditions."""
    return {name for rule in oci["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args")
            for name in rule["names"]}


def _rules_for(oci: dict, name: str) -> list[dict]:
    return [rule for rule in oci["syscalls"] if name in rule["names"]]


def test_default_profile_for_default_capabilities_on_amd64():
    oci = docker_profile_to_oci(default_profile(), DOCKER_DEFAULT, "amd64", NEW_KERNEL)
    assert oci["defaultAction"] == "SCMP_ACT_ERRNO" and oci["defaultErrnoRet"] == 1
    assert oci["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = _allowed(oci)
    for denied in ("keyctl", "add_key", "request_key", "kexec_load", "open_by_handle_at", "mount", "umount2",
                   "unshare", "setns", "bpf", "perf_event_open", "init_module", "reboot", "clock_settime",
                   "syslog", "clone3", "clone"):
        assert denied not in allowed, denied
    assert {"read", "execve", "arch_prctl", "modify_ldt", "chroot", "ptrace"} <= allowed  # ptrace: kernel >= 4.8
    # clone only without namespace flags (the s390 variant, with its argument order, is not for amd64).
    assert [r["args"] for r in _rules_for(oci, "clone")] == [
        [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]]
    # clone3 cannot be filtered on its flags, so it fails with ENOSYS and libc falls back to clone.
    assert _rules_for(oci, "clone3") == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    assert "riscv_flush_icache" not in allowed and "s390_runtime_instr" not in allowed


def test_capabilities_open_up_their_syscalls():
    caps = [*DOCKER_DEFAULT, "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"]
    oci = docker_profile_to_oci(default_profile(), caps, "amd64", NEW_KERNEL)
    allowed = _allowed(oci)
    assert {"mount", "umount2", "unshare", "setns", "clone", "clone3", "open_by_handle_at", "kcmp"} <= allowed
    assert all(not r.get("args") for r in _rules_for(oci, "clone"))  # the masked rule is excluded
    assert all(r["action"] == "SCMP_ACT_ALLOW" for r in _rules_for(oci, "clone3"))
    assert "keyctl" not in allowed  # no capability opens the key management calls


def test_min_kernel_and_architecture_selection():
    old = docker_profile_to_oci(default_profile(), DOCKER_DEFAULT, "amd64", (4, 4))
    assert "ptrace" not in _allowed(old)
    arm = docker_profile_to_oci(default_profile(), DOCKER_DEFAULT, "arm64", NEW_KERNEL)
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "arch_prctl" not in _allowed(arm) and "cacheflush" in _allowed(arm)
    s390 = docker_profile_to_oci(default_profile(), DOCKER_DEFAULT, "s390x", NEW_KERNEL)
    assert [r["args"][0]["index"] for r in _rules_for(s390, "clone")] == [1]
    assert "architectures" not in docker_profile_to_oci(default_profile(), DOCKER_DEFAULT, "sparc", NEW_KERNEL)


def test_profile_shapes_docker_accepts_and_refuses():
    assert docker_profile_to_oci({}, DOCKER_DEFAULT) is None  # neither default action nor rules: no seccomp
    old_style = docker_profile_to_oci({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                                       "syscalls": [{"name": "mkdir", "action": "SCMP_ACT_ERRNO"}]}, [])
    assert old_style["syscalls"] == [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    assert old_style["architectures"] == ["SCMP_ARCH_X86_64"]
    for profile, message in (
            ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
              "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}, "both 'architectures' and 'archMap'"),
            ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "ALLOW"}]},
             "both 'name' and 'names'"),
            ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "mkdir", "action": "SCMP_ACT_ERRNO"}]},
             r"syscalls\[0\].names must be a list"),
            ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW",
                                                               "includes": {"minKernel": "5"}}]}, "invalid kernel"),
            # A rule this host would skip is still checked.
            ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_MAYBE",
                                                               "includes": {"arches": ["mips"]}}]},
             r"syscalls\[0\].action: unknown action 'SCMP_ACT_MAYBE'"),
            ({"defaultAction": "SCMP_ACT_NOTIFY"}, "SCMP_ACT_NOTIFY needs a seccomp agent"),
            ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}, "errnoRet must be a number"),
            ([], "must be a JSON object")):
        with pytest.raises(ProfileError, match=message):
            docker_profile_to_oci(profile, DOCKER_DEFAULT, "amd64", NEW_KERNEL)


def test_security_opt_parsing_follows_moby():
    assert securityopts.parse(None) == securityopts.SecurityOptions()
    options = securityopts.parse(["no-new-privileges", "seccomp:unconfined", "apparmor=unconfined", "disable",
                                  "label=level:s0"])
    assert options.no_new_privileges and options.seccomp == "unconfined" and options.apparmor == "unconfined"
    assert options.labels == ["disable", "level:s0"]
    assert not securityopts.parse(["no-new-privileges=true", "no-new-privileges=0"]).no_new_privileges
    assert securityopts.parse(["systempaths=unconfined"]).systempaths_unconfined
    for bad, message in (("label", 'invalid --security-opt 1: "label"'),
                         ("unknown=something", 'invalid --security-opt 2: "unknown=something"'),
                         ("no-new-privileges=yes", 'invalid --security-opt 2: "no-new-privileges=yes"')):
        with pytest.raises(InvalidParameter, match=message):
            securityopts.parse([bad])
    with pytest.raises(InvalidParameter, match="Decoding seccomp profile failed"):
        securityopts.validate(HostConfig(security_opt=["seccomp={nope"]))


def test_privileged_drops_the_default_profile_but_keeps_a_custom_one():
    custom = securityopts.parse(['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'])
    default = securityopts.parse([])
    assert securityopts.seccomp_profile(default, True, DOCKER_DEFAULT) is None
    assert securityopts.seccomp_profile(default, False, DOCKER_DEFAULT)["defaultAction"] == "SCMP_ACT_ERRNO"
    assert securityopts.seccomp_profile(custom, True, DOCKER_DEFAULT) == {"defaultAction": "SCMP_ACT_ALLOW",
                                                                          "syscalls": []}
    assert securityopts.seccomp_profile(securityopts.parse(["seccomp=unconfined"]), False, DOCKER_DEFAULT) is None


def test_compiled_filter_denies_in_a_child_process():
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        # Two conditions on one argument: libseccomp cannot AND them, so each becomes its own rule (runc).
        {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}
    compiled = seccomp.compile_filter(profile)
    assert compiled.program and len(compiled.program) % 8 == 0
    assert seccomp.compile_cached(profile) is seccomp.compile_cached(dict(profile))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            seccomp.install(compiled)
            results = []
            for call in (lambda: os.mkdir("/nonexistent-dir-for-seccomp-test"),
                         lambda: os.getpriority(1, 0), lambda: os.getpriority(2, 0), lambda: os.getpriority(0, 0)):
                try:
                    call()
                    results.append("ok")
                except OSError as exc:
                    results.append(str(exc.errno))
            os.write(write, ",".join(results).encode())
        finally:
            os._exit(0)
    os.close(write)
    output = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert output == "13,1,1,ok"


def test_bad_filters_are_refused_not_fatal():
    assert seccomp.prepare(None) is None
    assert "unknown action" in seccomp.prepare({"defaultAction": "SCMP_ACT_BOGUS"})
    with pytest.raises(seccomp.SeccompError, match="is not known to libseccomp"):
        seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]})
    with pytest.raises(seccomp.SeccompError, match="unknown flag"):
        seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]})
