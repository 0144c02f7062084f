"""`--security-opt` turned into HostConfig.SecurityOpt with the docker CLI's client-side work
(cli/command/container/opts.go): a seccomp profile named by path is read here and sent inline,
and `systempaths=unconfined` becomes empty MaskedPaths and ReadonlyPaths."""

from dockyard.cli.flags import Opt, UsageError

SECURITY_OPTIONS = (
    Opt(("--security-opt",), "security_opt", "list", "Security Options", metavar="list"),
)
_BUILTIN_PROFILES = ("builtin", "unconfined")


def _inline_profile(path: str) -> str:
    import json  # only when a profile file is given: the CLI starts on every `run`
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise UsageError(f"opening seccomp profile ({path}) failed: open {path}: "
                         f"{(exc.strerror or str(exc)).lower()}") from None
    try:
        profile = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"compacting json for seccomp profile ({path}) failed: {exc}") from None
    return json.dumps(profile, separators=(",", ":"))


def security_fields(values: dict) -> dict:
    """HostConfig fields for `--security-opt` values."""
    options: list[str] = []
    fields: dict = {}
    for opt in values["security_opt"]:
        key, sep, value = opt.partition("=")
        if not sep and key != "no-new-privileges":
            key, sep, value = opt.partition(":")
        if (not sep or not value) and key != "no-new-privileges":
            raise UsageError(f'Invalid --security-opt: "{opt}"')
        if opt == "systempaths=unconfined":
            fields["MaskedPaths"], fields["ReadonlyPaths"] = [], []
            continue
        if key == "seccomp" and value not in _BUILTIN_PROFILES:
            opt = "seccomp=" + _inline_profile(value)
        options.append(opt)
    if options:
        fields["SecurityOpt"] = options
    return fields


def profile_path(values: dict) -> str | None:
    """The profile file named on the command line, to point at when the daemon refuses it."""
    for opt in values.get("security_opt") or []:
        key, sep, value = opt.partition("=") if "=" in opt else opt.partition(":")
        if key == "seccomp" and sep and value not in _BUILTIN_PROFILES:
            return value
    return None
