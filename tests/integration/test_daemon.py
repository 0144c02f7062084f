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
