"""What each metadata instruction does to a stage's config, and the CreatedBy text Docker records.

These instructions change no files: each gives a history row with empty_layer and a config. The
texts follow moby's builder/dockerfile/dispatchers.go (`#(nop) ` comments, Go's %q and %v of
lists), so `docker history` reads as it does for Docker's classic builder.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field

from dockyard.build.parser import Instruction, ParseError, name_values
from dockyard.build.shell_words import env_map, process_word, process_words
from dockyard.errors import InvalidParameter
from dockyard.util.durations import parse_ns
from dockyard.util.signals import parse_signal

DEFAULT_SHELL = ["/bin/sh", "-c"]
# Usable with --build-arg without an ARG, and kept out of the history (moby's builtinAllowedBuildArgs).
PREDEFINED_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                   "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


@dataclass
class StageState:
    config: dict
    escape: str = "\\"
    build_args: dict[str, str | None] = field(default_factory=dict)  # --build-arg
    args: dict[str, str | None] = field(default_factory=dict)  # declared by ARG in this stage (or meta)
    meta_args: dict[str, str | None] = field(default_factory=dict)  # ARGs before the first FROM
    cmd_set: bool = False
    author: str = ""
    used_args: set[str] = field(default_factory=set)

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def arg_values(self) -> dict[str, str]:
        """Declared args with a value, and predefined ones given with --build-arg."""
        out = {k: v for k, v in self.args.items() if v is not None}
        for key in PREDEFINED_ARGS:
            value = self.build_args.get(key)
            if value is not None and key not in self.args:
                out[key] = value
        return out

    def expansion_env(self) -> dict[str, str]:
        """What `$VAR` sees: the build args, overridden by ENV (as Docker)."""
        env = self.arg_values()
        env.update(env_map(self.config.get("Env") or []))
        return env

    def run_args(self) -> list[str]:
        """`K=V` of the build args a RUN sees that no ENV overrides, sorted: the `|N K=V` prefix."""
        env = env_map(self.config.get("Env") or [])
        values = self.arg_values()
        return sorted(f"{k}={v}" for k, v in values.items() if k not in env and k in self.args)

    def run_env(self) -> list[str]:
        env = env_map(self.config.get("Env") or [])
        return list(self.config.get("Env") or []) + [f"{k}={v}" for k, v in sorted(self.arg_values().items())
                                                     if k not in env]

    def expand(self, text: str) -> str:
        return process_word(text, self.expansion_env(), self.escape)

    def expand_words(self, text: str) -> list[str]:
        return process_words(text, self.expansion_env(), self.escape)


def go_quote_list(values: list[str]) -> str:
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def exec_or_shell(instruction: Instruction, state: StageState) -> list[str]:
    if instruction.json_args is not None:
        return list(instruction.json_args)
    return state.shell + [instruction.rest]


def apply_metadata(instruction: Instruction, state: StageState) -> str:
    """Apply a metadata instruction to ``state.config``; return the comment for CreatedBy."""
    cmd = instruction.cmd
    config = state.config
    if cmd == "ENV":
        env_before = state.expansion_env()
        pairs = [(process_word(k, env_before, state.escape), process_word(v or "", env_before, state.escape))
                 for k, v in name_values(instruction, state.escape)]
        env = list(config.get("Env") or [])
        for key, value in pairs:
            env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
        config["Env"] = env
        return "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
    if cmd == "LABEL":
        labels = dict(config.get("Labels") or {})
        pairs = [(state.expand(k), state.expand(v or "")) for k, v in name_values(instruction, state.escape)]
        for key, value in pairs:
            if not key:
                raise InvalidParameter("LABEL names can not be blank")
            labels[key] = value
        config["Labels"] = labels
        return "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
    if cmd == "MAINTAINER":
        state.author = instruction.rest.strip()
        return "MAINTAINER " + state.author
    if cmd == "CMD":
        config["Cmd"] = exec_or_shell(instruction, state)
        state.cmd_set = True
        return "CMD " + go_quote_list(config["Cmd"])
    if cmd == "ENTRYPOINT":
        if instruction.json_args is not None:
            config["Entrypoint"] = list(instruction.json_args)
        elif instruction.rest:
            config["Entrypoint"] = state.shell + [instruction.rest]
        else:
            config["Entrypoint"] = None
        if not state.cmd_set:
            config["Cmd"] = None  # as Docker: an ENTRYPOINT drops the CMD inherited from the base
        return "ENTRYPOINT " + go_quote_list(config["Entrypoint"] or [])
    if cmd == "EXPOSE":
        ports = dict(config.get("ExposedPorts") or {})
        written = state.expand_words(instruction.rest)
        for port in written:
            number, _, proto = port.partition("/")
            proto = (proto or "tcp").lower()
            low, _, high = number.partition("-")
            if not low.isdigit() or (high and not high.isdigit()):
                raise InvalidParameter(f"invalid containerPort: {number}")
            for port_number in range(int(low), int(high or low) + 1):
                ports[f"{port_number}/{proto}"] = {}
        config["ExposedPorts"] = ports
        return "EXPOSE " + " ".join(written)
    if cmd == "VOLUME":
        if instruction.json_args is not None:
            paths = [state.expand(p) for p in instruction.json_args]
        else:
            paths = state.expand_words(instruction.rest)
        volumes = dict(config.get("Volumes") or {})
        for path in paths:
            if not path.strip():
                raise InvalidParameter("VOLUME specified can not be an empty string")
            volumes[path] = {}
        config["Volumes"] = volumes
        return "VOLUME [" + " ".join(paths) + "]"
    if cmd == "USER":
        config["User"] = state.expand(instruction.rest.strip())
        return "USER " + config["User"]
    if cmd == "STOPSIGNAL":
        signal = state.expand(instruction.rest.strip())
        try:
            parse_signal(signal)
        except (ValueError, InvalidParameter):
            raise InvalidParameter(f"Invalid signal: {signal}") from None
        config["StopSignal"] = signal
        return "STOPSIGNAL " + signal
    if cmd == "SHELL":
        if not instruction.json_args:
            raise ParseError("SHELL requires the arguments to be in JSON form")
        config["Shell"] = list(instruction.json_args)
        return "SHELL [" + " ".join(config["Shell"]) + "]"
    if cmd == "ONBUILD":
        trigger = instruction.rest.strip()
        word = trigger.split(None, 1)[0].upper() if trigger else ""
        if word == "ONBUILD":
            raise ParseError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if word in ("FROM", "MAINTAINER"):
            raise ParseError(f"{word} isn't allowed as an ONBUILD trigger")
        config["OnBuild"] = [*(config.get("OnBuild") or []), trigger]
        return "ONBUILD " + trigger
    if cmd == "HEALTHCHECK":
        config["Healthcheck"] = healthcheck(instruction, state)
        return "HEALTHCHECK " + _health_text(config["Healthcheck"])
    if cmd == "ARG":
        texts = []
        for key, declared in name_values(instruction, state.escape):
            given = state.build_args.get(key)
            default = state.expand(declared) if declared is not None else None
            if given is not None:
                state.args[key] = given
            elif default is not None:
                state.args[key] = default
            elif state.meta_args.get(key) is not None:
                state.args[key] = state.meta_args[key]  # `ARG NAME` in a stage takes the global value
            else:
                state.args.setdefault(key, None)
            state.used_args.add(key)
            texts.append(key if declared is None else f"{key}={declared}")
        return "ARG " + " ".join(texts)
    raise InvalidParameter(f"{cmd} is not a metadata instruction")


def healthcheck(instruction: Instruction, state: StageState) -> dict:
    rest = instruction.rest.strip()
    word, _, command = rest.partition(" ")
    if word.upper() == "NONE":
        if instruction.flags:
            raise InvalidParameter("HEALTHCHECK NONE takes no options")
        return {"Test": ["NONE"]}
    if word.upper() != "CMD":
        raise InvalidParameter(f"Unknown type \"{word}\" in HEALTHCHECK (try CMD)")
    command = command.strip()
    if command.startswith("["):
        try:
            test = ["CMD", *json.loads(command)]
        except ValueError:
            test = ["CMD-SHELL", command]
    else:
        test = ["CMD-SHELL", command]
    out: dict = {"Test": test}
    for name, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                      ("start-interval", "StartInterval")):
        value = instruction.flag(name)
        if value is not None:
            out[key] = parse_ns(value)
    retries = instruction.flag("retries")
    if retries is not None:
        if not retries.isdigit() or int(retries) < 1:
            raise InvalidParameter("--retries must be at least 1")
        out["Retries"] = int(retries)
    unknown = [f for f in instruction.flags if f[2:].partition("=")[0] not in
               ("interval", "timeout", "start-period", "start-interval", "retries")]
    if unknown:
        raise InvalidParameter(f"Unknown flag: {unknown[0][2:].partition('=')[0]}")
    return out


def _duration(ns: int) -> str:
    if not ns:
        return "0s"
    seconds = ns / 1e9
    return f"{seconds:g}s"


def _health_text(check: dict) -> str:
    """Go's %q of a *HealthConfig (moby prints it so)."""
    return (f"&{{{go_quote_list(check['Test'])} \"{_duration(check.get('Interval', 0))}\" "
            f"\"{_duration(check.get('Timeout', 0))}\" \"{_duration(check.get('StartPeriod', 0))}\" "
            f"'\\x{check.get('Retries', 0):02x}'}}")


def workdir_path(text: str, state: StageState) -> str:
    path = state.expand(text.strip())
    current = state.config.get("WorkingDir") or "/"
    full = path if path.startswith("/") else posixpath.join(current, path)
    return posixpath.normpath(full) if full != "/" else "/"
