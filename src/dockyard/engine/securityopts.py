"""--security-opt: HostConfig.SecurityOpt entries, checked at create (moby's parseSecurityOpt) and
turned into the OCI spec's ``linux.seccomp``, ``process.noNewPrivileges`` and
``process.apparmorProfile`` at start."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from dockyard.engine.specs.containers import HostConfig
from dockyard.errors import InvalidParameter
from dockyard.runtime import seccomp_profiles
from dockyard.runtime.linux import seccomp
from dockyard.runtime.linux.capabilities import DOCKER_DEFAULT

UNCONFINED = "unconfined"
BUILTIN = "builtin"  # Docker's name for its default profile


@dataclass(frozen=True)
class SecurityOptions:
    seccomp: str = ""  # "" or "builtin": Docker's default profile; "unconfined"; or a profile's JSON
    no_new_privileges: bool = False
    apparmor: str = ""
    labels: list[str] = field(default_factory=list)
    systempaths_unconfined: bool = False  # no masked or read-only paths (the docker CLI sends empty lists instead)


def _bool(text: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def parse(entries: object) -> SecurityOptions:
    """HostConfig.SecurityOpt, with Docker's messages for entries it does not understand."""
    if entries is None:
        return SecurityOptions()
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise InvalidParameter("HostConfig.SecurityOpt must be a list of strings")
    values: dict = {"labels": []}
    for opt in entries:
        if opt == "no-new-privileges":
            values["no_new_privileges"] = True
            continue
        if opt == "disable":
            values["labels"].append("disable")
            continue
        separator = "=" if "=" in opt else ":" if ":" in opt else ""
        if not separator:
            raise InvalidParameter(f"invalid --security-opt 1: {json.dumps(opt)}")
        key, value = opt.split(separator, 1)
        if key == "label":
            values["labels"].append(value)
        elif key == "apparmor":
            values["apparmor"] = value
        elif key == "seccomp":
            values["seccomp"] = value
        elif key == "no-new-privileges" and _bool(value) is not None:
            values["no_new_privileges"] = _bool(value)
        elif key == "systempaths" and value == UNCONFINED:
            values["systempaths_unconfined"] = True
        else:
            raise InvalidParameter(f"invalid --security-opt 2: {json.dumps(opt)}")
    return SecurityOptions(**values)


def apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y" and os.path.isdir("/sys/kernel/security/apparmor")
    except OSError:
        return False


def selinux_enabled() -> bool:
    return os.path.exists("/sys/fs/selinux/enforce")


def _check_host_support(options: SecurityOptions) -> None:
    """AppArmor and SELinux options are refused where they cannot take effect (Docker ignores
    them silently); "unconfined" and "disable" ask for nothing and are always fine."""
    if options.apparmor and options.apparmor != UNCONFINED:
        if not apparmor_enabled():
            raise InvalidParameter(f"apparmor is not enabled on this host: cannot apply --security-opt "
                                   f"apparmor={options.apparmor} (use apparmor=unconfined or drop the option)")
        try:
            with open("/sys/kernel/security/apparmor/profiles") as f:
                loaded = {line.rsplit(" (", 1)[0] for line in f}
        except OSError:
            loaded = set()
        if options.apparmor not in loaded:
            raise InvalidParameter(f'AppArmor profile "{options.apparmor}" is not loaded on this host '
                                   "(load it with apparmor_parser first)")
    labels = [label for label in options.labels if label != "disable"]
    if labels:
        if not selinux_enabled():
            raise InvalidParameter(f"SELinux is not enabled on this host: cannot apply --security-opt "
                                   f"label={labels[0]} (use label=disable or drop the option)")
        raise InvalidParameter("SELinux labels are not supported by Dockyard yet: use label=disable")


def _docker_profile(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidParameter(f"Decoding seccomp profile failed: {exc}") from None


_default_cache: dict[tuple[str, ...], dict | None] = {}


def seccomp_profile(options: SecurityOptions, privileged: bool, bounding: list[str]) -> dict | None:
    """The OCI ``linux.seccomp`` for a container whose bounding set is ``bounding`` (moby's
    WithSeccomp): none when unconfined, or privileged without a profile of its own."""
    if options.seccomp == UNCONFINED:
        return None
    if options.seccomp in ("", BUILTIN):
        if privileged:
            return None
        key = tuple(sorted(bounding))
        if key not in _default_cache:
            _default_cache[key] = seccomp_profiles.docker_profile_to_oci(seccomp_profiles.default_profile(), bounding)
        return _default_cache[key]
    try:
        return seccomp_profiles.docker_profile_to_oci(_docker_profile(options.seccomp), bounding)
    except seccomp.SeccompError as exc:
        raise InvalidParameter(f"invalid seccomp profile: {exc}") from None


def validate(host_config: HostConfig) -> SecurityOptions:
    """At create: refuse what start would refuse, before anything is made."""
    options = parse(host_config.security_opt)
    _check_host_support(options)
    profile = seccomp_profile(options, bool(host_config.privileged), list(DOCKER_DEFAULT))
    if profile is not None and options.seccomp not in ("", BUILTIN):
        try:
            seccomp.compile_cached(profile)  # what only libseccomp can tell: architectures, rule clashes
        except seccomp.SeccompError as exc:
            raise InvalidParameter(f"invalid seccomp profile: {exc}") from None
    return options


def apply(spec: dict, host_config: HostConfig) -> None:
    """Write the container's security options into its OCI spec (after its capabilities are set)."""
    options = parse(host_config.security_opt)
    process = spec["process"]
    process["noNewPrivileges"] = options.no_new_privileges
    if options.apparmor and options.apparmor != UNCONFINED:
        process["apparmorProfile"] = options.apparmor
    profile = seccomp_profile(options, bool(host_config.privileged),
                              process.get("capabilities", {}).get("bounding", []))
    if profile is None:
        spec["linux"].pop("seccomp", None)
    else:
        spec["linux"]["seccomp"] = profile
    if options.systempaths_unconfined:
        spec["linux"]["maskedPaths"], spec["linux"]["readonlyPaths"] = [], []
