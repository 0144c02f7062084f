"""Docker's seccomp profile format -> the OCI ``linux.seccomp`` object (moby's profiles/seccomp).

Docker's format extends the OCI one with ``archMap`` (the host's architecture and the
sub-architectures its processes may use) and with rules that apply only for some
capabilities, architectures or kernel versions (``includes``/``excludes``). The default
profile, ``seccomp_default.json``, is moby's profiles/seccomp/default.json (v0.2.3, Apache-2.0).
"""

from __future__ import annotations

import copy
import json
import os
from functools import cache

from dockyard.runtime.linux.seccomp import SeccompError as ProfileError
from dockyard.runtime.linux.seccomp import action_value, conditions

# Docker's names for the host's architecture (Go's GOARCH via moby's goToNative) and the OCI one.
_MACHINE_TO_NATIVE = {
    "x86_64": "amd64", "i686": "x86", "i386": "x86", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm",
    "ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x", "riscv64": "riscv64", "mips64": "mips64",
    "loongarch64": "loongarch64",
}
_NATIVE_TO_OCI = {
    "x86": "SCMP_ARCH_X86", "amd64": "SCMP_ARCH_X86_64", "arm": "SCMP_ARCH_ARM", "arm64": "SCMP_ARCH_AARCH64",
    "loongarch64": "SCMP_ARCH_LOONGARCH64", "mips64": "SCMP_ARCH_MIPS64", "mips64n32": "SCMP_ARCH_MIPS64N32",
    "mipsel64": "SCMP_ARCH_MIPSEL64", "mips3l64n32": "SCMP_ARCH_MIPSEL64N32", "mipsle": "SCMP_ARCH_MIPSEL",
    "ppc": "SCMP_ARCH_PPC", "ppc64": "SCMP_ARCH_PPC64", "ppc64le": "SCMP_ARCH_PPC64LE",
    "riscv64": "SCMP_ARCH_RISCV64", "s390": "SCMP_ARCH_S390", "s390x": "SCMP_ARCH_S390X",
}
_OCI_FIELDS = ("defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata")
_RULE_FIELDS = ("names", "action", "errnoRet", "args")


@cache
def default_profile() -> dict:
    with open(os.path.join(os.path.dirname(__file__), "seccomp_default.json")) as f:
        return json.load(f)


def native_arch() -> str:
    """The host's architecture in Docker's words ("amd64", "arm64", ...)."""
    machine = os.uname().machine
    return _MACHINE_TO_NATIVE.get(machine, machine)


@cache
def kernel_version() -> tuple[int, int]:
    """(kernel, major) of the running kernel: "6.8.0-45-generic" -> (6, 8)."""
    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) if len(parts) > 1 else 0)
    except ValueError:
        raise ProfileError(f"cannot parse the kernel version {os.uname().release!r}") from None


def _parse_min_kernel(text: object, where: str) -> tuple[int, int] | None:
    if text is None or text == "":
        return None
    parts = text.split(".") if isinstance(text, str) else []
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or parts == ["0", "0"]:
        raise ProfileError(f'{where}.minKernel: invalid kernel version {json.dumps(text)}, expected "<kernel>.<major>"')
    return int(parts[0]), int(parts[1])


def _string_list(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{where} must be a list of strings")
    return value


def _condition(condition: object, where: str) -> tuple[list[str], list[str], tuple[int, int] | None]:
    """An includes/excludes object: (arches, caps, minKernel)."""
    if not isinstance(condition, dict):
        raise ProfileError(f"{where} must be an object with caps, arches or minKernel")
    return (_string_list(condition.get("arches"), f"{where}.arches"),
            _string_list(condition.get("caps"), f"{where}.caps"),
            _parse_min_kernel(condition.get("minKernel"), where))


def _applies(rule: dict, where: str, arch: str, caps: set[str], kernel: tuple[int, int]) -> bool:
    """moby's setupSeccomp: a rule is skipped if any exclude test holds or any include test fails."""
    if rule.get("excludes") is not None:
        arches, wanted, minimum = _condition(rule["excludes"], f"{where}.excludes")
        if arch in arches or any(c in caps for c in wanted) or (minimum is not None and kernel >= minimum):
            return False
    if rule.get("includes") is not None:
        arches, wanted, minimum = _condition(rule["includes"], f"{where}.includes")
        if (arches and arch not in arches) or not all(c in caps for c in wanted) or (
                minimum is not None and kernel < minimum):
            return False
    return True


def docker_profile_to_oci(profile: object, capabilities: list[str], arch: str | None = None,
                          kernel: tuple[int, int] | None = None) -> dict | None:
    """Apply Docker's rules for a container whose bounding set is ``capabilities`` on a host of
    architecture ``arch`` (Docker's name; default: this host) running ``kernel``. Returns None for
    a profile with neither a default action nor rules, which Docker treats as no seccomp."""
    if not isinstance(profile, dict):
        raise ProfileError("a seccomp profile must be a JSON object")
    arch = arch or native_arch()
    kernel = kernel or kernel_version()
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise ProfileError("both 'architectures' and 'archMap' are specified in the seccomp profile, use either "
                           "'architectures' or 'archMap'")
    out = {k: copy.deepcopy(profile[k]) for k in _OCI_FIELDS if profile.get(k) is not None}
    action_value(profile.get("defaultAction"), profile.get("defaultErrnoRet"), "defaultAction")
    archmap = profile.get("archMap") or []
    if not isinstance(archmap, list):
        raise ProfileError("archMap must be a list of {architecture, subArchitectures}")
    oci_arch = _NATIVE_TO_OCI.get(arch)
    for i, entry in enumerate(archmap):
        if not isinstance(entry, dict):
            raise ProfileError(f"archMap[{i}] must be an object with architecture and subArchitectures")
        subs = _string_list(entry.get("subArchitectures"), f"archMap[{i}].subArchitectures")
        if oci_arch and entry.get("architecture") == oci_arch:
            out["architectures"] = [oci_arch, *subs]
            break
    rules = profile.get("syscalls") or []
    if not isinstance(rules, list):
        raise ProfileError("syscalls must be a list")
    caps = set(capabilities)
    syscalls = []
    for i, rule in enumerate(rules):
        where = f"syscalls[{i}]"
        if not isinstance(rule, dict):
            raise ProfileError(f"{where} must be an object")
        names = rule.get("names")
        if rule.get("name"):
            if names:
                raise ProfileError("both 'name' and 'names' are specified in the seccomp profile, use either "
                                   "'name' or 'names'")
            names = [rule["name"]]
        # Every rule is checked, not only those that apply here: a profile is valid or not whatever the host.
        names = _string_list(names, f"{where}.names")
        action_value(rule.get("action"), rule.get("errnoRet"), f"{where}.action")
        conditions(rule.get("args"), where)
        if not _applies(rule, where, arch, caps, kernel):
            continue
        converted = {k: copy.deepcopy(rule[k]) for k in _RULE_FIELDS if rule.get(k) is not None}
        converted["names"] = names
        syscalls.append(converted)
    out["syscalls"] = syscalls
    return out
