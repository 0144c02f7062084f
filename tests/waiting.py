"""Polling for a state a test waits on, without wall-clock assertions."""

import time


def until(predicate, timeout: float = 10.0) -> bool:
    """True as soon as ``predicate()`` is, False if it never is within ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
