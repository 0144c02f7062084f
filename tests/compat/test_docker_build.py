"""The real `docker build` (its classic builder path, DOCKER_BUILDKIT=0) against dockyardd."""

import pytest
from buildfiles import MAILER_BASE, MAILER_LOGGING, MAILER_SCRIPT, MULTI_STAGE, steps_from_cache, write


@pytest.fixture(autouse=True)
def classic_builder(monkeypatch):
    # The v28 CLI uses BuildKit when the buildx plugin is installed; Dockyard serves the classic protocol.
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")


def docker_build(daemon, *args: str, ok: bool = True):
    out = daemon.docker("build", *args, timeout=120)
    if ok:
        assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    return out


def test_docker_builds_the_mailer_images(daemon, tmp_path):
    ctx = write(tmp_path, {"mailer-base.df": MAILER_BASE, "mailer-logging.df": MAILER_LOGGING,
                           ".dockerignore": ".dockerignore\nmailer-base.df\nmailer-logging.df\n",
                           "log-impl/mailer.sh": MAILER_SCRIPT})
    out = docker_build(daemon, "-t", "dock/mailer-base:0.6", "-f", str(ctx / "mailer-base.df"), str(ctx))
    text = out.stdout.decode()
    assert "Sending build context to Docker daemon" in text
    assert "Step 9/9 : EXPOSE 33333" in text and "Successfully tagged dock/mailer-base:0.6" in text
    logging_df = MAILER_LOGGING.replace("dia/mailer-base", "dock/mailer-base")
    (ctx / "mailer-logging.df").write_text(logging_df)
    docker_build(daemon, "-t", "dock/mailer-logging", "-f", str(ctx / "mailer-logging.df"), str(ctx))
    inspect = daemon.docker("image", "inspect", "-f", "{{.Config.User}} {{json .Config.Volumes}} {{.Author}}",
                            "dock/mailer-logging")
    assert inspect.stdout.decode().strip() == 'example:example {"/var/log":{}}'
    started = daemon.docker("run", "--rm", "dock/mailer-logging")
    assert started.stdout.decode() == "Logging Mailer has started.\n[Message]: hello\n", started.stderr
    history = daemon.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "dock/mailer-base:0.6")
    assert history.stdout.decode().splitlines()[0] == "/bin/sh -c #(nop)  EXPOSE 33333"


def test_docker_cache_quiet_and_failure(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY a.txt /\nRUN cat /a.txt\nENV X=1\n", "a.txt": "a\n"})
    docker_build(daemon, "-t", "dock/cache", str(ctx))
    again = docker_build(daemon, "-t", "dock/cache", str(ctx)).stdout.decode()
    assert steps_from_cache(again) == [2, 3, 4]
    quiet = docker_build(daemon, "-q", str(ctx)).stdout.decode().strip()
    assert quiet == daemon.docker("image", "inspect", "-f", "{{.Id}}", "dock/cache").stdout.decode().strip()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo failing && exit 7\n")
    failed = docker_build(daemon, str(ctx), ok=False)
    assert failed.returncode == 7  # errorDetail.code, the RUN's status, as with Docker's daemon
    assert daemon.cli("build", str(ctx)).returncode == 7  # and as with our CLI
    assert b"failing" in failed.stdout
    assert b"The command '/bin/sh -c echo failing && exit 7' returned a non-zero code: 7" in failed.stderr


def test_docker_multi_stage_target_and_onbuild(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": MULTI_STAGE,
                           "base.df": "FROM busybox:latest\nWORKDIR /app\nRUN touch /app/base-evidence\n"
                                      "ONBUILD RUN ls -al /app\n",
                           "downstream.df": "FROM dock/onbuild\nRUN touch downstream-evidence\nRUN ls -al .\n"})
    docker_build(daemon, "-t", "dock/multi:server", "--target", "prod-server", str(ctx))
    assert daemon.docker("run", "--rm", "dock/multi:server", "x").stdout == b"server x\n"
    docker_build(daemon, "-t", "dock/onbuild", "-f", str(ctx / "base.df"), str(ctx))
    down = docker_build(daemon, "-t", "dock/onbuild-down", "-f", str(ctx / "downstream.df"), str(ctx))
    assert "# Executing 1 build triggers" in down.stdout.decode()
    assert "downstream-evidence" in down.stdout.decode()


STEPS_DOCKERFILE = """FROM busybox:latest
ENV A=1
LABEL x=y
RUN echo out
RUN echo err >&2
WORKDIR /app
COPY Dockerfile /app/
EXPOSE 80
ENTRYPOINT ["sh", "-c"]
CMD ["echo hi"]
"""


def build_lines(run, *args: str) -> list[str]:
    """The stdout of a classic `docker build` with image and container IDs replaced by <id>."""
    import re

    out = run("build", *args)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    text = re.sub(r"\b[0-9a-f]{12}\b", "<id>", out.stdout.decode())
    return [line for line in text.splitlines() if not line.startswith("Sending build context")]


def test_docker_build_steps_print_as_docker_20_10(real_docker, daemon, busybox_tar, tmp_path):
    """Metadata and WORKDIR steps run in an intermediate container as in Docker's classic builder
    (` ---> Running in` / `Removing intermediate container`), COPY does not, stderr of RUN is red;
    --no-cache runs every step, a rebuild takes every step from the cache: line for line as Docker."""
    ok = real_docker.docker("import", "-c", 'CMD ["sh"]', str(busybox_tar), "busybox:latest")
    assert ok.returncode == 0, ok.stderr
    ctx = write(tmp_path, {"Dockerfile": STEPS_DOCKERFILE})
    before = daemon.docker("ps", "-aq").stdout.split()
    for args in (["--no-cache", "-t", "dock/steps"], ["-t", "dock/steps"]):
        ours = build_lines(daemon.docker, *args, str(ctx))
        theirs = build_lines(real_docker.docker, *args, "--network", "none", str(ctx))
        assert ours == theirs
    assert ours.count(" ---> Using cache") == 9
    no_cache = build_lines(daemon.docker, "--no-cache", str(ctx))
    assert no_cache.count(" ---> Running in <id>") == 8  # every step after FROM but COPY
    # After stderr's colour reset, as Docker prints it: "\x1b[0mRemoving intermediate container <id>".
    assert sum(line.endswith("Removing intermediate container <id>") for line in no_cache) == 8
    assert "\x1b[91merr" in no_cache
    assert daemon.docker("ps", "-aq").stdout.split() == before  # every intermediate container removed
