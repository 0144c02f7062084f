"""Interactive containers: detach keys, re-attaching, start -a -i, stdin closing."""

import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def read_until(sock: socket.socket, marker: bytes, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_detach_keys_leave_the_container_running_and_attach_comes_back(daemon):
    cid = daemon.client.call("POST", "/containers/create", query={"name": "detachable"}, body={
        "Image": "busybox", "Tty": True, "OpenStdin": True, "Cmd": ["sh"]})["Id"]
    try:
        first = daemon.client.send("POST", f"/containers/{cid}/attach", upgrade=True,
                                   query={"stream": 1, "stdin": 1, "stdout": 1, "stderr": 1})
        daemon.client.call("POST", f"/containers/{cid}/start")
        first.sock.sendall(b"echo one-$((40+2))\n")
        assert b"one-42" in first.take_buffered() + read_until(first.sock, b"one-42")
        first.sock.sendall(b"\x10\x11")  # ctrl-p ctrl-q
        first.sock.settimeout(5)
        while first.sock.recv(65536):
            pass  # the daemon ends this attach
        time.sleep(0.2)
        assert daemon.client.call("GET", f"/containers/{cid}/json")["State"]["Running"]
        second = daemon.client.send("POST", f"/containers/{cid}/attach", upgrade=True,
                                    query={"stream": 1, "stdin": 1, "stdout": 1, "stderr": 1,
                                           "detachKeys": "ctrl-x"})
        second.sock.sendall(b"echo two-$((40+3))\n")
        assert b"two-43" in read_until(second.sock, b"two-43")
        second.sock.sendall(b"exit 3\n")
        assert daemon.client.call("POST", f"/containers/{cid}/wait")["StatusCode"] == 3
    finally:
        daemon.client.call("DELETE", f"/containers/{cid}", query={"force": True})


def test_cli_run_it_detaches_with_ctrl_p_ctrl_q(daemon):
    # A pseudo-terminal for the CLI, so that -t is allowed and raw mode is used.
    script = (f"{BIN / 'dockyard'} -H {daemon.host} run -it --name cli-detach busybox sh")
    proc = subprocess.Popen(["script", "-qec", script, "/dev/null"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        time.sleep(1.0)
        proc.stdin.write(b"echo inside\n")
        proc.stdin.flush()
        time.sleep(0.5)
        proc.stdin.write(b"\x10\x11")
        proc.stdin.flush()
        assert proc.wait(10) == 0
        assert daemon.client.call("GET", "/containers/cli-detach/json")["State"]["Running"]
    finally:
        proc.kill()
        daemon.cli("rm", "-f", "cli-detach")


def test_start_attach_interactive(daemon):
    daemon.cli("create", "-i", "--name", "started-attached", "busybox", "sh", "-c", "read line; echo got:$line; exit 4")
    try:
        r = daemon.cli("start", "-a", "-i", "started-attached", input=b"hello\n")
        assert r.stdout == b"got:hello\n" and r.returncode == 4
    finally:
        daemon.cli("rm", "-f", "started-attached")


def test_attach_refuses_a_stopped_container(daemon):
    daemon.cli("create", "--name", "never-started", "busybox", "true")
    try:
        r = daemon.cli("attach", "never-started")
        assert r.returncode == 1 and b"You cannot attach to a stopped container, start it first" in r.stderr
    finally:
        daemon.cli("rm", "never-started")


def test_signals_sent_to_the_cli_reach_the_container(daemon):
    import signal

    script = "trap 'echo got-usr1; exit 9' USR1; echo ready; while true; do sleep 0.1; done"
    proc = subprocess.Popen([str(BIN / "dockyard"), "-H", daemon.host, "run", "--rm", "--name", "proxied", "busybox",
                             "sh", "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGUSR1)
        out, _ = proc.communicate(timeout=10)
        assert out == b"got-usr1\n" and proc.returncode == 9
    finally:
        proc.kill()
