"""The one error type of compose: its message is what the user reads, and the command exits 1 (or 15 for
a file that does not load, as Compose v2 does)."""


class ComposeError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
