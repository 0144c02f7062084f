"""Domain errors. Services raise these; the API maps each kind to Docker's HTTP status."""


class DockyardError(Exception):
    """Base class: the message is what the user sees, in Docker's words where Docker has words."""

    status = 500


class InvalidParameter(DockyardError):
    status = 400


class Forbidden(DockyardError):
    status = 403


class NotFound(DockyardError):
    status = 404


class Conflict(DockyardError):
    status = 409


class NotImplementedYet(DockyardError):
    status = 501


class Unavailable(DockyardError):
    status = 503


class SystemError_(DockyardError):
    """Something the kernel or the host refused; the message says what."""

    status = 500
