"""The networking scenarios through the real docker CLI against our daemon."""

import time
import urllib.request

import pytest
from conftest import PrivateDaemon
from netstate import free_prefix, host_network_state, settled_leftovers

HTTPD = "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www"


def ok(result) -> str:
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    return result.stdout.decode()


@pytest.fixture
def net(busybox_tar):
    before = host_network_state()
    d = PrivateDaemon(busybox_tar).start()
    d.import_busybox()
    yield d
    d.cleanup()
    assert settled_leftovers(before, own=d.own_marks()) == [], d.log()[-3000:]


def test_docker_cli_networks_dns_ports_links_and_connect(net):
    x = free_prefix()
    ok(net.docker("network", "create", "--subnet", f"{x}.0/24", "appnet"))
    assert "appnet" in ok(net.docker("network", "ls", "--format", "{{.Name}}")).split()
    ok(net.docker("run", "-d", "--name", "api", "--network", "appnet", "--network-alias", "backend", "-p",
                  "127.0.0.1::80", "busybox", "sh", "-c", HTTPD))
    r = ok(net.docker("run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
                      "ping -c1 -W1 api && ping -c1 -W1 backend && wget -qO- http://api/"))
    assert r.count("1 packets received") == 2 and r.endswith("hi\n")
    mapped = ok(net.docker("port", "api", "80")).strip()
    assert mapped.startswith("127.0.0.1:")
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://{mapped}/", timeout=2) as page:
                assert page.read() == b"hi\n"
                break
        except OSError:
            time.sleep(0.05)
    else:
        raise AssertionError(f"nothing answers on {mapped}")
    assert "->80/tcp" in ok(net.docker("ps", "--format", "{{.Ports}}", "-f", "name=api"))
    ip = ok(net.docker("inspect", "-f", "{{.NetworkSettings.Networks.appnet.IPAddress}}", "api")).strip()
    assert ip.startswith(f"{x}.")
    inspect = ok(net.docker("network", "inspect", "-f", "{{range .Containers}}{{.Name}}={{.IPv4Address}}{{end}}",
                            "appnet"))
    assert inspect.strip() == f"api={ip}/24"
    ok(net.docker("run", "-d", "--name", "db", "-e", "PW=x", "--expose", "5432", "busybox", "sleep", "60"))
    env = ok(net.docker("run", "--rm", "--link", "db:data", "busybox", "env"))
    assert "DATA_ENV_PW=x" in env and "DATA_PORT_5432_TCP_PORT=5432" in env
    ok(net.docker("network", "connect", "appnet", "db"))
    assert f"inet {x}." in ok(net.docker("exec", "db", "ip", "-o", "-4", "addr", "show", "eth1"))
    ok(net.docker("network", "disconnect", "appnet", "db"))
    r = net.docker("run", "--rm", "--network", "none", "busybox", "ping", "-c1", "-W1", f"{x}.1")
    assert "Network is unreachable" in r.stderr.decode()
    r = net.docker("network", "rm", "appnet")
    assert r.returncode != 0 and "active endpoints" in r.stderr.decode()
    ok(net.docker("rm", "-f", "api", "db"))
    ok(net.docker("network", "rm", "appnet"))
