"""Restart policies (`--restart`) and Docker's backoff, as moby's restartmanager applies them."""

from dockyard.engine.specs.containers import RestartPolicy
from dockyard.errors import InvalidParameter

POLICIES = ("no", "always", "on-failure", "unless-stopped")
INITIAL_DELAY = 0.1  # seconds; doubles after each restart
MAX_DELAY = 60.0
RESET_AFTER = 10.0  # a container that ran this long starts again from the initial delay


def validate(policy: RestartPolicy | None, auto_remove: bool) -> RestartPolicy:
    """The policy with its defaults filled in, or Docker's error for it."""
    name = (policy.name if policy else None) or "no"
    retries = (policy.maximum_retry_count if policy else None) or 0
    if name not in POLICIES:
        raise InvalidParameter(f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
                               "'on-failure', or 'unless-stopped'")
    if not isinstance(retries, int) or retries < 0:
        raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    if retries and name != "on-failure":
        raise InvalidParameter("invalid restart policy: maximum retry count can only be used with 'on-failure'")
    if auto_remove and name != "no":
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    return RestartPolicy(name, retries)


def should_restart(policy: RestartPolicy | None, exit_code: int, restart_count: int, manually_stopped: bool) -> bool:
    name = (policy.name if policy else None) or "no"
    if manually_stopped or name == "no":
        return False
    if name in ("always", "unless-stopped"):
        return True
    retries = (policy.maximum_retry_count if policy else None) or 0
    return exit_code != 0 and (retries == 0 or restart_count < retries)


def next_delay(previous: float, uptime: float) -> float:
    if previous <= 0 or uptime >= RESET_AFTER:
        return INITIAL_DELAY
    return min(previous * 2, MAX_DELAY)


def restart_on_daemon_start(policy: RestartPolicy | None, manually_stopped: bool) -> bool:
    """Docker restarts `always` containers when the daemon starts, and `unless-stopped` ones unless
    a user stopped them."""
    name = (policy.name if policy else None) or "no"
    return name == "always" or (name == "unless-stopped" and not manually_stopped)
