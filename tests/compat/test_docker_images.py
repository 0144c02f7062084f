"""The real docker CLI on the image store: images, tag, history, rmi, image prune, system df."""


def out(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def test_docker_tag_images_history_rmi(daemon):
    out(daemon.docker("tag", "busybox", "compat/box:1"))
    listing = out(daemon.docker("images", "compat/box"))
    assert listing.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert listing.splitlines()[1].split()[:2] == ["compat/box", "1"]
    assert "compat/box 1" in out(daemon.docker("images", "--digests", "--format", "{{.Repository}} {{.Tag}}"))
    history = out(daemon.docker("history", "compat/box:1")).splitlines()
    assert history[0].split()[:2] == ["IMAGE", "CREATED"] and "Imported from -" in history[1]
    assert out(daemon.docker("image", "inspect", "-f", "{{.RootFS.Type}} {{len .RootFS.Layers}}",
                             "compat/box:1")).strip() == "layers 1"
    assert out(daemon.docker("rmi", "compat/box:1")) == "Untagged: compat/box:1\n"


def test_docker_system_df_and_prune(daemon):
    df = out(daemon.docker("system", "df")).splitlines()
    assert df[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"] and df[1].startswith("Images")
    assert "Images space usage:" in out(daemon.docker("system", "df", "-v"))
    assert "Total reclaimed space:" in out(daemon.docker("image", "prune", "-f"))
