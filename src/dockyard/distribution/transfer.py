"""What a pull and a push share: the stores, registry settings, where progress goes, the caller's
credentials, and a flag that stops the transfer when the client goes away."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from dockyard.distribution.auth import Credentials
from dockyard.distribution.blobrecord import BlobRecord
from dockyard.distribution.endpoints import RegistryOptions
from dockyard.distribution.progress import Emit
from dockyard.errors import DockyardError
from dockyard.images.store import ImageStore


class Cancelled(DockyardError):
    status = 500


@dataclass
class Transfer:
    store: ImageStore
    options: RegistryOptions
    record: BlobRecord
    emit: Emit
    credentials: Credentials
    cancel: threading.Event = field(default_factory=threading.Event)

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("the transfer was cancelled: the client went away")
