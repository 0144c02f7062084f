"""Secrets and configs through the real docker CLI and docker-py against a one-node swarm of a
private dockyardd: create from a file and stdin, ls with filters and formats, inspect, rm, Docker's
refusals, and the data never on the daemon's disk (its etcd files included)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import docker
import pytest
from test_swarm import _free_port, _ok


def _refused(result) -> str:
    assert result.returncode != 0, result.stdout.decode()
    return result.stderr.decode()


@pytest.fixture(scope="module")
def swarm(busybox_tar):
    from conftest import PrivateDaemon

    d = PrivateDaemon(busybox_tar).start()
    try:
        _ok(d.docker("swarm", "init", "--listen-addr", f"127.0.0.1:{_free_port()}", "--advertise-addr", "127.0.0.1"))
        yield d
        d.docker("swarm", "leave", "--force")
    finally:
        d.cleanup()


def files_holding(root: str, needle: bytes) -> list[str]:
    """Every regular file under `root` on root's own filesystem whose bytes contain `needle`
    (mounts under it, such as a container's in-memory secrets, are not the disk and are skipped)."""
    device = os.stat(root).st_dev
    found = []
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.lstat(os.path.join(top, d)).st_dev == device]
        for name in files:
            path = os.path.join(top, name)
            try:
                if os.path.isfile(path) and not os.path.islink(path) and needle in Path(path).read_bytes():
                    found.append(path)
            except OSError:
                pass
    return found


def test_secrets_with_the_docker_cli(swarm, tmp_path) -> None:
    d = swarm
    source = tmp_path / "password.txt"
    source.write_bytes(b"correct horse battery staple\n")
    sid = _ok(d.docker("secret", "create", "--label", "env=prod", "--label", "team", "db_password",
                       str(source))).strip()
    assert len(sid) == 25
    web = _ok(d.docker("secret", "create", "web.key", "-", input=b"from stdin")).strip()

    rows = _ok(d.docker("secret", "ls")).splitlines()
    assert rows[0].split() == ["ID", "NAME", "DRIVER", "CREATED", "UPDATED"]
    assert sorted(r.split()[1] for r in rows[1:]) == ["db_password", "web.key"]
    assert _ok(d.docker("secret", "ls", "-q", "--filter", "label=env=prod")).split() == [sid]
    assert _ok(d.docker("secret", "ls", "-q", "--filter", "name=web")).split() == [web]
    assert _ok(d.docker("secret", "ls", "-q", "--filter", f"id={sid[:6]}")).split() == [sid]
    assert _ok(d.docker("secret", "ls", "--format", "{{.Name}}:{{.Labels}}", "--filter", "label=team")).strip() \
        in ("db_password:env=prod,team=", "db_password:team=,env=prod")

    [shown] = json.loads(_ok(d.docker("secret", "inspect", "db_password")))
    assert shown["ID"] == sid and shown["Spec"]["Name"] == "db_password"
    assert shown["Spec"]["Labels"] == {"env": "prod", "team": ""} and "Data" not in shown["Spec"]
    assert shown["Version"]["Index"] > 0 and shown["CreatedAt"].endswith("Z")
    pretty = _ok(d.docker("secret", "inspect", "--pretty", sid[:8]))
    assert f"ID:              {sid}" in pretty and "Name:              db_password" in pretty

    again = _refused(d.docker("secret", "create", "db_password", str(source)))
    assert "rpc error: code = AlreadyExists desc = secret db_password already exists" in again
    bad = _refused(d.docker("secret", "create", "--", "-bad-", str(source)))
    assert ("invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be "
            "[a-zA-Z0-9]") in bad
    big = _refused(d.docker("secret", "create", "big", "-", input=b"x" * 512000))
    assert "secret data must be larger than 0 and less than 512000 bytes" in big
    driver = _refused(d.docker("secret", "create", "--driver", "vault", "ext"))
    assert 'rpc error: code = Unknown desc = plugin "vault" not found' in driver
    assert "Error response from daemon: secret nosuch not found" in _refused(d.docker("secret", "inspect", "nosuch"))

    assert _ok(d.docker("secret", "rm", "db_password", web)).split() == ["db_password", web]
    assert _ok(d.docker("secret", "ls", "-q")) == ""
    assert "secret nosuch not found" in _refused(d.docker("secret", "rm", "nosuch"))
    # Created, listed and removed: the data never reached the daemon's disk, etcd's files included.
    assert files_holding(d.dir, b"correct horse battery staple") == []


def test_configs_with_the_docker_cli(swarm, tmp_path) -> None:
    d = swarm
    source = tmp_path / "app.conf"
    source.write_bytes(b"listen 8080\n")
    cid = _ok(d.docker("config", "create", "--label", "app=web", "app.conf", str(source))).strip()
    templated = _ok(d.docker("config", "create", "--template-driver", "golang", "tmpl", "-",
                             input=b"{{ .Service.Name }}")).strip()
    rows = _ok(d.docker("config", "ls")).splitlines()
    assert rows[0].split() == ["ID", "NAME", "CREATED", "UPDATED"]
    assert sorted(r.split()[1] for r in rows[1:]) == ["app.conf", "tmpl"]
    [shown] = json.loads(_ok(d.docker("config", "inspect", "app.conf")))
    assert shown["ID"] == cid and shown["Spec"]["Data"] == "bGlzdGVuIDgwODAK"  # a config's data is shown
    assert shown["Spec"]["Labels"] == {"app": "web"}
    [tmpl] = json.loads(_ok(d.docker("config", "inspect", templated)))
    assert tmpl["Spec"]["Templating"] == {"Name": "golang"}
    pretty = _ok(d.docker("config", "inspect", "--pretty", "app.conf"))
    assert "Data:\nlisten 8080" in pretty
    assert "config app.conf already exists" in _refused(d.docker("config", "create", "app.conf", str(source)))
    assert _ok(d.docker("config", "rm", cid, "tmpl")).split() == [cid, "tmpl"]
    assert _ok(d.docker("config", "ls", "-q")) == ""


def test_secrets_and_configs_with_docker_py(swarm) -> None:
    client = docker.DockerClient(base_url=swarm.host)
    secret = client.secrets.create(name="api-token", data="いざよいさくや", labels={"a": "b"})
    assert client.secrets.get(secret.id).name == "api-token"
    assert [s.id for s in client.secrets.list(filters={"names": ["api-token"]})] == [secret.id]
    assert client.secrets.list(filters={"names": ["api"]}) == []
    low = client.api
    version = low.inspect_secret(secret.id)["Version"]["Index"]
    res = low._post_json(low._url("/secrets/{0}/update", secret.id), params={"version": version},
                         data={"Name": "api-token", "Labels": {"c": "d"}})
    low._raise_for_status(res)
    assert low.inspect_secret("api-token")["Spec"]["Labels"] == {"c": "d"}
    stale = low._post_json(low._url("/secrets/{0}/update", secret.id), params={"version": version},
                           data={"Name": "api-token", "Labels": {}})
    assert stale.status_code == 500 and "update out of sequence" in stale.json()["message"]
    with pytest.raises(docker.errors.APIError, match="only updates to Labels are allowed"):
        low._raise_for_status(low._post_json(low._url("/secrets/{0}/update", secret.id),
                                             params={"version": version + 1},
                                             data={"Name": "other", "Labels": {}}))
    with pytest.raises(docker.errors.APIError, match="(?i)invalid filter 'nope'"):
        client.secrets.list(filters={"nope": "x"})
    for body in ({"Name": "x", "Data": "!!!"}, {"Name": "x", "Data": "YQ==", "Labels": ["a"]},
                 {"Name": "x", "Data": "YQ==", "Driver": {"Name": ""}}):
        refused = low._post_json(low._url("/secrets/create"), data=body)
        assert refused.status_code == 400, body
    old = docker.APIClient(base_url=swarm.host, version="1.36")
    refused = old._post_json(old._url("/secrets/create"), data={"Name": "x", "Data": "YQ==", "Templating": {}})
    assert refused.json()["message"] == "secret templating is not supported on the specified API version: 1.36"
    assert [s.id for s in client.secrets.list()] == [secret.id]  # nothing made by the refused requests
    secret.remove()
    with pytest.raises(docker.errors.NotFound):
        client.secrets.get(secret.id)

    config = client.configs.create(name="settings", data=b"a=1", templating={"name": "golang"})
    got = client.configs.get("settings")
    assert got.id == config.id and got.attrs["Spec"]["Templating"]["Name"] == "golang"
    assert [c.id for c in client.configs.list(filters={"name": ["sett"]})] == [config.id]
    with pytest.raises(docker.errors.APIError, match="(?i)invalid filter 'names'"):
        client.configs.list(filters={"names": ["settings"]})
    config.remove()
    assert client.configs.list() == []


def test_outside_a_swarm_the_commands_say_so(daemon) -> None:
    out = _refused(daemon.docker("secret", "ls"))
    assert "This node is not a swarm manager." in out
    assert "This node is not a swarm manager." in _refused(daemon.docker("config", "create", "x", "-", input=b"1"))


def test_the_dockyard_cli_answers_as_the_docker_cli(swarm, tmp_path) -> None:
    d = swarm
    source = tmp_path / "token"
    source.write_bytes(b"s3cr3t")
    sid = _ok(d.cli("secret", "create", "-l", "tier=db", "--template-driver", "golang", "token2", str(source))).strip()
    other = _ok(d.cli("secret", "create", "token10", "-", input=b"other")).strip()
    cid = _ok(d.cli("config", "create", "--label", "a=b", "site.conf", "-", input=b"listen 80\n")).strip()

    def same(*args: str, input: bytes | None = None) -> str:
        ours, theirs = d.cli(*args, input=input), d.docker(*args, input=input)
        assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr), args
        return ours.stdout.decode()

    assert same("secret", "ls", "--format", "{{.ID}} {{.Name}} [{{.Driver}}] {{.Labels}}").splitlines() == [
        f"{sid} token2 [] tier=db", f"{other} token10 [] "]  # natural order: 2 before 10
    assert same("secret", "ls", "-q", "--filter", "label=tier") == sid + "\n"
    header = same("secret", "ls", "--format", "table {{.Name}}\t{{.Driver}}").splitlines()[0]
    assert header.split() == ["NAME", "DRIVER"]
    assert d.cli("secret", "ls").stdout.decode().splitlines()[0].split() == ["ID", "NAME", "DRIVER", "CREATED",
                                                                             "UPDATED"]
    assert "Labels:\n - tier=db\n" in same("secret", "inspect", "--pretty", "token2")
    same("secret", "inspect", "token2", other)
    same("secret", "inspect", "--format", "{{.Spec.Name}} {{.Spec.Templating.Name}}", "token2")
    same("secret", "inspect", "token2", "nosuch")
    same("secret", "inspect", "--format", "pretty{{.ID}}", "token2")
    same("config", "inspect", "--pretty", "site.conf")
    same("config", "inspect", cid)
    assert same("config", "ls", "--format", "{{.Name}}") == "site.conf\n"
    assert d.cli("config", "ls").stdout.decode().splitlines()[0].split() == ["ID", "NAME", "CREATED", "UPDATED"]
    same("secret", "create", "empty", "-", input=b"")
    same("secret", "create", "missing", str(tmp_path / "nosuch"))
    same("secret", "create", "--driver", "vault", "ext", str(source))
    same("secret", "create", "token2", str(source))
    same("config", "create", "missing", str(tmp_path / "nosuch"))
    same("config", "create", "empty", "-", input=b"")
    partly = d.cli("secret", "rm", "token2", "nosuch", other)
    assert (partly.returncode, partly.stdout) == (1, f"token2\n{other}\n".encode())
    assert partly.stderr == b"Error response from daemon: secret nosuch not found\n"
    assert d.cli("secret", "ls", "-q").stdout == b""
    assert _ok(d.cli("config", "rm", cid)) == cid + "\n"


def test_secrets_through_autolock_a_restart_and_an_unlock(fresh_daemon) -> None:
    """With autolock the data key is wrapped by the unlock key: a restarted manager opens no secret
    until it is unlocked, and the data is intact afterwards (and through a key rotation)."""
    d = fresh_daemon
    out = _ok(d.docker("swarm", "init", "--autolock", "--listen-addr", f"127.0.0.1:{_free_port()}",
                       "--advertise-addr", "127.0.0.1"))
    key = next(word for word in out.split() if word.startswith("SWMKEY-1-"))
    try:
        _ok(d.docker("secret", "create", "locked", "-", input=b"kept under lock"))
        _ok(d.docker("config", "create", "conf", "-", input=b"plain config"))
        d.stop()
        d.start()
        locked = _refused(d.docker("config", "inspect", "conf"))
        assert "Swarm is encrypted and needs to be unlocked" in locked
        _ok(d.docker("swarm", "unlock", input=key.encode() + b"\n"))
        [conf] = json.loads(_ok(d.docker("config", "inspect", "conf")))
        assert conf["Spec"]["Data"] == "cGxhaW4gY29uZmln"  # opened with the unwrapped data key
        new_key = next(w for w in _ok(d.docker("swarm", "unlock-key", "--rotate")).split() if w.startswith("SWMKEY"))
        assert new_key != key
        [conf] = json.loads(_ok(d.docker("config", "inspect", "conf")))
        assert conf["Spec"]["Data"] == "cGxhaW4gY29uZmln"
        assert files_holding(d.dir, b"kept under lock") == [] and files_holding(d.dir, b"plain config") == []
    finally:
        d.docker("swarm", "leave", "--force")
