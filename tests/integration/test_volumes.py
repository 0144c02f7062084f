"""Volumes and mounts with real containers: -v in every form, --mount, --tmpfs, --volumes-from,
volume objects, rm -v, --read-only."""

import json
import os
import shutil
import tempfile

import pytest


def out(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def err(result) -> str:
    assert result.returncode != 0, result.stdout.decode()
    return result.stderr.decode()


@pytest.fixture
def host_dir():
    path = tempfile.mkdtemp(prefix="dockyard-bind-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def volume_names(daemon) -> set[str]:
    return set(out(daemon.cli("volume", "ls", "-q")).split())


def test_named_volume_shared_between_containers(daemon):
    out(daemon.cli("run", "--rm", "-v", "shared-data:/data", "busybox", "sh", "-c", "echo written > /data/f"))
    assert out(daemon.cli("run", "--rm", "-v", "shared-data:/data", "busybox", "cat", "/data/f")) == "written\n"
    view = json.loads(out(daemon.cli("volume", "inspect", "shared-data")))[0]
    assert view["Mountpoint"].endswith("/volumes/shared-data/_data") and view["Scope"] == "local"
    assert view["Driver"] == "local" and view["CreatedAt"].endswith("Z")
    assert "Read-only file system" in err(daemon.cli("run", "--rm", "-v", "shared-data:/data:ro", "busybox",
                                                     "sh", "-c", "echo x > /data/g"))
    out(daemon.cli("volume", "rm", "shared-data"))


def test_bind_mount_creates_a_missing_host_dir_and_obeys_ro(daemon, host_dir):
    missing = os.path.join(host_dir, "absent", "deeper")
    out(daemon.cli("run", "--rm", "-v", f"{missing}:/absent", "busybox", "sh", "-c", "echo hi > /absent/f"))
    assert open(os.path.join(missing, "f")).read() == "hi\n"
    r = daemon.cli("run", "--rm", "-v", f"{missing}:/absent:ro", "busybox", "sh", "-c", "cat /absent/f; rm /absent/f")
    assert r.stdout.decode() == "hi\n" and "Read-only file system" in r.stderr.decode()


def test_bind_permissions_follow_host_uids(daemon, host_dir):
    secret = os.path.join(host_dir, "secret")
    with open(secret, "w") as f:
        f.write("root only\n")
    os.chmod(secret, 0o600)
    r = daemon.cli("run", "--rm", "-u", "1000", "-v", f"{host_dir}:/d", "busybox", "cat", "/d/secret")
    assert "Permission denied" in err(r)
    assert out(daemon.cli("run", "--rm", "-v", f"{host_dir}:/d", "busybox", "cat", "/d/secret")) == "root only\n"


def test_mount_flag_forms(daemon, host_dir):
    text = out(daemon.cli("run", "--rm", "--mount", f"type=bind,source={host_dir},target=/b,readonly",
                          "--mount", "type=volume,src=mnt-vol,dst=/v", "--mount",
                          "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770",
                          "busybox", "sh", "-c", "grep -E ' /(b|v|t) ' /proc/mounts; stat -c %a /t"))
    lines = text.splitlines()
    assert any(" /b " in line and "ro," in line for line in lines)
    assert any(" /t tmpfs " in line and "size=1024k" in line for line in lines) and lines[-1] == "1770"
    assert "mnt-vol" in volume_names(daemon)
    missing = os.path.join(host_dir, "nope")
    assert f"bind source path does not exist: {missing}" in err(
        daemon.cli("run", "--rm", "--mount", f"type=bind,src={missing},dst=/x", "busybox", "true"))
    assert not os.path.exists(missing)
    out(daemon.cli("volume", "rm", "mnt-vol"))


def test_tmpfs_flag_and_read_only_root(daemon):
    cmd = "echo a > /tmp/a && echo b > /data/b && touch /etc/x"
    r = daemon.cli("run", "--rm", "--read-only", "--tmpfs", "/tmp:rw,size=2m", "-v", "/data", "busybox",
                   "sh", "-c", cmd)
    assert "Read-only file system" in err(r) and "/etc/x" in r.stderr.decode()
    mounts = out(daemon.cli("run", "--rm", "--tmpfs", "/run/x:size=64k", "busybox", "grep", "/run/x",
                            "/proc/mounts"))
    assert "tmpfs" in mounts and "noexec" in mounts and "size=64k" in mounts


def test_anonymous_volumes_and_rm_v(daemon):
    before = volume_names(daemon)
    cid = out(daemon.cli("create", "-v", "/scratch", "busybox", "true")).strip()
    mounts = json.loads(out(daemon.cli("inspect", "-f", "{{json .Mounts}}", cid)))
    assert len(mounts) == 1 and mounts[0]["Type"] == "volume" and mounts[0]["Destination"] == "/scratch"
    name = mounts[0]["Name"]
    assert len(name) == 64 and name in volume_names(daemon)
    other = out(daemon.cli("create", "--volumes-from", cid, "busybox", "true")).strip()
    out(daemon.cli("rm", "-v", cid))
    assert name in volume_names(daemon)  # still used by the other container
    r = daemon.cli("volume", "rm", name)
    assert f"remove {name}: volume is in use - [{other}]" in err(r)
    out(daemon.cli("rm", "-v", other))
    assert volume_names(daemon) == before
    # --rm takes anonymous volumes with it, never named ones
    out(daemon.cli("run", "--rm", "-v", "/anon", "-v", "keep-me:/named", "busybox", "true"))
    assert volume_names(daemon) == before | {"keep-me"}
    out(daemon.cli("volume", "rm", "keep-me"))


def test_volume_populated_from_the_image(daemon):
    # busybox has /etc: an empty named volume mounted there gets the image's files first
    listing = out(daemon.cli("run", "--rm", "-v", "etc-copy:/etc", "busybox", "ls", "/etc")).split()
    assert "passwd" in listing and "group" in listing
    mountpoint = json.loads(out(daemon.cli("volume", "inspect", "etc-copy")))[0]["Mountpoint"]
    assert os.path.exists(os.path.join(mountpoint, "passwd"))
    nocopy = out(daemon.cli("run", "--rm", "-v", "etc-empty:/etc:nocopy", "busybox", "ls", "-A", "/etc")).split()
    assert "passwd" not in nocopy
    out(daemon.cli("volume", "rm", "etc-copy", "etc-empty"))


def test_image_volume_creates_an_anonymous_volume(daemon):
    with open(daemon.busybox_tar, "rb") as f:
        out(daemon.cli("import", "-c", "VOLUME /etc", "-c", 'CMD ["sh"]', "-", "withvol:1", input=f.read()))
    cid = out(daemon.cli("run", "-d", "withvol:1", "ls", "/etc")).strip()
    out(daemon.cli("wait", cid))
    mounts = json.loads(out(daemon.cli("inspect", "-f", "{{json .Mounts}}", cid)))
    assert [m["Destination"] for m in mounts] == ["/etc"] and mounts[0]["Type"] == "volume"
    assert "passwd" in out(daemon.cli("logs", cid))
    out(daemon.cli("rm", "-v", cid))
    out(daemon.cli("rmi", "withvol:1"))


def test_volumes_from_chain_the_books_library(daemon):
    """Docker in Action ch.4: fowler and knuth hold volumes, reader sees both, aggregator passes them on."""
    out(daemon.cli("run", "--name", "fowler", "-v", "/library/PoEAA", "-v", "/library/DSL", "busybox",
                   "sh", "-c", "echo Fowler > /library/PoEAA/book"))
    out(daemon.cli("run", "--name", "knuth", "-v", "/library/TAoCP.vol1", "busybox",
                   "sh", "-c", "echo Knuth > /library/TAoCP.vol1/book"))
    listing = out(daemon.cli("run", "--rm", "--volumes-from", "fowler", "--volumes-from", "knuth", "busybox",
                             "ls", "/library")).split()
    assert listing == ["DSL", "PoEAA", "TAoCP.vol1"]
    out(daemon.cli("run", "--name", "aggregator", "--volumes-from", "fowler", "--volumes-from", "knuth",
                   "busybox", "true"))
    r = daemon.cli("run", "--rm", "--volumes-from", "aggregator:ro", "busybox", "sh", "-c",
                   "cat /library/PoEAA/book /library/TAoCP.vol1/book; touch /library/DSL/x")
    assert r.stdout.decode() == "Fowler\nKnuth\n" and "Read-only file system" in err(r)
    for name in ("aggregator", "fowler", "knuth"):
        out(daemon.cli("rm", "-v", name))


@pytest.mark.parametrize("args,message", [
    (["-v", "::"], "invalid spec: ::: empty section between colons"),
    (["-v", "rel/path:/x"], '"rel/path" includes invalid characters for a local volume name'),
    (["-v", "/a:rel"], "mount path must be absolute"),
    (["-v", "/a:/b:bogus"], "invalid mode: bogus"),
    (["--mount", "type=volume,target=/x,colour=red"], "unexpected key 'colour' in 'colour=red'"),
    (["--mount", "type=tmpfs,target=/x,tmpfs-size=huge"], "invalid value for tmpfs-size: huge"),
    (["--tmpfs", "/x:size=big"], "invalid tmpfs option: size=big"),
    (["-v", "/a:/same", "-v", "/b:/same"], "Duplicate mount point: /same"),
    (["--volumes-from", "no-such-container"], "No such container: no-such-container"),
])
def test_malformed_specs_create_nothing(daemon, args, message):
    before_volumes = volume_names(daemon)
    before = out(daemon.cli("ps", "-aq", "--no-trunc")).split()
    r = daemon.cli("create", *args, "-v", "should-not-exist:/y", "busybox", "true")
    assert message in err(r)
    assert out(daemon.cli("ps", "-aq", "--no-trunc")).split() == before
    assert volume_names(daemon) == before_volumes


def test_volume_commands(daemon):
    out(daemon.cli("volume", "create", "--label", "team=a", "labelled"))
    name = out(daemon.cli("volume", "create")).strip()
    assert len(name) == 64
    assert out(daemon.cli("volume", "ls", "-q", "--filter", "label=team=a")).split() == ["labelled"]
    assert "labelled" in out(daemon.cli("volume", "ls", "--filter", "name=label", "--format", "{{.Name}}"))
    assert name in out(daemon.cli("volume", "ls", "-q", "--filter", "dangling=true"))
    assert 'invalid option: "bogus"' in err(daemon.cli("volume", "create", "-o", "bogus=1", "bad"))
    tmpfs = out(daemon.cli("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m",
                           "tmpvol")).strip()
    assert "size=1024k" in out(daemon.cli("run", "--rm", "-v", f"{tmpfs}:/t", "busybox", "grep", " /t ",
                                          "/proc/mounts"))
    pruned = out(daemon.cli("volume", "prune", "-f"))
    assert name in pruned and "labelled" not in pruned  # named volumes stay without --all
    pruned = out(daemon.cli("volume", "prune", "-a", "-f", "--filter", "label=team=a"))
    assert "labelled" in pruned and "tmpvol" not in pruned
    out(daemon.cli("volume", "rm", "tmpvol"))
    assert "no such volume" in err(daemon.cli("volume", "rm", "tmpvol"))
    out(daemon.cli("volume", "rm", "-f", "tmpvol"))


def test_system_df_lists_volumes(daemon):
    out(daemon.cli("run", "--rm", "-v", "dfvol:/d", "busybox", "sh", "-c", "head -c 20000 /dev/zero > /d/f"))
    usage = daemon.client.call("GET", "/system/df")
    entry = next(v for v in usage["Volumes"] if v["Name"] == "dfvol")
    assert entry["UsageData"]["Size"] == 20000 and entry["UsageData"]["RefCount"] == 0
    verbose = out(daemon.cli("system", "df", "-v"))
    assert "dfvol" in verbose
    out(daemon.cli("volume", "rm", "dfvol"))


def test_bind_propagation(daemon, host_dir):
    import subprocess
    import time

    private = os.path.join(host_dir, "private")
    os.mkdir(private)
    assert "is not a shared mount" in err(daemon.cli("run", "--rm", "-v", f"{private}:/p:rshared", "busybox",
                                                     "true"))
    shared = os.path.join(host_dir, "shared")
    os.mkdir(shared)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", shared], check=True)
    try:
        subprocess.run(["mount", "--make-shared", shared], check=True)
        cid = out(daemon.cli("run", "-d", "-v", f"{shared}:/p:rslave", "busybox", "sleep", "30")).strip()
        os.mkdir(os.path.join(shared, "later"))
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", os.path.join(shared, "later")],
                       check=True)
        try:
            seen = ""
            for _ in range(50):  # a host mount made after the start reaches the rslave bind
                seen = daemon.cli("exec", cid, "grep", " /p/later ", "/proc/mounts").stdout.decode()
                if seen:
                    break
                time.sleep(0.05)
            assert "size=8k" in seen
        finally:
            subprocess.run(["umount", os.path.join(shared, "later")], check=True)
            out(daemon.cli("rm", "-f", cid))
    finally:
        subprocess.run(["umount", "-l", shared], check=True)


def test_selinux_relabel_modes_are_accepted(daemon, host_dir):
    # z and Z ask for SELinux relabelling, which this host does not use: accepted, as Docker does
    assert out(daemon.cli("run", "--rm", "-v", f"{host_dir}:/shared:z", "-v", "relabel-vol:/private:Z,ro",
                          "busybox", "sh", "-c", "touch /shared/ok && test -d /private && echo yes")) == "yes\n"
    assert os.path.exists(os.path.join(host_dir, "ok"))
    out(daemon.cli("volume", "rm", "relabel-vol"))
