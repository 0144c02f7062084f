"""Dockerfile-style config changes, as `docker import -c` and `docker commit -c` take them."""

import json
import shlex

from dockyard.errors import InvalidParameter

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
           "VOLUME", "WORKDIR")


def _json_or_shell(rest: str, *, shell: bool) -> list[str]:
    stripped = rest.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", stripped] if shell else stripped.split()


def _pairs(rest: str, instruction: str) -> dict[str, str]:
    words = shlex.split(rest)
    if not words:
        raise InvalidParameter(f"{instruction} requires at least one argument")
    if "=" not in words[0]:  # legacy form: ENV key value with spaces
        key, _, value = rest.strip().partition(" ")
        return {key: value.strip()}
    out = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"{instruction} names can not be blank: {word!r} must be KEY=VALUE")
        out[key] = value
    return out


def apply_changes(config: dict, changes: list[str]) -> dict:
    """Apply each change line to a container config dict (Docker's ``Config`` shape)."""
    for line in changes:
        line = line.strip()
        if not line:
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction not in ALLOWED:
            raise InvalidParameter(f"{instruction} is not a valid change command")
        if instruction == "CMD":
            config["Cmd"] = _json_or_shell(rest, shell=True)
        elif instruction == "ENTRYPOINT":
            config["Entrypoint"] = _json_or_shell(rest, shell=True)
        elif instruction == "ENV":
            env = [e for e in (config.get("Env") or [])]
            for key, value in _pairs(rest, "ENV").items():
                env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
            config["Env"] = env
        elif instruction == "LABEL":
            labels = dict(config.get("Labels") or {})
            labels.update(_pairs(rest, "LABEL"))
            config["Labels"] = labels
        elif instruction == "EXPOSE":
            ports = dict(config.get("ExposedPorts") or {})
            for port in rest.split():
                ports[port if "/" in port else port + "/tcp"] = {}
            config["ExposedPorts"] = ports
        elif instruction == "VOLUME":
            volumes = dict(config.get("Volumes") or {})
            for path in _json_or_shell(rest, shell=False):
                volumes[path] = {}
            config["Volumes"] = volumes
        elif instruction == "USER":
            config["User"] = rest.strip()
        elif instruction == "WORKDIR":
            config["WorkingDir"] = rest.strip()
        elif instruction == "STOPSIGNAL":
            config["StopSignal"] = rest.strip()
        elif instruction == "ONBUILD":
            config["OnBuild"] = [*(config.get("OnBuild") or []), rest.strip()]
        elif instruction == "HEALTHCHECK":
            config["Healthcheck"] = {"Test": ["CMD-SHELL", rest.strip()]}
    return config
