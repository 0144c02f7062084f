"""The real docker CLI pulling, pushing and logging in through Dockyard."""

import json

import pytest
from registry import Registry


@pytest.fixture(scope="module")
def basic_registry():
    reg = Registry(users={"carol": "s3cret"}).start()
    yield reg
    reg.stop()


def _import(daemon, name: str) -> str:
    with open(daemon.busybox_tar, "rb") as f:
        out = daemon.client.call("POST", "/images/create", query={"fromSrc": "-", "repo": name, "tag": "latest",
                                                                  "changes": ['CMD ["sh"]']}, body=f)
    return out["status"] if isinstance(out, dict) else json.loads(out.decode().splitlines()[-1])["status"]


def test_docker_login_push_pull_through_dockyard(daemon, basic_registry):
    name = f"{basic_registry.host}/compat/busybox"
    image_id = _import(daemon, name)
    wrong = daemon.docker("login", "-u", "carol", "--password-stdin", basic_registry.host, input=b"nope\n")
    assert wrong.returncode == 1
    assert "401 Unauthorized" in wrong.stderr.decode()
    good = daemon.docker("login", "-u", "carol", "--password-stdin", basic_registry.host, input=b"s3cret\n")
    assert good.returncode == 0, good.stderr.decode()
    assert "Login Succeeded" in good.stdout.decode()
    push = daemon.docker("push", name)
    assert push.returncode == 0, push.stderr.decode()
    out = push.stdout.decode()
    assert f"The push refers to repository [{name}]" in out and "latest: digest: sha256:" in out
    daemon.client.call("DELETE", f"/images/{image_id}", query={"force": True})
    pull = daemon.docker("pull", name)
    assert pull.returncode == 0, pull.stderr.decode()
    lines = pull.stdout.decode().splitlines()
    assert lines[0] == "Using default tag: latest"
    assert lines[1] == "latest: Pulling from compat/busybox"
    assert lines[-2] == f"Status: Downloaded newer image for {name}:latest" and lines[-1] == f"{name}:latest"
    inspect = json.loads(daemon.docker("image", "inspect", name).stdout)
    assert inspect[0]["Id"] == image_id and inspect[0]["RepoDigests"][0].startswith(f"{name}@sha256:")
    run = daemon.docker("run", "--rm", name, "echo", "via docker")
    assert run.stdout == b"via docker\n", run.stderr.decode()


def test_docker_pull_error_is_dockers(daemon, basic_registry):
    result = daemon.docker("pull", f"{basic_registry.host}/compat/missing:tag")
    assert result.returncode == 1
    assert result.stderr.decode().startswith("Error response from daemon: ")
