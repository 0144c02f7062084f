"""What we know about compressed blobs of our layers: DiffID -> {blob digest: size, media type and
the repositories ("domain/path") known to hold it}. A pull or push adds to it; a push uses it to
skip (HEAD) or mount a layer without compressing it again."""

from __future__ import annotations

import os
import threading

from dockyard.util.atomic import read_json, write_json


class BlobRecord:
    def __init__(self, root: str) -> None:
        os.makedirs(root, exist_ok=True)
        self._path = os.path.join(root, "blobs.json")
        self._lock = threading.Lock()
        try:
            self._data: dict[str, dict[str, dict]] = read_json(self._path)
        except (OSError, ValueError):
            self._data = {}

    def add(self, diff_id: str, blob: str, size: int, media_type: str, repository: str) -> None:
        with self._lock:
            data = {k: {b: dict(v) for b, v in blobs.items()} for k, blobs in self._data.items()}
            entry = data.setdefault(diff_id, {}).setdefault(blob, {"size": size, "mediaType": media_type,
                                                                    "repositories": []})
            if repository in entry["repositories"]:
                return
            entry["repositories"] = [*entry["repositories"], repository][-16:]  # bounded: mount candidates
            write_json(self._path, data)
            self._data = data

    def blobs(self, diff_id: str) -> dict[str, dict]:
        """blob digest -> {size, mediaType, repositories} for this DiffID."""
        with self._lock:
            return {b: dict(v) for b, v in self._data.get(diff_id, {}).items()}
