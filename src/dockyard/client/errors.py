"""How the programs on this client, `dockyard` and `dockyard compose`, end on an error: the
daemon's answer, a daemon that cannot be reached, a closed output pipe and Ctrl-C, as Docker's
CLIs report them."""

import sys

from dockyard.client.transport import APIError, ConnectionFailed


def daemon_error(message: str, prefix: str = "") -> int:
    """Report an error the daemon answered (``prefix`` "dockyard: " where Docker's CLI adds its
    name); the exit code of a command that failed with it."""
    sys.stderr.write(f"{prefix}Error response from daemon: {message}\n")
    return 1


def report_errors(call, known: tuple = ()) -> int:
    """``call()``'s exit code, or the one Docker's CLI gives for what it raised. ``known`` adds
    the caller's own errors (usage errors, Compose's errors) as (exception type, function that
    reports one and returns the exit code) pairs. (Untyped: `typing` and `collections.abc` would
    cost every CLI start.)"""
    try:
        return call() or 0
    except APIError as exc:
        return daemon_error(exc.message)
    except ConnectionFailed as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except BrokenPipeError:
        return 0  # the reader went away (`dockyard ps | head -1`)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        for kind, report in known:
            if isinstance(exc, kind):
                return report(exc)
        raise
