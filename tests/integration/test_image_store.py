"""The image store through the CLI: tag, images, rmi, history, image prune, system df."""

import json

import pytest


def out(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def image_id(daemon, name: str) -> str:
    return out(daemon.cli("image", "inspect", "-f", "{{.Id}}", name)).strip()


def import_image(daemon, ref: str, *changes: str) -> str:
    """A second image made from the busybox rootfs (same layer, different config)."""
    args = ["import"]
    for change in changes:
        args += ["-c", change]
    with open(daemon.busybox_tar, "rb") as f:
        r = daemon.cli(*args, "-", ref, input=f.read())
    return out(r).strip()


def test_tag_and_untag_keep_the_image(daemon):
    busybox = image_id(daemon, "busybox")
    out(daemon.cli("tag", "busybox", "localhost:5000/team/box:v1"))
    out(daemon.cli("image", "tag", "busybox:latest", "mybox"))
    assert image_id(daemon, "localhost:5000/team/box:v1") == busybox
    tags = json.loads(out(daemon.cli("image", "inspect", "-f", "{{json .RepoTags}}", busybox)))
    assert set(tags) >= {"busybox:latest", "localhost:5000/team/box:v1", "mybox:latest"}
    listing = out(daemon.cli("images", "--format", "{{.Repository}} {{.Tag}}"))
    assert "localhost:5000/team/box v1" in listing and "mybox latest" in listing
    assert out(daemon.cli("rmi", "mybox", "localhost:5000/team/box:v1")) == (
        "Untagged: mybox:latest\nUntagged: localhost:5000/team/box:v1\n")
    assert image_id(daemon, "busybox") == busybox


def test_tag_errors(daemon):
    r = daemon.cli("tag", "no-such-image", "x")
    assert r.returncode == 1 and "No such image: no-such-image" in r.stderr.decode()
    r = daemon.cli("tag", "busybox", "Bad/Name")
    assert r.returncode == 1 and "invalid reference format" in r.stderr.decode()


def test_rmi_by_id_refuses_several_repositories_unless_forced(daemon):
    ref = "twotags:1"
    iid = import_image(daemon, ref)
    out(daemon.cli("tag", ref, "twotags:2"))
    out(daemon.cli("tag", ref, "other:1"))
    r = daemon.cli("rmi", iid[7:19])
    assert r.returncode == 1
    assert f"unable to delete {iid[7:19]} (must be forced) - image is referenced in multiple repositories" in \
        r.stderr.decode()
    lines = out(daemon.cli("rmi", "-f", iid[7:19])).splitlines()
    assert sorted(lines[:3]) == ["Untagged: other:1", "Untagged: twotags:1", "Untagged: twotags:2"]
    assert lines[3] == f"Deleted: {iid}"
    assert daemon.cli("image", "inspect", iid).returncode == 1


def test_rmi_refuses_while_a_stopped_container_uses_the_image(daemon):
    iid = import_image(daemon, "inuse:1")
    cid = out(daemon.cli("create", "inuse:1", "true")).strip()
    r = daemon.cli("rmi", "inuse:1")
    assert r.returncode == 1
    assert (f'conflict: unable to remove repository reference "inuse:1" (must force) - container {cid[:12]} '
            f"is using its referenced image {iid[7:19]}") in r.stderr.decode()
    r = daemon.cli("rmi", iid)
    assert f"(must be forced) - image is being used by stopped container {cid[:12]}" in r.stderr.decode()
    out(daemon.cli("rm", cid))
    lines = out(daemon.cli("rmi", "inuse:1")).splitlines()
    assert lines[0] == "Untagged: inuse:1" and lines[1] == f"Deleted: {iid}"


def test_rmi_forced_past_a_stopped_container_keeps_its_layers(fresh_daemon):
    """As Docker: `rmi -f` deletes an image a stopped container uses (no layer is reported deleted); the
    container still starts from its layers, across a daemon restart, and they go with the container."""
    import os

    daemon = fresh_daemon
    out(daemon.cli("run", "--name", "layered-src", "busybox", "sh", "-c", "echo kept > /kept"))
    iid = out(daemon.cli("commit", "layered-src", "layered:1")).strip()
    out(daemon.cli("rm", "layered-src"))
    cid = out(daemon.cli("create", "layered:1", "cat", "/kept")).strip()
    layerdb = os.path.join(daemon.data_root, "image", "layerdb")
    layers = set(os.listdir(layerdb))
    lines = out(daemon.cli("rmi", "-f", "layered:1")).splitlines()
    assert lines == ["Untagged: layered:1", f"Deleted: {iid}"]
    assert daemon.cli("image", "inspect", iid).returncode == 1
    assert iid[7:19] not in out(daemon.cli("images", "-a", "-q"))
    assert set(os.listdir(layerdb)) == layers
    assert out(daemon.cli("start", "-a", cid)) == "kept\n"
    assert json.loads(out(daemon.cli("inspect", "--size", cid)))[0]["SizeRootFs"] > 0
    daemon.stop()
    daemon.start()
    assert out(daemon.cli("start", "-a", cid)) == "kept\n"
    out(daemon.cli("rm", cid))
    assert set(os.listdir(layerdb)) < layers  # the committed layer went with the container


def test_rmi_several_reports_each_and_fails_on_missing(daemon):
    import_image(daemon, "multi:a", "ENV A=1")
    import_image(daemon, "multi:b", "ENV B=1")
    r = daemon.cli("rmi", "multi:a", "nope:1", "multi:b")
    assert r.returncode == 1
    assert "Error response from daemon: No such image: nope:1" in r.stderr.decode()
    text = r.stdout.decode()
    assert "Untagged: multi:a" in text and "Untagged: multi:b" in text and text.count("Deleted: sha256:") == 2


def test_images_filters_and_formats(daemon):
    old = import_image(daemon, "filt:old", "LABEL tier=base")
    new = import_image(daemon, "filt:new", "LABEL tier=app")
    names = out(daemon.cli("images", "--filter", "reference=filt:*", "--format", "{{.Tag}}")).split()
    assert names == ["new", "old"]  # newest first
    assert out(daemon.cli("images", "-q", "--filter", "label=tier=base")).split() == [old[7:19]]
    assert out(daemon.cli("images", "-q", "--no-trunc", "--filter", "since=filt:old",
                          "--filter", "reference=filt")).split() == [new]
    assert old[7:19] in out(daemon.cli("images", "-q", "--filter", "before=filt:new"))
    header = out(daemon.cli("images", "--digests", "filt")).splitlines()[0].split()
    assert header[:3] == ["REPOSITORY", "TAG", "DIGEST"]
    out(daemon.cli("rmi", "filt:old", "filt:new"))


def test_dangling_images_list_and_prune(fresh_daemon):
    daemon = fresh_daemon  # other tests leave dangling images in the shared daemon
    first = import_image(daemon, "dangle:1", "ENV V=1")
    import_image(daemon, "dangle:1", "ENV V=2")  # takes the tag: the first image is dangling now
    api = daemon.client.call("GET", "/images/json", query={"filters": json.dumps({"dangling": ["true"]})})
    assert [i["Id"] for i in api] == [first] and api[0]["RepoTags"] == ["<none>:<none>"]
    listing = out(daemon.cli("images", "--filter", "dangling=true"))
    assert "<none>" in listing and first[7:19] in listing
    r = daemon.cli("image", "prune", "-f")
    text = out(r)
    assert f"deleted: {first}" in text and "Total reclaimed space:" in text
    assert out(daemon.cli("images", "-q", "--filter", "dangling=true")) == ""
    assert image_id(daemon, "dangle:1") != first
    out(daemon.cli("rmi", "dangle:1"))


def test_prune_all_keeps_images_in_use_and_honours_labels(fresh_daemon):
    daemon = fresh_daemon
    out(daemon.cli("create", "busybox", "true"))
    import_image(daemon, "unused:1", "LABEL keep=yes")
    unused = import_image(daemon, "unused:2", "ENV X=1")
    r = out(daemon.cli("image", "prune", "-a", "-f", "--filter", "label!=keep=yes"))
    assert f"untagged: unused:2\ndeleted: {unused}\n" in r
    assert "unused:1" not in r and "busybox" not in r
    r = out(daemon.cli("image", "prune", "-a", "-f"))
    assert "untagged: unused:1" in r and "busybox" not in r
    # the layer went with the last image that had it... except busybox still holds it
    assert "Total reclaimed space: 0B" in r


def test_history_of_an_imported_image(daemon):
    iid = import_image(daemon, "hist:1")
    rows = daemon.client.call("GET", "/images/hist:1/history")
    assert len(rows) == 1 and rows[0]["Id"] == iid and rows[0]["Tags"] == ["hist:1"]
    assert rows[0]["Comment"] == "Imported from -" and rows[0]["Size"] > 1_000_000
    text = out(daemon.cli("history", "hist:1")).splitlines()
    assert text[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert text[1].startswith(iid[7:19]) and text[1].rstrip().endswith("Imported from -")
    raw = out(daemon.cli("history", "-H=false", "--format", "{{.Size}} {{.CreatedSince}}", "hist:1")).split()
    assert raw[0] == str(rows[0]["Size"]) and raw[1].endswith("Z")
    assert out(daemon.cli("history", "-q", "--no-trunc", "hist:1")) == iid + "\n"
    out(daemon.cli("rmi", "hist:1"))


def test_system_df(daemon):
    usage = daemon.client.call("GET", "/system/df")
    assert usage["LayersSize"] > 0 and any(i["RepoTags"] == ["busybox:latest"] for i in usage["Images"])
    assert all("SharedSize" in i and i["Containers"] >= 0 for i in usage["Images"])
    lines = out(daemon.cli("system", "df")).splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split()[0] for line in lines[1:]] == ["Images", "Containers", "Local", "Build"]
    verbose = out(daemon.cli("system", "df", "-v"))
    assert "Images space usage:" in verbose and "SHARED SIZE" in verbose and "Containers space usage:" in verbose


@pytest.mark.parametrize("bad", ["UPPER", "a::b", ":tag", "name@sha256:xyz"])
def test_invalid_references(daemon, bad):
    r = daemon.cli("tag", "busybox", bad)
    assert r.returncode == 1 and "invalid reference format" in r.stderr.decode()
