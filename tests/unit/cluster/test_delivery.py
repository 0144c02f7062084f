"""A task's secret and config references become the engine backend's TaskFiles, each payload
opened by ID only for the task that names it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dockyard.cluster.delivery import task_files
from dockyard.engine.backend import TaskFile
from dockyard.errors import InvalidParameter


@dataclass
class Target:
    name: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass
class SecretRef:
    file: Target | None
    secret_id: str
    secret_name: str


@dataclass
class ConfigRef:
    file: Target | None
    config_id: str
    config_name: str
    runtime: dict | None = None


def test_references_become_task_files_opened_by_id() -> None:
    opened: list[str] = []

    def open_secret(object_id: str) -> bytes:
        opened.append(object_id)
        return {"s1": b"pw", "s2": b"key"}[object_id]

    files = task_files(
        [SecretRef(Target("db_password", "1000", "1001", 0o400), "s1", "db"),
         SecretRef(Target("/etc/ssl/key.pem"), "s2", "tls")],
        [ConfigRef(Target("/etc/nginx.conf", "0", "0", 0o644), "c1", "nginx"),
         ConfigRef(None, "c2", "credspec", runtime={})],
        open_secret, lambda object_id: b"conf-" + object_id.encode())
    assert files == [
        TaskFile("db", b"pw", "db_password", 1000, 1001, 0o400, "secret"),
        TaskFile("tls", b"key", "/etc/ssl/key.pem", 0, 0, 0o444, "secret"),
        TaskFile("nginx", b"conf-c1", "/etc/nginx.conf", 0, 0, 0o644, "config"),
    ]
    assert opened == ["s1", "s2"]  # the runtime-target config gives no file and is not opened
    assert [f.path_in_container() for f in files] == ["/run/secrets/db_password", "/etc/ssl/key.pem",
                                                      "/etc/nginx.conf"]


def test_a_non_numeric_owner_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="invalid UID 'www' for db"):
        task_files([SecretRef(Target("x", "www"), "s1", "db")], [], lambda i: b"", lambda i: b"")
