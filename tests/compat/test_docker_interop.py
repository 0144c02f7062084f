"""Interoperability with real Docker through a registry: an image pushed by a private dockerd is
pulled by Dockyard and runs, and the reverse. Skipped only when dockerd cannot start here."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import DOCKER_CLI, ROOT
from registry import Registry

sys.path.insert(0, str(ROOT / "bench"))
from daemons import dockerd_paths_present, free_subnet24, make_bridge, mounts_under, remove_dockerd_paths  # noqa: E402

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"


class PrivateDockerd:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="dockyard-dockerd-", dir="/tmp"))
        self.host = f"unix://{self.dir}/docker.sock"
        self.existed = dockerd_paths_present()
        self.bridge = f"dk{os.urandom(3).hex()}"  # never --bridge=none: dockerd would delete the host's docker0
        self.proc: subprocess.Popen | None = None
        self.env = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.dir / "config")}

    def start(self) -> "PrivateDockerd":
        (self.dir / "daemon.json").write_text("{}\n")
        make_bridge(self.bridge, f"{free_subnet24()}.1/24")
        log = open(self.dir / "dockerd.log", "wb")
        self.proc = subprocess.Popen(
            [DOCKERD, "-H", self.host, "--data-root", str(self.dir / "data"), "--exec-root", str(self.dir / "exec"),
             "--pidfile", str(self.dir / "docker.pid"), "--config-file", str(self.dir / "daemon.json"),
             f"--bridge={self.bridge}", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
             "--ip-masq=false"],
            stdout=log, stderr=log, start_new_session=True)
        deadline = time.time() + 40
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            if self.docker("version").returncode == 0:
                return self
            time.sleep(0.2)
        log_text = (self.dir / "dockerd.log").read_text(errors="replace")[-2000:]
        self.stop()
        pytest.skip(f"dockerd could not start here:\n{log_text}")

    def docker(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([DOCKER_CLI, *args], capture_output=True, env=self.env, input=input, timeout=120)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for target in sorted(mounts_under(str(self.dir)), key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
        remove_dockerd_paths(self.existed)


@pytest.fixture(scope="module")
def dockerd():
    if not os.path.exists(DOCKERD):
        pytest.skip("dockerd is not installed (apt-get install docker.io)")
    d = PrivateDockerd().start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def registry():
    reg = Registry().start()
    yield reg
    reg.stop()


def test_docker_pushes_dockyard_pulls_and_runs(dockerd, daemon, registry):
    name = f"{registry.host}/interop/from-docker"
    with open(daemon.busybox_tar, "rb") as f:
        imported = dockerd.docker("import", "-c", 'CMD ["sh"]', "-c", "ENV FROM=docker", "-", name, input=f.read())
    assert imported.returncode == 0, imported.stderr.decode()
    pushed = dockerd.docker("push", name)
    assert pushed.returncode == 0, pushed.stderr.decode()
    docker_id = json.loads(dockerd.docker("image", "inspect", name).stdout)[0]["Id"]
    pulled = daemon.cli("pull", name)
    assert pulled.returncode == 0, pulled.stderr.decode()
    assert daemon.client.call("GET", f"/images/{name}/json")["Id"] == docker_id
    run = daemon.cli("run", "--rm", name, "sh", "-c", "echo $FROM")
    assert run.stdout == b"docker\n", run.stderr.decode()


def test_dockyard_pushes_docker_pulls_and_runs(dockerd, daemon, registry):
    name = f"{registry.host}/interop/from-dockyard"
    with open(daemon.busybox_tar, "rb") as f:
        out = daemon.client.call("POST", "/images/create", query={"fromSrc": "-", "repo": name, "tag": "latest",
                                                                  "changes": ['CMD ["sh"]', "ENV FROM=dockyard"]},
                                 body=f)
    image_id = out["status"] if isinstance(out, dict) else json.loads(out.decode().splitlines()[-1])["status"]
    pushed = daemon.cli("push", name)
    assert pushed.returncode == 0, pushed.stderr.decode()
    pulled = dockerd.docker("pull", name)
    assert pulled.returncode == 0, pulled.stderr.decode()
    assert json.loads(dockerd.docker("image", "inspect", name).stdout)[0]["Id"] == image_id
    run = dockerd.docker("run", "--rm", "--network", "none", name, "sh", "-c", "echo $FROM")
    assert run.stdout == b"dockyard\n", run.stderr.decode()
