"""Dockyard's own registry (`dockyard registry serve`) for tests, configured through the same
config.yml as tests/registry.py's docker-registry, plus the sections only Dockyard reads."""

from __future__ import annotations

import sys
from pathlib import Path

from registry import Registry

DOCKYARD = str(Path(sys.executable).parent / "dockyard")


class DockyardRegistry(Registry):
    """``extra`` is YAML appended to the config (top-level sections such as notifications or proxy);
    ``storage_extra`` lines go under ``storage:`` (gc, maintenance)."""

    def __init__(self, *, extra: str = "", storage_extra: str = "", log_level: str = "warn", **kwargs) -> None:
        super().__init__(**kwargs)
        self.log_level = log_level
        self.command = [DOCKYARD, "registry", "serve"]
        self.name = "dockyard registry"
        self.extra = extra
        self.storage_extra = storage_extra

    def kill(self) -> None:
        """SIGKILL, keeping the data directory (for restarts after a crash)."""
        self.proc.kill()
        self.proc.wait()

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def _config(self) -> str:
        text = super()._config().replace("  level: warn\n", f"  level: {self.log_level}\n", 1)
        if self.storage_extra:
            text = text.replace("storage:\n", "storage:\n" + self.storage_extra.rstrip("\n") + "\n", 1)
        return text + self.extra

