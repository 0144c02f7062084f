"""Dockerfile builds through POST /build with `dockyard build`: the Docker in Action ch.8 Dockerfiles and
Docker Deep Dive's multi-stage pattern (busybox stand-ins, no network), the cache, reproducibility."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from buildfiles import MAILER_BASE, MAILER_LOGGING, MAILER_SCRIPT, MULTI_STAGE, steps_from_cache, write


def build(daemon, context: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    out = daemon.cli("build", *args, str(context), timeout=120)
    if ok:
        assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    return out


def inspect(daemon, name: str) -> dict:
    return daemon.client.call("GET", f"/images/{name}/json")


def run(daemon, *args: str) -> subprocess.CompletedProcess:
    return daemon.cli("run", "--rm", *args)


def test_mailer_base_and_logging_with_dockerignore(daemon, tmp_path):
    ctx = write(tmp_path, {"mailer-base.df": MAILER_BASE, "mailer-logging.df": MAILER_LOGGING,
                           "mailer-live.df": "FROM dia/mailer-base:0.6\n", "notes.txt": "kept\n",
                           ".dockerignore": ".dockerignore\nmailer-base.df\nmailer-logging.df\nmailer-live.df\n",
                           "log-impl/mailer.sh": MAILER_SCRIPT})
    out = build(daemon, ctx, "-t", "dia/mailer-base:0.6", "-f", "mailer-base.df")
    text = out.stdout.decode()
    assert text.startswith("Sending build context to Docker daemon")
    assert "Step 1/9 : FROM busybox:latest" in text and "Step 9/9 : EXPOSE 33333" in text
    assert "Successfully tagged dia/mailer-base:0.6" in text
    image = inspect(daemon, "dia/mailer-base:0.6")
    config = image["Config"]
    assert image["Author"] == 'Jeff Nickoloff "dia@allingeek.com"'
    assert config["Labels"] == {"base.name": "Mailer Archetype", "base.version": "0.6"}
    assert config["Env"][-3:] == ["APPROOT=/app", "APP=mailer.sh", "VERSION=0.6"]
    assert config["WorkingDir"] == "/app" and config["Entrypoint"] == ["/app/mailer.sh"]
    assert config["ExposedPorts"] == {"33333/tcp": {}}
    # The ignored files never reached the image; the book's point: /app/mailer.sh does not exist yet.
    listing = run(daemon, "--entrypoint", "ls", "dia/mailer-base:0.6", "-A", "/app")
    assert listing.stdout.decode().split() == ["log-impl", "notes.txt"]
    assert run(daemon, "dia/mailer-base:0.6").returncode != 0
    history = daemon.client.call("GET", "/images/dia/mailer-base:0.6/history")
    created_by = [row["CreatedBy"] for row in history]
    assert created_by[0] == "/bin/sh -c #(nop)  EXPOSE 33333"
    assert created_by[1] == '/bin/sh -c #(nop)  ENTRYPOINT ["/app/mailer.sh"]'
    assert created_by[2].startswith("/bin/sh -c #(nop) ADD dir:") and created_by[2].endswith(" in /app ")
    assert created_by[3] == "/bin/sh -c #(nop) WORKDIR /app"
    assert created_by[5] == "/bin/sh -c #(nop)  ENV APPROOT=/app APP=mailer.sh VERSION=0.6"
    assert created_by[6].startswith('/bin/sh -c echo "example:x:2200:" >> /etc/group')
    assert len(image["RootFS"]["Layers"]) == 4  # busybox, RUN, WORKDIR's new /app, ADD
    assert [row.get("Size") > 0 for row in history[:8]] == [False, False, True, False, False, False, True, False]
    raw = daemon.client.call("GET", "/images/dia/mailer-base:0.6/json")
    assert raw["ContainerConfig"]["Cmd"] == ["/bin/sh", "-c", "#(nop) ", "EXPOSE 33333"]

    out = build(daemon, ctx, "-t", "dia/mailer-logging", "-f", "mailer-logging.df")
    config = inspect(daemon, "dia/mailer-logging")["Config"]
    assert config["User"] == "example:example" and config["Volumes"] == {"/var/log": {}}
    assert config["Cmd"] == ["/var/log/mailer.log"] and config["Entrypoint"] == ["/app/mailer.sh"]
    owner = run(daemon, "--entrypoint", "stat", "dia/mailer-logging", "-c", "%u:%g %a", "/var/log", "/app/mailer.sh")
    assert owner.stdout.decode().split("\n")[:2] == ["2200:2200 755", "0:0 755"]
    started = run(daemon, "dia/mailer-logging")
    assert started.stdout.decode() == "Logging Mailer has started.\n[Message]: hello\n", started.stderr


def test_onbuild_triggers_run_in_the_downstream_build(daemon, tmp_path):
    ctx = write(tmp_path, {
        "base.df": "FROM busybox:latest\nWORKDIR /app\nRUN touch /app/base-evidence\nONBUILD RUN ls -al /app\n",
        "downstream.df": "FROM dia/ch8_onbuild\nRUN touch downstream-evidence\nRUN ls -al .\n"})
    base = build(daemon, ctx, "--no-cache", "-t", "dia/ch8_onbuild", "-f", "base.df").stdout.decode()
    assert "base-evidence" not in base.split("Step 4/4")[1]  # recorded, not run
    assert inspect(daemon, "dia/ch8_onbuild")["Config"]["OnBuild"] == ["RUN ls -al /app"]
    down = build(daemon, ctx, "--no-cache", "-t", "dia/ch8_onbuild_down", "-f", "downstream.df").stdout.decode()
    trigger_part, rest = down.split("Step 2/3")
    assert "# Executing 1 build triggers" in trigger_part
    assert "base-evidence" in trigger_part and "downstream-evidence" not in trigger_part
    assert "base-evidence" in rest and "downstream-evidence" in rest
    # Triggers are consumed: not inherited by the grandchildren.
    assert inspect(daemon, "dia/ch8_onbuild_down")["Config"]["OnBuild"] is None


def test_user_permission_failure_and_failed_step(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox:latest\nUSER 1000:1000\nENTRYPOINT [\"nc\"]\n"
                                         "CMD [\"-l\",\"-p\",\"80\",\"0.0.0.0\"]\n",
                           "broken.df": "FROM busybox:latest\nUSER 1000:1000\nRUN touch /bin/busybox\n"})
    build(daemon, ctx, "-t", "dia/ch8_perm_denied")
    config = inspect(daemon, "dia/ch8_perm_denied")["Config"]
    assert config["User"] == "1000:1000" and config["Cmd"] == ["-l", "-p", "80", "0.0.0.0"]
    # Docker 20.10 lets any user bind low ports in a container (ip_unprivileged_port_start=0); the
    # book's "Permission denied" comes back with the kernel's default.
    denied = run(daemon, "--sysctl", "net.ipv4.ip_unprivileged_port_start=1024", "dia/ch8_perm_denied")
    assert denied.returncode != 0 and b"Permission denied" in denied.stderr + denied.stdout
    before = {c["Id"] for c in daemon.client.call("GET", "/containers/json", query={"all": True})}
    failed = build(daemon, ctx, "-f", "broken.df", "--force-rm", ok=False)
    assert failed.returncode == 1
    assert b"touch: /bin/busybox: Permission denied" in failed.stdout
    assert failed.stderr.decode().strip() == "The command '/bin/sh -c touch /bin/busybox' returned a non-zero code: 1"
    after = {c["Id"] for c in daemon.client.call("GET", "/containers/json", query={"all": True})}
    assert after == before  # --force-rm: the failed step's container went too


def test_suid_bit_survives_the_build(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox:latest\nRUN cp /bin/busybox /bin/whoami-suid && "
                                         "chmod u+s /bin/whoami-suid\n"
                                         "RUN echo example:x:999:999::/:/bin/sh >> /etc/passwd\n"
                                         "USER example\nCMD printf \"Container running as: %s\\n\" $(id -u -n)\n"})
    build(daemon, ctx, "-t", "dia/ch8_whoami")
    out = run(daemon, "dia/ch8_whoami")
    assert out.stdout.decode() == "Container running as: example\n"
    mode = run(daemon, "dia/ch8_whoami", "stat", "-c", "%A %U", "/bin/whoami-suid")
    assert mode.stdout.decode().strip() == "-rwsr-xr-x root"


def test_multi_stage_targets_and_stage_references(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile-final": MULTI_STAGE})
    images_before = {i["Id"] for i in daemon.client.call("GET", "/images/json", query={"all": True})}
    out = build(daemon, ctx, "-t", "multi:client", "--target", "prod-client", "-f", "Dockerfile-final")
    text = out.stdout.decode()
    assert "build-server" not in text and "never-needed" not in text  # only the stages the target needs
    assert run(daemon, "multi:client").stdout == b"client\n"
    image = inspect(daemon, "multi:client")
    assert len(image["RootFS"]["Layers"]) == 2  # scratch + two COPY layers, no busybox base layer
    build(daemon, ctx, "-t", "multi:server", "--target", "prod-server", "-f", "Dockerfile-final")
    assert run(daemon, "multi:server", "hi").stdout == b"server hi\n"
    # Intermediate stages leave no tagged images.
    tagged = [t for i in daemon.client.call("GET", "/images/json") for t in i.get("RepoTags") or []]
    assert not [t for t in tagged if t.startswith(("base", "build-"))]
    assert images_before  # busybox at least
    failed = build(daemon, ctx, "--target", "never-needed", "-f", "Dockerfile-final", ok=False)
    assert b"returned a non-zero code: 1" in failed.stderr
    missing = build(daemon, ctx, "--target", "nope", "-f", "Dockerfile-final", ok=False)
    # Refused before the build says anything: an HTTP error, printed as the docker CLI prints it.
    assert missing.stderr.decode().strip() == "Error response from daemon: failed to reach build target nope in " \
                                              "Dockerfile"


class Rendezvous:
    """An HTTP server on the host that answers each of ``names`` only once all of them have asked
    (or, after ``patience`` seconds, answers "alone"): steps that can fetch "both" ran at the same
    time, however loaded the machine is."""

    def __init__(self, names: set[str], patience: float = 60) -> None:
        import http.server
        import threading

        arrived: set[str] = set()
        everyone = threading.Event()
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with lock:
                    arrived.add(self.path.strip("/"))
                    if arrived >= names:
                        everyone.set()
                body = b"both\n" if everyone.wait(patience) else b"alone\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_independent_stages_build_in_parallel(daemon, tmp_path):
    # Each stage's RUN asks a host server that answers only once both stages have asked: a builder
    # that ran them one after the other would get "alone" (no timing involved).
    gateway = daemon.extra_args[daemon.extra_args.index("--bip") + 1].split("/")[0]
    meeting = Rendezvous({"a", "b"})
    try:
        url = f"http://{gateway}:{meeting.port}"
        ctx = write(tmp_path, {"Dockerfile": f"FROM busybox AS a\nRUN wget -qO /a {url}/a\n"
                                             f"FROM busybox AS b\nRUN wget -qO /b {url}/b\n"
                                             "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"})
        out = build(daemon, ctx, "--no-cache", "-t", "parallel:1")
    finally:
        meeting.close()
    text = out.stdout.decode()
    # Both steps overlapped; the output still reads stage by stage.
    assert text.index("Step 2/7 : RUN wget -qO /a") < text.index("Step 3/7 : FROM busybox AS b")
    assert run(daemon, "parallel:1", "cat", "/a", "/b").stdout == b"both\nboth\n"


def test_cache_rules(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nARG MODE=a\nCOPY app.txt /app/\nRUN cat /app/app.txt\n"
                                         "RUN echo mode=$MODE > /mode\nCOPY other.txt /app/\nCMD [\"sh\"]\n",
                           "app.txt": "v1\n", "other.txt": "o\n"})
    first = build(daemon, ctx, "-t", "cache:1").stdout.decode()
    assert steps_from_cache(first) == [] or steps_from_cache(first)  # may hit a previous run's cache
    again = build(daemon, ctx, "-t", "cache:1").stdout.decode()
    assert steps_from_cache(again) == [2, 3, 4, 5, 6, 7]
    first_id = inspect(daemon, "cache:1")["Id"]
    os.utime(ctx / "app.txt", (1, 1))  # touched: same content, same metadata Docker hashes
    assert steps_from_cache(build(daemon, ctx).stdout.decode()) == [2, 3, 4, 5, 6, 7]
    (ctx / "other.txt").write_text("changed\n")  # only the last COPY and what follows rebuild
    assert steps_from_cache(build(daemon, ctx).stdout.decode()) == [2, 3, 4, 5]
    (ctx / "app.txt").write_text("v2\n")  # the first miss rebuilds every later step
    assert steps_from_cache(build(daemon, ctx).stdout.decode()) == [2]
    changed_arg = build(daemon, ctx, "--build-arg", "MODE=b").stdout.decode()
    assert steps_from_cache(changed_arg) == [2, 3]  # the ARG and COPY stay; every RUN sees MODE: rebuilt
    (ctx / "Dockerfile").write_text((ctx / "Dockerfile").read_text().replace("ARG MODE=a", "ARG MODE=c"))
    assert steps_from_cache(build(daemon, ctx).stdout.decode()) == []
    no_cache = build(daemon, ctx, "--no-cache").stdout.decode()
    assert steps_from_cache(no_cache) == []
    assert first_id == inspect(daemon, "cache:1")["Id"]
    history = daemon.client.call("GET", "/images/cache:1/history")
    assert history[2]["CreatedBy"] == "|1 MODE=a /bin/sh -c echo mode=$MODE > /mode"


def test_cache_from_limits_reuse(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo cf > /cf\nENV X=1\n"})
    build(daemon, ctx, "-t", "cf:1")
    out = build(daemon, ctx, "--cache-from", "busybox").stdout.decode()
    assert steps_from_cache(out) == []
    out = build(daemon, ctx, "--cache-from", "cf:1").stdout.decode()
    assert steps_from_cache(out) == [2, 3]


def test_reproducible_builds_give_the_same_image_id(daemon, tmp_path):
    files = {"Dockerfile": "FROM busybox\nCOPY . /src\nWORKDIR /work\nRUN echo built > /work/out && mkdir /made\n"
                           "LABEL a=b\n", "a.txt": "a\n", "sub/b.txt": "b\n"}
    ids = []
    for name in ("one", "two"):
        ctx = write(tmp_path / name, files)
        for path in ctx.rglob("*"):
            os.utime(path, (1_600_000_000 + len(name), 1_600_000_000 + len(name)))
        out = daemon.cli("build", "-q", "--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", str(ctx))
        assert out.returncode == 0, out.stderr
        ids.append(out.stdout.decode().strip())
    assert ids[0] == ids[1]
    image = inspect(daemon, ids[0])
    assert image["Created"] == "2023-11-14T22:13:20Z"
    not_reproducible = daemon.cli("build", "-q", "--no-cache", str(tmp_path / "one"))
    assert not_reproducible.stdout.decode().strip() != ids[0]


def test_options_labels_iidfile_quiet_and_prune(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo $HTTP_PROXY > /proxy\n"})
    iid = tmp_path / "iid"
    out = build(daemon, ctx, "-q", "-t", "opts:1", "-t", "opts:2", "--label", "team=x", "--iidfile", str(iid),
                "--build-arg", "HTTP_PROXY=http://proxy:1", "--build-arg", "UNUSED=1")
    image_id = out.stdout.decode().strip()
    assert image_id.startswith("sha256:") and iid.read_text() == image_id
    image = inspect(daemon, "opts:2")
    assert image["Id"] == image_id and sorted(image["RepoTags"]) == ["opts:1", "opts:2"]
    assert image["Config"]["Labels"] == {"team": "x"}
    assert run(daemon, "opts:1", "cat", "/proxy").stdout == b"http://proxy:1\n"
    history = daemon.client.call("GET", "/images/opts:1/history")
    assert history[0]["CreatedBy"] == "/bin/sh -c #(nop)  LABEL team=x"
    assert history[1]["CreatedBy"] == "/bin/sh -c echo $HTTP_PROXY > /proxy"  # proxy args stay out of it
    loud = build(daemon, ctx, "--build-arg", "UNUSED=1").stdout.decode()
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in loud
    refused = build(daemon, ctx, "--platform", "linux/s390x", ok=False)
    assert b"linux/s390x" in refused.stderr and b"not supported" in refused.stderr
    df = daemon.client.call("GET", "/system/df")
    assert df["BuildCache"]
    pruned = daemon.cli("builder", "prune", "-f")
    assert pruned.returncode == 0 and b"Total reclaimed space" in pruned.stdout
    assert inspect(daemon, "opts:1")["Id"] == image_id  # tagged images stay


def test_context_from_stdin_url_and_dockerfile_outside(daemon, tmp_path):
    dockerfile = b"FROM busybox\nCMD [\"echo\", \"stdin\"]\n"
    out = daemon.cli("build", "-t", "stdin:1", "-", input=dockerfile)
    assert out.returncode == 0, out.stderr
    assert run(daemon, "stdin:1").stdout == b"stdin\n"
    ctx = write(tmp_path / "ctx", {"data.txt": "outside-df\n"})
    write(tmp_path, {"elsewhere.df": "FROM busybox\nCOPY data.txt /\n"})
    build(daemon, ctx, "-t", "outside:1", "-f", str(tmp_path / "elsewhere.df"))
    assert run(daemon, "outside:1", "cat", "/data.txt").stdout == b"outside-df\n"
    tarball = tmp_path / "ctx.tar.gz"
    subprocess.run(["tar", "-czf", str(tarball), "-C", str(ctx), "."], check=True)
    piped = daemon.cli("build", "-t", "tarctx:1", "-f", "inner.df", "-", input=_with_dockerfile(tarball))
    assert piped.returncode == 0, piped.stderr
    server = _serve(tmp_path)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/ctx2.tar"
        remote = daemon.cli("build", "-t", "url:1", url)
        assert remote.returncode == 0, remote.stderr
        assert run(daemon, "url:1", "cat", "/data.txt").stdout == b"outside-df\n"
    finally:
        server.shutdown()
        server.server_close()


def _with_dockerfile(tarball: Path) -> bytes:
    work = tarball.parent / "with-df"
    work.mkdir()
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(work)], check=True)
    (work / "inner.df").write_text("FROM busybox\nCOPY data.txt /\n")
    (work / "Dockerfile").write_text("FROM busybox\nCOPY data.txt /\n")
    subprocess.run(["tar", "-cf", str(tarball.parent / "ctx2.tar"), "-C", str(work), "."], check=True)
    data = (tarball.parent / "ctx2.tar").read_bytes()
    shutil.rmtree(work)
    return data


def _serve(root: Path):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_instruction_semantics(daemon, tmp_path):
    import io
    import tarfile

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("pkg/inside.txt")
        info.size, info.uid, info.gid = 3, 7, 8
        tar.addfile(info, io.BytesIO(b"in\n"))
    (tmp_path / "pkg.tar.gz").write_bytes(archive.getvalue())
    ctx = write(tmp_path, {"Dockerfile": """FROM busybox
SHELL ["/bin/sh", "-ec"]
ENV DIR=/opt/app NAME=x
ENV COPY_NAME=${NAME:-none}-${UNSET:-dflt} ALT=${NAME:+set}
ADD pkg.tar.gz /opt/
COPY --chown=nobody:nogroup --chmod=600 *.conf $DIR/
COPY ["with space.txt", "/opt/"]
WORKDIR sub
WORKDIR deeper
ENTRYPOINT echo entry
HEALTHCHECK --interval=5s --retries=2 CMD true
STOPSIGNAL SIGUSR1
RUN ["/bin/sh", "-c", "pwd > /pwd"]
""", "a.conf": "a\n", "b.conf": "b\n", "c.txt": "c\n", "with space.txt": "s\n"})
    build(daemon, ctx, "-t", "sem:1")
    config = inspect(daemon, "sem:1")["Config"]
    assert config["Shell"] == ["/bin/sh", "-ec"]
    assert "COPY_NAME=x-dflt" in config["Env"] and "ALT=set" in config["Env"]
    assert config["WorkingDir"] == "/sub/deeper"
    assert config["Entrypoint"] == ["/bin/sh", "-ec", "echo entry"] and config["Cmd"] is None
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 2}
    assert config["StopSignal"] == "SIGUSR1"
    shell = ["--entrypoint", "sh", "sem:1", "-c"]
    assert run(daemon, *shell, "cat /pwd").stdout == b"/sub/deeper\n"
    listing = run(daemon, *shell, "stat -c '%n %u:%g %a' /opt/app/* /opt/pkg/inside.txt '/opt/with space.txt'")
    assert listing.stdout.decode().splitlines() == [
        "/opt/app/a.conf 65534:65533 600", "/opt/app/b.conf 65534:65533 600", "/opt/pkg/inside.txt 7:8 644",
        "/opt/with space.txt 0:0 644"]
    assert run(daemon, "sem:1", "ignored", "args").stdout == b"entry\n"  # shell-form ENTRYPOINT ignores them


def test_errors(daemon, tmp_path):
    cases = {
        "FROM busybox\nBOGUS x\n": "dockerfile parse error on line 2: unknown instruction: BOGUS",
        "RUN true\n": "no build stage in current context",
        "FROM busybox\nCOPY missing.txt /\n": "COPY failed: file not found in build context or excluded by "
                                              ".dockerignore: stat missing.txt: file does not exist",
        "FROM busybox\nCOPY a b /x\n": "When using COPY with more than one source file",
        "FROM busybox\nSHELL sh -c\n": "SHELL requires the arguments to be in JSON form",
    }
    for text, message in cases.items():
        ctx = write(tmp_path / str(abs(hash(text))), {"Dockerfile": text, "a": "a", "b": "b"})
        out = build(daemon, ctx, ok=False)
        assert out.returncode == 1 and message in out.stderr.decode(), (text, out.stderr)
    # A base image that is not here is pulled; with no registry reachable that fails clearly.
    pulled = build(daemon, write(tmp_path / "pull", {"Dockerfile": "FROM no-such-image-here\n"}), ok=False)
    assert pulled.returncode == 1 and (b"pull access denied for no-such-image-here" in pulled.stderr
                                       or b"registry-1.docker.io" in pulled.stderr), pulled.stderr
    missing = daemon.cli("build", "-f", "nope.df", str(tmp_path))
    assert missing.returncode != 0 and b"nope.df" in missing.stderr


@pytest.mark.parametrize("progress", ["plain", "tty"])
def test_progress_views_show_step_timing(daemon, tmp_path, progress):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo visible-output\nENV A=1\n"})
    out = build(daemon, ctx, "--no-cache", "--progress", progress).stdout.decode()
    if progress == "plain":
        assert "#2 [2/3] RUN echo visible-output" in out and "visible-output\n" in out
        assert "#2 DONE " in out
    else:
        assert " => [2/3] RUN echo visible-output" in out and "visible-output\n" not in out
    assert "Built in " in out and "Successfully built" in out


def test_build_through_the_api_stream(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo api\n"})
    tarball = tmp_path / "ctx.tar"
    subprocess.run(["tar", "-cf", str(tarball), "-C", str(ctx), "Dockerfile"], check=True)
    with open(tarball, "rb") as body:
        response = daemon.client.send("POST", "/build", query={"t": "api:1", "nocache": "1"}, body=body.read(),
                                      headers={"Content-Type": "application/x-tar"})
    messages = list(response.json_lines())
    response.close()
    streams = "".join(m.get("stream", "") for m in messages)
    assert "Step 1/2 : FROM busybox" in streams and "api\n" in streams
    aux = [m["aux"]["ID"] for m in messages if "aux" in m]
    assert aux and inspect(daemon, "api:1")["Id"] == aux[0]
    assert json.dumps(messages)  # plain JSON messages


def test_squash_merges_the_build_layers_into_one_over_the_base(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": """FROM busybox
RUN echo secret > /secret && mkdir /data && echo keep > /data/keep && rm -rf /var && mkdir -p /var/new
RUN rm /secret /etc/group
COPY a.txt /data/
ENV X=1
""", "a.txt": "a\n"})
    build(daemon, ctx, "-t", "sq:plain")
    iid = tmp_path / "iid"
    out = build(daemon, ctx, "-t", "sq:squashed", "--squash", "--iidfile", str(iid))
    plain, squashed, base = (inspect(daemon, n) for n in ("sq:plain", "sq:squashed", "busybox"))
    assert iid.read_text() == squashed["Id"] != plain["Id"]
    assert f"Successfully built {squashed['Id'][7:19]}" in out.stdout.decode()
    assert squashed["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    assert len(squashed["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1 < len(plain["RootFS"]["Layers"])
    assert squashed["Config"] == plain["Config"] and squashed["Parent"] == ""
    history = daemon.client.call("GET", "/images/sq:squashed/history")
    plain_history = daemon.client.call("GET", "/images/sq:plain/history")
    assert [h["CreatedBy"] for h in history[1:]] == [h["CreatedBy"] for h in plain_history]
    assert history[0]["Comment"] == f"merge {plain['Id']} to {base['Id']}" and history[0]["Size"] > 0
    added = len(plain_history) - len(daemon.client.call("GET", "/images/busybox/history"))
    assert added == 4 and all(h["Size"] == 0 for h in history[1:1 + added])  # the build's rows: empty now
    # Made and removed within the build: gone; removed from the base: whited out; a directory the
    # build replaced: only its new contents.
    shell = run(daemon, "sq:squashed", "sh", "-c", "ls /secret /etc/group; cat /data/keep /data/a.txt; ls /var")
    assert shell.stdout.decode() == "keep\na\nnew\n", shell.stderr
    assert b"/secret" in shell.stderr and b"/etc/group" in shell.stderr
    assert inspect(daemon, plain["Id"])["Id"] == plain["Id"]  # the steps' image stays, as the cache
    again = build(daemon, ctx, "--squash")
    assert steps_from_cache(again.stdout.decode()) == [2, 3, 4, 5]
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY a.txt /\nCOPY a.txt /b.txt\n")
    build(daemon, ctx, "-t", "sq:scratch", "--squash")
    scratch = inspect(daemon, "sq:scratch")
    assert len(scratch["RootFS"]["Layers"]) == 1
    assert daemon.client.call("GET", "/images/sq:scratch/history")[0]["Comment"].startswith("create new from sha256:")
