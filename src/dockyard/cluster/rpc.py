"""swarmkit's control-API errors as Docker 20.10 shows them.

dockerd passes swarmkit's gRPC errors through unchanged: the message is the gRPC status text
("rpc error: code = FailedPrecondition desc = ...") and the HTTP status comes from the code
(moby's api/server/httpstatus: InvalidArgument and FailedPrecondition 400, NotFound 404,
AlreadyExists 409, Unknown 500). Clients and scripts match these texts, so Dockyard writes them
the same way (docs/compat.md).
"""

from __future__ import annotations

from dockyard.errors import DockyardError

SEQUENCE_CONFLICT = "update out of sequence"  # swarmkit's store.ErrSequenceConflict


class RpcError(DockyardError):
    code = "Unknown"
    status = 500

    def __init__(self, desc: str) -> None:
        super().__init__(f"rpc error: code = {self.code} desc = {desc}")
        self.desc = desc


class SequenceConflict(RpcError):
    """An update named a version the object has moved past (swarmkit returns it untyped: Unknown, 500)."""

    def __init__(self) -> None:
        super().__init__(SEQUENCE_CONFLICT)


class FailedPrecondition(RpcError):
    code = "FailedPrecondition"
    status = 400


class InvalidArgument(RpcError):
    code = "InvalidArgument"
    status = 400


class AlreadyExists(RpcError):
    code = "AlreadyExists"
    status = 409


class Unimplemented(RpcError):
    code = "Unimplemented"
    status = 501
