"""`dockyard registry serve|garbage-collect|token-server` (and `python3 -m dockyard.registry ...`): the
registry server's commands, run in this process, not through the daemon. They live with the registry,
which the CLI runs, so the registry's own image carries no CLI module."""

from __future__ import annotations

import sys

USAGE = """
Usage:  dockyard registry COMMAND

Run a registry (the OCI distribution API) without a daemon

Commands:
  serve            Serve the registry: dockyard registry serve [config.yml]
  garbage-collect  Delete blobs no manifest references: dockyard registry garbage-collect [--dry-run]
                   [--delete-untagged] [--grace DURATION] config.yml
  token-server     Issue bearer tokens for `auth: token`
"""

TOKEN_USAGE = """
Usage:  dockyard registry token-server [OPTIONS]

Issue JWTs for the registry's `auth: token` mode, checking Basic credentials against an htpasswd file

Options:
      --addr string       Address to listen on (default "127.0.0.1:5001")
      --key string        PEM private key (RSA or ECDSA) that signs the tokens
      --cert string       PEM certificate of the key (the registry's rootcertbundle)
      --issuer string     The iss claim (the registry's auth.token.issuer)
      --service string    The aud claim (the registry's auth.token.service)
      --htpasswd string   htpasswd file (bcrypt) of the users who may log in
      --expiration int    Token lifetime in seconds (default 300)
      --tls-cert string   Serve HTTPS with this certificate
      --tls-key string    and this key
      --anonymous-pull    Give anonymous clients pull access
"""


def main(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    command, rest = args[0], args[1:]
    if command == "serve":
        return _serve(rest)
    if command == "garbage-collect":
        return _garbage_collect(rest)
    if command == "token-server":
        return _token_server(rest)
    sys.stderr.write(f"dockyard: 'registry {command}' is not a dockyard command.\nSee 'dockyard registry --help'\n")
    return 1


def _load(path: str | None):
    from dockyard.registry.config import ConfigError, load

    try:
        return load(path)
    except ConfigError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        return None


def _serve(args: list[str]) -> int:
    if len(args) > 1 or (args and args[0].startswith("-")):
        sys.stderr.write("usage: dockyard registry serve [config.yml]\n")
        return 125 if args and args[0] not in ("-h", "--help") else 0
    config = _load(args[0] if args else None)
    if config is None:
        return 1
    from dockyard.registry.serve import main as serve_main

    try:
        return serve_main(config)
    except OSError as exc:
        sys.stderr.write(f"dockyard registry: {exc}\n")
        return 1


def _garbage_collect(args: list[str]) -> int:
    dry_run = delete_untagged = False
    grace = None
    paths = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-d", "--dry-run"):
            dry_run = True
        elif arg in ("-m", "--delete-untagged"):
            delete_untagged = True
        elif arg == "--grace" and i + 1 < len(args):
            grace = args[i + 1]
            i += 1
        elif arg.startswith("--grace="):
            grace = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            sys.stderr.write(f"unknown flag: {arg}\n")
            return 125
        else:
            paths.append(arg)
        i += 1
    if len(paths) != 1:
        sys.stderr.write("usage: dockyard registry garbage-collect [--dry-run] [--delete-untagged] config.yml\n")
        return 125
    config = _load(paths[0])
    if config is None:
        return 1
    from dockyard.registry.config import ConfigError, seconds
    from dockyard.registry.gc import collect
    from dockyard.registry.storage import Storage

    try:
        grace_s = seconds(grace, "--grace") if grace is not None else config.gc.grace
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 125
    result = collect(Storage(config.root), dry_run=dry_run, delete_untagged=delete_untagged, grace=grace_s,
                     report=sys.stdout.write)
    verb = "would delete" if dry_run else "deleted"
    sys.stdout.write(f"\n{len(result.marked)} blobs marked, {len(result.blobs)} blobs and "
                     f"{len(result.manifests)} manifests {verb}\n")
    return 0


class UsageError(Exception):
    """Bad command-line usage; the message is printed with a pointer to --help."""


def _token_server(args: list[str]) -> int:
    options = {"addr": "127.0.0.1:5001", "key": "", "cert": "", "issuer": "", "service": "", "htpasswd": "",
               "expiration": "300", "tls-cert": "", "tls-key": ""}
    anonymous = False
    i = 0
    try:
        while i < len(args):
            arg = args[i]
            if arg in ("-h", "--help"):
                sys.stdout.write(TOKEN_USAGE)
                return 0
            if arg == "--anonymous-pull":
                anonymous = True
                i += 1
                continue
            name, eq, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
            if name not in options:
                raise UsageError(f"unknown flag: {arg}")
            if not eq:
                if i + 1 >= len(args):
                    raise UsageError(f"flag needs an argument: --{name}")
                value = args[i + 1]
                i += 1
            options[name] = value
            i += 1
        for required in ("key", "cert", "issuer", "service", "htpasswd"):
            if not options[required]:
                raise UsageError(f"--{required} is required")
        expiration = int(options["expiration"])
    except (UsageError, ValueError) as exc:
        sys.stderr.write(f"{exc}\nSee 'dockyard registry token-server --help'.\n")
        return 125
    from dockyard.registry.tokenserver import TokenServerConfig
    from dockyard.registry.tokenserver import main as token_main

    try:
        return token_main(TokenServerConfig(addr=options["addr"], key=options["key"], cert=options["cert"],
                                            issuer=options["issuer"], service=options["service"],
                                            htpasswd=options["htpasswd"], expiration=expiration,
                                            tls_cert=options["tls-cert"], tls_key=options["tls-key"],
                                            anonymous_pull=anonymous))
    except OSError as exc:
        sys.stderr.write(f"dockyard registry token-server: {exc}\n")
        return 1
