"""The daemon process itself: socket permissions, TCP refusal, containers outliving it."""

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def test_socket_is_root_and_dockyard_group_0660(daemon):
    import grp

    st = os.stat(daemon.socket)
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_uid == 0
    assert grp.getgrgid(st.st_gid).gr_name == "dockyard"


def test_tcp_without_mutual_tls_is_refused(tmp_path):
    result = subprocess.run([str(BIN / "dockyardd"), "-H", "tcp://127.0.0.1:23750", "--data-root",
                             str(tmp_path / "data"), "--exec-root", str(tmp_path / "exec")],
                            capture_output=True, timeout=30)
    assert result.returncode != 0
    assert b"refusing to listen on TCP without mutual TLS" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before touching anything


def test_container_outlives_the_daemon_and_its_exit_is_recorded(fresh_daemon):
    d = fresh_daemon
    cid = d.cli("run", "-d", "busybox", "sh", "-c", "sleep 1; echo done; exit 9").stdout.decode().strip()
    assert len(cid) == 64
    d.proc.send_signal(signal.SIGKILL)  # no clean shutdown: the shim must carry on alone
    d.proc.wait()
    time.sleep(1.5)
    d.start()
    deadline = time.time() + 10
    while time.time() < deadline:
        state = d.client.call("GET", f"/containers/{cid}/json")["State"]
        if state["Status"] == "exited":
            break
        time.sleep(0.1)
    assert state["Status"] == "exited" and state["ExitCode"] == 9
    assert d.cli("logs", cid).stdout == b"done\n"


def test_daemon_restart_reattaches_to_a_running_container(fresh_daemon):
    d = fresh_daemon
    cid = d.cli("run", "-d", "busybox", "sleep", "30").stdout.decode().strip()
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.start()
    state = d.client.call("GET", f"/containers/{cid}/json")["State"]
    assert state["Running"] and state["Pid"] > 0
    os.kill(state["Pid"], signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and d.client.call("GET", f"/containers/{cid}/json")["State"]["Running"]:
        time.sleep(0.05)
    assert d.client.call("GET", f"/containers/{cid}/json")["State"]["ExitCode"] == 137


def test_daemon_says_ready_on_notify_socket_once_it_answers(tmp_path):
    """sd_notify as dockerd does it: READY=1 and MAINPID on $NOTIFY_SOCKET, sent once requests are
    answered (what a machine's create waits for, instead of polling)."""
    import select
    import socket

    from conftest import network_args

    from dockyard.cli.client import Client

    notify_path = str(tmp_path / "notify.sock")
    sock_path = str(tmp_path / "d.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(notify_path)
        proc = subprocess.Popen([str(BIN / "dockyardd"), "-H", f"unix://{sock_path}", "--data-root",
                                 str(tmp_path / "data"), "--exec-root", str(tmp_path / "exec"), *network_args()],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "NOTIFY_SOCKET": notify_path})
        try:
            assert select.select([notify], [], [], 30)[0], "no READY=1 within 30 s"
            message = notify.recv(4096).decode().split("\n")
            assert "READY=1" in message and f"MAINPID={proc.pid}" in message
            assert Client(f"unix://{sock_path}").call("GET", "/version")["Version"]  # at once: no retry
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def _make_certs(directory: Path) -> None:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=dockyard-test-ca")
    for name, cn in (("server", "127.0.0.1"), ("client", "client")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
                "-subj", f"/CN={cn}")
        (directory / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1\n" if name == "server" else
                                               "extendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")


def test_tcp_with_mutual_tls_serves_only_clients_with_a_certificate(tmp_path):
    import socket
    import ssl

    from dockyard.cli.client import Client, ConnectionFailed

    _make_certs(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([str(BIN / "dockyardd"), "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
                             "--tlscacert", str(tmp_path / "ca.pem"), "--tlscert", str(tmp_path / "server.pem"),
                             "--tlskey", str(tmp_path / "server-key.pem"), "--data-root", str(tmp_path / "data"),
                             "--exec-root", str(tmp_path / "exec")], stderr=subprocess.PIPE)
    try:
        certs = tmp_path / "client-certs"
        certs.mkdir()
        for src, dst in (("ca.pem", "ca.pem"), ("client.pem", "cert.pem"), ("client-key.pem", "key.pem")):
            (certs / dst).write_bytes((tmp_path / src).read_bytes())
        os.environ["DOCKER_CERT_PATH"] = str(certs)
        client = Client(f"tcp://127.0.0.1:{port}")
        deadline = time.time() + 15
        while True:
            try:
                assert client.call("GET", "/_ping") == b"OK"
                break
            except (ConnectionFailed, ConnectionError, OSError):
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        # Without a client certificate the handshake is refused.
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    answer = tls.recv(100)
                except (ssl.SSLError, ConnectionResetError):
                    answer = b""
                assert not answer.startswith(b"HTTP/1.1 200")
    finally:
        os.environ.pop("DOCKER_CERT_PATH", None)
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def test_copy_snapshotter_runs_containers_where_overlay_is_not_used(busybox_tar):
    from conftest import PrivateDaemon

    d = PrivateDaemon(busybox_tar, ["--storage-driver", "vfs"]).start()
    try:
        d.import_busybox()
        assert d.client.call("GET", "/info")["Driver"] == "vfs"
        r = d.cli("run", "--rm", "busybox", "sh", "-c", "echo changed > /etc/motd; cat /etc/motd; ls /bin/sh")
        assert r.stdout == b"changed\n/bin/sh\n", r.stderr
        from test_container_flags import DIFF_EXPECTED, DIFF_SCRIPT

        d.cli("run", "--name", "vfs-diff", "busybox", "sh", "-c", DIFF_SCRIPT)
        assert d.cli("diff", "vfs-diff").stdout.decode().splitlines() == DIFF_EXPECTED
    finally:
        d.cleanup()


def test_after_a_daemon_restart_logs_follow_and_attach_stream_again(fresh_daemon):
    d = fresh_daemon
    cid = d.cli("run", "-d", "-i", "busybox", "sh", "-c",
                "while read line; do echo got:$line; done").stdout.decode().strip()
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.start()
    follower = subprocess.Popen([str(BIN / "dockyard"), "-H", d.host, "logs", "-f", cid], stdout=subprocess.PIPE)
    attach = d.client.send("POST", f"/containers/{cid}/attach", upgrade=True,
                           query={"stream": 1, "stdin": 1, "stdout": 1})
    try:
        attach.sock.sendall(b"after-restart\n")
        from dockyard.util.frames import split_frames

        data = b""
        attach.sock.settimeout(10)
        while b"got:after-restart" not in data:
            chunk = attach.sock.recv(65536)
            assert chunk, "the attach stream ended early"
            data += chunk
        frames, _ = split_frames(attach.take_buffered() + data)
        assert (1, b"got:after-restart\n") in frames
        # logs -f shows the line (on a loaded machine the CLI may connect only now), then ends with the container
        assert follower.stdout.readline() == b"got:after-restart\n"
        d.cli("rm", "-f", cid)
        follower.communicate(timeout=10)
        assert follower.returncode == 0
    finally:
        follower.kill()
        attach.close()
