"""The build cache: which image a step produced, keyed by what determines it.

A key is the digest of the parent image ID, the step's resulting container config (which holds
the instruction as Docker's CreatedBy text, with the build args a RUN sees) and, for COPY/ADD,
the checksum of the copied entries. Docker's classic builder finds the same match by scanning the
parent's children; an index makes the lookup one read. Records are written atomically; a record
whose image is gone is simply a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

from dockyard.util.atomic import read_json, write_json
from dockyard.util.timefmt import now_ns


def step_key(parent_id: str, config: dict, extra: str = "") -> str:
    text = json.dumps([parent_id, config, extra], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class BuildCache:
    def __init__(self, data_root: str) -> None:
        self.path = os.path.join(data_root, "build", "cache.json")
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._lock = threading.Lock()
        self._records: dict[str, dict] = read_json(self.path) if os.path.exists(self.path) else {}

    def get(self, key: str) -> list[str]:
        """The images made for this step, newest first (an older one may be the one --cache-from allows)."""
        with self._lock:
            record = self._records.get(key)
            return [record["image"], *record.get("older", [])] if record else []

    def put(self, key: str, image_id: str, size: int, description: str) -> None:
        with self._lock:
            records = dict(self._records)
            old = records.get(key)
            older = [i for i in ([old["image"], *old.get("older", [])] if old else []) if i != image_id][:8]
            records[key] = {"image": image_id, "created": now_ns(), "size": size, "description": description}
            if older:
                records[key]["older"] = older
            write_json(self.path, records)
            self._records = records

    def items(self) -> list[tuple[str, dict]]:
        with self._lock:
            return list(self._records.items())

    def drop(self, keys: list[str]) -> None:
        with self._lock:
            records = {k: v for k, v in self._records.items() if k not in set(keys)}
            write_json(self.path, records)
            self._records = records
