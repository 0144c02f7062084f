"""Autolock through the real docker CLI and docker-py: init --autolock, unlock-key [--rotate], a
restarted manager locked until `swarm unlock`, autolock turned off and on."""

from __future__ import annotations

import json
import re

import docker
import pytest
from conftest import PrivateDaemon
from swarm_helpers import free_port, ok, refused

LOCKED = ('Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" '
          "to unlock it.")


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
    out = ok(d.docker("swarm", "init", "--autolock", "--listen-addr", f"127.0.0.1:{free_port()}",
                       "--advertise-addr", "127.0.0.1"))
    key = re.search(r"\n    (SWMKEY-1-\S+)\n", out).group(1)
    assert "To unlock a swarm manager after it restarts, run the `docker swarm unlock`" in out
    assert ok(d.docker("swarm", "unlock-key", "-q")).strip() == key
    assert json.loads(ok(d.docker("info", "--format", "{{json .Swarm.Cluster.Spec.EncryptionConfig}}"))) == {
        "AutoLockManagers": True}
    rotated = ok(d.docker("swarm", "unlock-key", "--rotate"))
    assert rotated.startswith("Successfully rotated manager unlock key.\n")
    new_key = ok(d.docker("swarm", "unlock-key", "-q")).strip()
    assert new_key != key and new_key in rotated

    d.stop()
    d.start()
    assert LOCKED in refused(d.docker("node", "ls"))
    info = json.loads(ok(d.docker("info", "--format", "{{json .Swarm}}")))
    assert (info["LocalNodeState"], info["NodeID"], info["Error"]) == ("locked", "", LOCKED)
    assert "Swarm is encrypted and locked. Please unlock it first" in refused(d.docker("swarm", "leave"))
    assert "swarm could not be unlocked: invalid key provided" in refused(
        d.docker("swarm", "unlock", input=(key + "\n").encode()))  # the key before the rotation
    assert "invalid key string" in refused(d.docker("swarm", "unlock", input=b"garbage\n"))
    ok(d.docker("swarm", "unlock", input=(new_key + "\n").encode()))
    assert "swarm is not locked" in refused(d.docker("swarm", "unlock", input=(new_key + "\n").encode()))
    assert ok(d.docker("node", "ls", "--format", "{{.Status}}")).strip() == "Ready"

    assert ok(d.docker("swarm", "update", "--autolock=false")).strip() == "Swarm updated."
    assert "no unlock key is set" in refused(d.docker("swarm", "unlock-key"))
    d.stop()
    d.start()
    assert ok(d.docker("node", "ls", "--format", "{{.Status}}")).strip() == "Ready"  # not locked any more
    out = ok(d.docker("swarm", "update", "--autolock=true"))
    assert out.startswith("Swarm updated.\n") and re.search(r"SWMKEY-1-\S+", out)


def test_autolock_with_docker_py(node) -> None:
    client = docker.APIClient(base_url=node.host)
    spec = client.create_swarm_spec(autolock_managers=True)
    client.init_swarm("127.0.0.1", listen_addr=f"127.0.0.1:{free_port()}", swarm_spec=spec)
    first = client.get_unlock_key()["UnlockKey"]
    assert client.inspect_swarm()["Spec"]["EncryptionConfig"]["AutoLockManagers"] is True
    version = client.inspect_swarm()["Version"]["Index"]
    assert client.update_swarm(version=version, rotate_manager_unlock_key=True)
    assert client.get_unlock_key()["UnlockKey"] not in ("", first)
    with pytest.raises(docker.errors.APIError) as not_locked:
        client.unlock_swarm(first)
    assert not_locked.value.response.status_code == 409


def test_ca_rotation_with_the_docker_cli(node, tmp_path) -> None:
    from cryptography import x509

    from dockyard.cluster.ca import RootCA
    from dockyard.cluster.tokens import ca_digest, ca_digest_from_token

    d = node
    ok(d.docker("swarm", "init", "--autolock", "--listen-addr", f"127.0.0.1:{free_port()}", "--advertise-addr",
                "127.0.0.1"))
    key = ok(d.docker("swarm", "unlock-key", "-q")).strip()
    old_root = ok(d.docker("swarm", "ca")).strip()
    old_worker = ok(d.docker("swarm", "join-token", "-q", "worker")).strip()

    # Waits for the node's certificate and trust root, then prints the new root, as Docker does.
    out = ok(d.docker("swarm", "ca", "--rotate", "--cert-expiry", "3h"))
    new_root = ok(d.docker("swarm", "ca")).strip()
    assert new_root != old_root and out.strip().endswith(new_root)
    worker = ok(d.docker("swarm", "join-token", "-q", "worker")).strip()
    assert worker != old_worker and ca_digest_from_token(worker) == ca_digest((new_root + "\n").encode())
    assert ok(d.docker("node", "ls", "--format", "{{.TLSStatus}}")).strip() == "Ready"
    certs = f"{d.data_root}/swarm/certificates"
    leaf = x509.load_pem_x509_certificates(open(f"{certs}/swarm-node.crt", "rb").read())[0]
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds() == 4 * 3600  # 3h + 1h backdate
    assert open(f"{certs}/swarm-node.key", "rb").read().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")

    mine = RootCA.generate()
    (tmp_path / "ca.pem").write_bytes(mine.cert_pem)
    (tmp_path / "ca.key").write_bytes(mine.key_pem or b"")
    out = ok(d.docker("swarm", "ca", "--rotate", "--ca-cert", str(tmp_path / "ca.pem"), "--ca-key",
                      str(tmp_path / "ca.key")))
    assert out.strip().endswith(mine.cert_pem.decode().strip())
    assert "external CAs (--external-ca) are not supported by Dockyard" in refused(
        d.docker("swarm", "update", "--external-ca", "protocol=cfssl,url=https://127.0.0.1:9/"))

    # The renewed node key is still under the unlock key: a restart locks, the key opens.
    d.stop()
    d.start()
    ok(d.docker("swarm", "unlock", input=(key + "\n").encode()))
    assert ok(d.docker("swarm", "ca")).strip() == mine.cert_pem.decode().strip()
