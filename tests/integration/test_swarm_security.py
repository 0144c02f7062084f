"""Autolock through the real docker CLI and docker-py: init --autolock, unlock-key [--rotate], a
restarted manager locked until `swarm unlock`, autolock turned off and on."""

from __future__ import annotations

import json
import re
import socket

import docker
import pytest
from conftest import PrivateDaemon

LOCKED = ('Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" '
          "to unlock it.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def _refused(result) -> str:
    assert result.returncode != 0, result.stdout.decode()
    return result.stderr.decode()


@pytest.fixture
def node(busybox_tar):
    d = PrivateDaemon(busybox_tar).start()
    try:
        yield d
    finally:
        d.docker("swarm", "leave", "--force")
        d.cleanup()


def test_autolock_with_the_docker_cli(node) -> None:
    d = node
    out = _ok(d.docker("swarm", "init", "--autolock", "--listen-addr", f"127.0.0.1:{_free_port()}",
                       "--advertise-addr", "127.0.0.1"))
    key = re.search(r"\n    (SWMKEY-1-\S+)\n", out).group(1)
    assert "To unlock a swarm manager after it restarts, run the `docker swarm unlock`" in out
    assert _ok(d.docker("swarm", "unlock-key", "-q")).strip() == key
    assert json.loads(_ok(d.docker("info", "--format", "{{json .Swarm.Cluster.Spec.EncryptionConfig}}"))) == {
        "AutoLockManagers": True}
    rotated = _ok(d.docker("swarm", "unlock-key", "--rotate"))
    assert rotated.startswith("Successfully rotated manager unlock key.\n")
    new_key = _ok(d.docker("swarm", "unlock-key", "-q")).strip()
    assert new_key != key and new_key in rotated

    d.stop()
    d.start()
    assert LOCKED in _refused(d.docker("node", "ls"))
    info = json.loads(_ok(d.docker("info", "--format", "{{json .Swarm}}")))
    assert (info["LocalNodeState"], info["NodeID"], info["Error"]) == ("locked", "", LOCKED)
    assert "Swarm is encrypted and locked. Please unlock it first" in _refused(d.docker("swarm", "leave"))
    assert "swarm could not be unlocked: invalid key provided" in _refused(
        d.docker("swarm", "unlock", input=(key + "\n").encode()))  # the key before the rotation
    assert "invalid key string" in _refused(d.docker("swarm", "unlock", input=b"garbage\n"))
    _ok(d.docker("swarm", "unlock", input=(new_key + "\n").encode()))
    assert "swarm is not locked" in _refused(d.docker("swarm", "unlock", input=(new_key + "\n").encode()))
    assert _ok(d.docker("node", "ls", "--format", "{{.Status}}")).strip() == "Ready"

    assert _ok(d.docker("swarm", "update", "--autolock=false")).strip() == "Swarm updated."
    assert "no unlock key is set" in _refused(d.docker("swarm", "unlock-key"))
    d.stop()
    d.start()
    assert _ok(d.docker("node", "ls", "--format", "{{.Status}}")).strip() == "Ready"  # not locked any more
    out = _ok(d.docker("swarm", "update", "--autolock=true"))
    assert out.startswith("Swarm updated.\n") and re.search(r"SWMKEY-1-\S+", out)


def test_autolock_with_docker_py(node) -> None:
    client = docker.APIClient(base_url=node.host)
    spec = client.create_swarm_spec(autolock_managers=True)
    client.init_swarm("127.0.0.1", listen_addr=f"127.0.0.1:{_free_port()}", swarm_spec=spec)
    first = client.get_unlock_key()["UnlockKey"]
    assert client.inspect_swarm()["Spec"]["EncryptionConfig"]["AutoLockManagers"] is True
    version = client.inspect_swarm()["Version"]["Index"]
    assert client.update_swarm(version=version, rotate_manager_unlock_key=True)
    assert client.get_unlock_key()["UnlockKey"] not in ("", first)
    with pytest.raises(docker.errors.APIError) as not_locked:
        client.unlock_swarm(first)
    assert not_locked.value.response.status_code == 409
