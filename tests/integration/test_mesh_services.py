"""`docker service create -p PORT:80` on a one-node swarm, through the real docker CLI: the port
answers on this host's addresses, connections spread over the service's tasks, each task sees
the client's own address, a killed task leaves the balancing, and leaving the swarm leaves no
rule. etcd runs on loopback ports of the test's own."""

from __future__ import annotations

import collections
import json
import re
import subprocess
import urllib.request

import pytest
from netstate import free_prefix
from registry import free_port
from test_netfilter import _host_address
from waiting import until

# busybox httpd with a CGI that says which task answered and whom it saw.
WHO = ("mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\n"
       "echo $(hostname) $REMOTE_ADDR\\n' > /www/cgi-bin/who && chmod +x /www/cgi-bin/who && "
       "exec httpd -f -p 80 -h /www")


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


@pytest.fixture
def swarm(fresh_daemon):
    d = fresh_daemon
    _ok(d.docker("swarm", "init", "--listen-addr", f"127.0.0.1:{free_port()}", "--advertise-addr", "127.0.0.1"))
    yield d
    d.docker("swarm", "leave", "--force")


def _who(address: str, port: int) -> tuple[str, str] | None:
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/cgi-bin/who", timeout=5) as r:
            host, _, seen = r.read().decode().strip().partition(" ")
    except OSError:
        return None
    return host, seen.strip("[]").removeprefix("::ffff:")


def _running(d, service: str) -> dict[str, str]:
    """Hostname (the short container ID) -> container ID of the service's running tasks."""
    ids = _ok(d.docker("ps", "-q", "--no-trunc", "--filter", f"label=com.docker.swarm.service.name={service}",
                       "--filter", "status=running")).split()
    return {c["Config"]["Hostname"]: c["Id"] for c in json.loads(_ok(d.docker("inspect", *ids)))} if ids else {}


def test_an_ingress_port_of_a_service_spreads_over_its_tasks_and_keeps_the_client_address(swarm) -> None:
    d = swarm
    host, port = _host_address(), free_port()
    _ok(d.docker("service", "create", "--detach", "--name", "web", "--replicas", "3", "--publish",
                 f"published={port},target=80", "busybox", "sh", "-c", WHO))
    assert until(lambda: len(_running(d, "web")) == 3, 60), "3 running tasks"
    tasks = _running(d, "web")
    # Each task joins the balancing once the node's mesh has joined it to the ingress network.
    assert until(lambda: {(_who(host, port) or ("", ""))[0] for _ in range(6)} == set(tasks), 30), \
        "the published port reaches every task"
    answers = collections.Counter(_who(host, port) for _ in range(9))
    assert answers == {(name, host): 3 for name in tasks}  # round robin; the client's own address
    via_loopback = _who("127.0.0.1", port)  # masqueraded (it cannot leave the host as 127.0.0.1)
    assert via_loopback is not None and via_loopback[0] in tasks
    # A container on the same bridge as the tasks reaches the port through the host's address
    # (masqueraded: its backend would otherwise answer straight across the bridge).
    for _ in range(3):  # whichever task it lands on, itself included
        out = _ok(d.docker("run", "--rm", "busybox", "wget", "-qO-", f"http://{host}:{port}/cgi-bin/who"))
        assert out.split()[0] in tasks

    # A killed task leaves the balancing (the orchestrator replaces it; the new one joins).
    gone = sorted(tasks)[0]
    _ok(d.docker("kill", tasks[gone]))
    assert until(lambda: gone not in {(_who(host, port) or ("", ""))[0] for _ in range(6)}, 30)
    assert until(lambda: len(_running(d, "web")) == 3, 60)
    assert until(lambda: {(_who(host, port) or ("", ""))[0] for _ in range(9)} == set(_running(d, "web")), 30)

    # The daemon keeps its rules: a jump deleted behind its back comes back.
    chains = d.extra_args[d.extra_args.index("--bridge") + 1]
    jump = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", f"DYMESH-{chains}"]
    subprocess.run(["iptables", "-w", "-t", "nat", "-D", "OUTPUT", *jump], check=True)
    assert until(lambda: subprocess.run(["iptables", "-w", "-t", "nat", "-C", "OUTPUT", *jump],
                                        capture_output=True).returncode == 0, 30), "the jump is put back"
    assert _who(host, port) is not None

    _ok(d.docker("swarm", "leave", "--force"))
    assert f"DYMESH-{chains}" not in subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    assert _who(host, port) is None


def _addresses(out: str) -> list[str]:
    """The answer's addresses in busybox nslookup's output (after the server's own lines)."""
    answer = out.split("Name:", 1)[1] if "Name:" in out else ""
    return sorted(re.findall(r"Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)", answer))


def test_a_service_on_an_overlay_by_name_vip_and_ingress_port(swarm) -> None:
    """Tasks on an overlay: the published port reaches them through their docker_gwbridge leg;
    a container on the overlay resolves the service's name to its VIP and tasks.<name> to the
    tasks, and its connections to the VIP spread over them, its own address kept."""
    d = swarm
    host, port = _host_address(), free_port()
    prefix = free_prefix()
    _ok(d.docker("network", "create", "-d", "overlay", "--attachable", "--subnet", f"{prefix}.0/24", "front"))
    _ok(d.docker("service", "create", "--detach", "--name", "api", "--network", "front", "--replicas", "2",
                 "--publish", f"published={port},target=80", "busybox", "sh", "-c", WHO))
    assert until(lambda: len(_running(d, "api")) == 2, 60), "2 running tasks"
    tasks = _running(d, "api")
    assert until(lambda: {(_who(host, port) or ("", ""))[0] for _ in range(4)} == set(tasks), 30), \
        "the published port reaches every task"
    assert collections.Counter(_who(host, port) for _ in range(4)) == {(name, host): 2 for name in tasks}

    task_ips = sorted(c["NetworkSettings"]["Networks"]["front"]["IPAddress"]
                      for c in json.loads(_ok(d.docker("inspect", *tasks.values()))))
    vip = _addresses(_ok(d.docker("run", "--rm", "--network", "front", "busybox", "nslookup", "-type=a", "api")))
    assert len(vip) == 1 and vip[0].startswith(prefix + ".") and vip[0] not in task_ips
    listed = _ok(d.docker("run", "--rm", "--network", "front", "busybox", "nslookup", "-type=a", "tasks.api"))
    assert _addresses(listed) == task_ips
    calls = ("for i in $(seq 50); do wget -qO- -T 2 http://api/cgi-bin/who >/dev/null && break; sleep 0.2; done; "
             "ip -4 -o addr show eth0; for i in 1 2 3 4; do wget -qO- http://api/cgi-bin/who; done")
    out = _ok(d.docker("run", "--rm", "--network", "front", "busybox", "sh", "-c", calls)).splitlines()
    caller = out[0].split()[3].split("/")[0]
    answers = collections.Counter((line.split()[0], line.split()[1].strip("[]").removeprefix("::ffff:"))
                                  for line in out[1:])
    assert answers == {(name, caller): 2 for name in tasks}

    _ok(d.docker("service", "rm", "api"))
    assert until(lambda: _who(host, port) is None, 30), "a removed service's port no longer answers"
