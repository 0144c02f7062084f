"""Errors a handler may raise, and the one the body reader raises on a broken body."""


class HTTPError(Exception):
    """Answer ``status`` with ``message`` as a plain-text body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BadBody(HTTPError):
    """The request body broke the protocol (bad chunk size, cut short, too slow). The server answers
    ``status`` if nothing was sent yet, and closes the connection: its framing can't be trusted."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(status, message)
