"""The routing mesh across three `dockyard machine` hosts in one swarm, driven by the real docker
CLI: a replicated web service on an overlay answers its published ingress port on every node,
requests spread over the tasks of every node, each task sees the client's own address (also
when the node that took the connection is not the task's: replies go back through the ingress
sandbox that balanced it), a killed task leaves the balancing of every node, and a standalone
container on the attachable overlay reaches the service by name, its VIP and `tasks.<svc>`
listing every task wherever it runs.

One manager and two workers, which keep no store: their agents hear of their tasks, and their
mesh reads every node's task endpoints and publishes their own, through the manager's channel.
"""

from __future__ import annotations

import collections
import json
import os
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import PrivateDaemon
from test_machines import Fleet, ok
from waiting import until

NAMES = ("m1", "m2", "m3")
PORT = 8080
# busybox httpd with a CGI that says which task answered and whom it saw.
WHO = ("mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\n"
       "echo $(hostname) $REMOTE_ADDR\\n' > /www/cgi-bin/who && chmod +x /www/cgi-bin/who && "
       "exec httpd -f -p 80 -h /www")


@pytest.fixture(scope="module")
def fleet(busybox_tar):
    host = PrivateDaemon(busybox_tar).start()
    fleet = Fleet(host)
    try:
        busybox = busybox_tar.read_bytes()

        def make(name: str) -> None:
            ok(fleet.machine("create", name))
            ok(fleet.docker(name, "import", "-c", 'CMD ["sh"]', "-", "busybox:latest", input=busybox))

        with ThreadPoolExecutor(len(NAMES)) as pool:
            list(pool.map(make, NAMES))
        ips = {name: fleet.ip(name) for name in NAMES}
        ok(fleet.docker("m1", "swarm", "init", "--advertise-addr", ips["m1"]))
        token = ok(fleet.docker("m1", "swarm", "join-token", "-q", "worker")).strip()
        for name in NAMES[1:]:
            ok(fleet.docker(name, "swarm", "join", "--token", token, f"{ips['m1']}:2377"))
        yield fleet
    finally:  # rm ends every process of a machine, its etcd member too
        fleet.machine("rm", "-f", *fleet.machine("ls", "-q").stdout.decode().split())
        host.cleanup()


def log_tails(fleet: Fleet) -> str:
    out = []
    for name in NAMES:
        path = os.path.join(fleet.storage, "machines", name, "dockyardd.log")
        out.append(f"==== {name}\n" + "\n".join(open(path).read().splitlines()[-60:]))
    return "\n".join(out)


def who(address: str, port: int = PORT) -> tuple[str, str] | None:
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/cgi-bin/who", timeout=5) as r:
            name, _, seen = r.read().decode().strip().partition(" ")
    except OSError:
        return None
    return name, seen.strip("[]").removeprefix("::ffff:")


def running(fleet: Fleet, service: str) -> dict[str, str]:
    """Hostname (the short container ID) -> node name of the service's running tasks."""
    found = {}
    for name in NAMES:
        out = ok(fleet.docker(name, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}",
                              "--filter", "status=running"))
        found.update({cid[:12]: name for cid in out.split()})
    return found


def addresses(out: str) -> list[str]:
    """The answer's addresses in busybox nslookup's output (after the server's own lines)."""
    answer = out.split("Name:", 1)[1] if "Name:" in out else ""
    return sorted(re.findall(r"Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)", answer))


def test_a_published_port_answers_on_every_node_and_reaches_every_task(fleet):
    client = f"{fleet.prefix}.1"  # this host, on the machines' underlay
    ips = {name: fleet.ip(name) for name in NAMES}
    ok(fleet.docker("m1", "network", "create", "-d", "overlay", "--attachable", "appnet"))
    ok(fleet.docker("m1", "service", "create", "--detach", "--name", "web", "--replicas", "3", "--network", "appnet",
                    "--replicas-max-per-node", "1", "--publish", f"published={PORT},target=80", "busybox", "sh", "-c",
                    WHO))
    assert until(lambda: len(running(fleet, "web")) == 3, 90), \
        fleet.docker("m1", "service", "ps", "--no-trunc", "web").stdout.decode() + log_tails(fleet)
    tasks = running(fleet, "web")
    assert sorted(tasks.values()) == sorted(NAMES)

    # Every node answers, and balances over every node's tasks; each task sees this host's address.
    for name in NAMES:
        assert until(lambda name=name: {(who(ips[name]) or ("", ""))[0] for _ in range(6)} == set(tasks), 60), \
            f"{name}'s port reaches the tasks of every node"
        answers = collections.Counter(who(ips[name]) for _ in range(6))
        assert answers == {(task, client): 2 for task in tasks}, name  # round robin, the client's own address

    # A standalone container on the attachable overlay: the service's VIP and every task by name.
    task_ips = sorted(ok(fleet.docker(node, "inspect", "-f", "{{.NetworkSettings.Networks.appnet.IPAddress}}", cid))
                      .strip() for cid, node in tasks.items())
    script = ("for i in $(seq 50); do wget -qO- -T 2 http://web/cgi-bin/who >/dev/null && break; sleep 0.2; done; "
              "ip -4 -o addr show eth0; for i in 1 2 3 4 5 6; do wget -qO- http://web/cgi-bin/who; done; "
              "nslookup -type=a web; echo ====; nslookup -type=a tasks.web; ping -c 1 -W 3 web >/dev/null && "
              "echo ping-answered")
    out = ok(fleet.docker("m2", "run", "--rm", "--network", "appnet", "busybox", "sh", "-c", script))
    calls, _, names = out.partition("Server:")
    lines = calls.splitlines()
    caller = lines[0].split()[3].split("/")[0]
    seen = collections.Counter((line.split()[0], line.split()[1].strip("[]").removeprefix("::ffff:"))
                               for line in lines[1:7])
    assert seen == {(t, caller): 2 for t in tasks}
    vip_out, _, tasks_out = ("Server:" + names).partition("====")
    vip = addresses(vip_out)
    assert len(vip) == 1 and vip[0] not in task_ips
    assert addresses(tasks_out.partition("ping-answered")[0]) == task_ips
    assert "ping-answered" in tasks_out  # ICMP to the VIP reaches a task
    inspected = json.loads(ok(fleet.docker("m1", "service", "inspect", "web")))[0]["Endpoint"]
    assert any(v["Addr"].split("/")[0] == vip[0] for v in inspected.get("VirtualIPs", []))

    # A task killed on m3 leaves the balancing of every node (its replacement joins later).
    gone = next(cid for cid, node in tasks.items() if node == "m3")
    ok(fleet.docker("m3", "kill", gone))
    for name in NAMES:
        assert until(lambda name=name: gone not in {(who(ips[name]) or ("", ""))[0] for _ in range(6)}, 30), name
    assert until(lambda: len(running(fleet, "web")) == 3, 90)
    now = set(running(fleet, "web"))
    assert until(lambda: {(who(ips["m1"]) or ("", ""))[0] for _ in range(9)} == now, 60)

    ok(fleet.docker("m1", "service", "rm", "web"))
    for name in NAMES:
        assert until(lambda name=name: who(ips[name]) is None, 30), f"{name} stops answering"


def test_a_port_the_swarm_chooses_answers_everywhere_and_a_host_port_only_on_its_node(fleet):
    ips = {name: fleet.ip(name) for name in NAMES}
    ok(fleet.docker("m1", "service", "create", "--detach", "--name", "auto", "--publish", "target=80",
                    "busybox", "sh", "-c", WHO))
    ok(fleet.docker("m1", "service", "create", "--detach", "--name", "pinned", "--constraint", "node.hostname==m2",
                    "--publish", "mode=host,published=8090,target=80", "busybox", "sh", "-c", WHO))
    assert until(lambda: len(running(fleet, "auto")) == 1 and len(running(fleet, "pinned")) == 1, 90)

    def published() -> int:
        ports = json.loads(ok(fleet.docker("m1", "service", "inspect", "auto")))[0]["Endpoint"].get("Ports", [])
        return ports[0].get("PublishedPort", 0) if ports else 0

    assert until(lambda: published() > 0, 30), "the swarm chose a port"
    port = published()
    assert 30000 <= port <= 32767
    for name in NAMES:
        assert until(lambda name=name: who(ips[name], port) is not None, 60), f"port {port} answers on {name}"

    assert until(lambda: who(ips["m2"], 8090) is not None, 30), "the host port answers on its task's node"
    assert who(ips["m1"], 8090) is None and who(ips["m3"], 8090) is None
    ok(fleet.docker("m1", "service", "rm", "auto", "pinned"))
    assert until(lambda: who(ips["m3"], port) is None, 30)


def test_an_unhealthy_task_leaves_the_balancing_of_every_node(fleet):
    ips = {name: fleet.ip(name) for name in NAMES}
    port = PORT + 2
    ok(fleet.docker("m1", "service", "create", "--detach", "--name", "checked", "--replicas", "2",
                    "--health-cmd", "test ! -f /tmp/sick", "--health-interval", "1s", "--health-retries", "1",
                    "--publish", f"published={port},target=80", "busybox", "sh", "-c", WHO))
    assert until(lambda: len(running(fleet, "checked")) == 2, 90)
    tasks = running(fleet, "checked")
    assert until(lambda: {(who(ips["m1"], port) or ("", ""))[0] for _ in range(4)} == set(tasks), 60), \
        (tasks, [who(ips["m1"], port) for _ in range(4)], log_tails(fleet))
    sick, node = sorted(tasks.items())[0]
    ok(fleet.docker(node, "exec", sick, "touch", "/tmp/sick"))
    for name in NAMES:
        assert until(lambda name=name: sick not in {(who(ips[name], port) or ("", ""))[0] for _ in range(4)}, 30), \
            f"{name} stops sending connections to the unhealthy task"
    ok(fleet.docker("m1", "service", "rm", "checked"))
