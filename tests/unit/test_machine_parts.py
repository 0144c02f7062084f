"""Machines' parts that need no root: the record's JSON, certificates, the underlay's addresses, the
engine's flags, and the CLI's docker-machine formatting."""

import ipaddress
import os
import ssl

import pytest

from dockyard.cli import machine as cli
from dockyard.machine import certs, engine
from dockyard.machine.errors import MachineError
from dockyard.machine.model import AuthOptions, EngineOptions, Host
from dockyard.machine.underlay import Underlay


def test_the_record_is_docker_machines_config_json_and_reads_back():
    auth = AuthOptions("/s/certs", "/s/certs/ca.pem", "/s/certs/ca-key.pem", "/s/certs/cert.pem", "/s/certs/key.pem",
                       "/s/machines/m1/server.pem", "/s/machines/m1/server-key.pem", "/s", ["m1.local"])
    host = Host("m1", "netns", {"IPAddress": "192.168.99.100", "MachineName": "m1"},
                EngineOptions(["dns=10.0.0.1"], ["A=1"], ["10.1.0.0/16"], ["role=front"], ["http://mirror"], "vfs"),
                auth)
    document = host.to_json()
    assert list(document) == ["ConfigVersion", "Driver", "DriverName", "HostOptions", "Name"]
    assert document["HostOptions"]["EngineOptions"]["TlsVerify"] is True
    assert document["HostOptions"]["AuthOptions"]["ServerCertSANs"] == ["m1.local"]
    assert Host.from_json(document) == host


def test_server_certificate_names_the_machine_ip_and_chains_to_the_ca(tmp_path):
    from cryptography import x509

    ca = certs.Pair(str(tmp_path / "ca.pem"), str(tmp_path / "ca-key.pem"))
    certs.make_ca(ca)
    server = certs.Pair(str(tmp_path / "server.pem"), str(tmp_path / "server-key.pem"))
    certs.make_leaf(ca, server, "root.m1", server=True, ips=["192.168.99.100"], names=["m1"])
    cert = x509.load_pem_x509_certificate(open(server.cert, "rb").read())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.168.99.100")]
    assert sans.get_values_for_type(x509.DNSName) == ["m1"]
    # Python's TLS takes them as a server would (CA to verify clients, the pair to present).
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca.cert)
    context.load_cert_chain(server.cert, server.key)


def test_bootstrap_makes_the_ca_once(tmp_path):
    said = []
    ca, client = certs.bootstrap(str(tmp_path), said.append)
    assert [line.split(":")[0] for line in said] == ["Creating CA", "Creating client certificate"]
    before = open(ca.cert).read()
    certs.bootstrap(str(tmp_path), said.append)
    assert len(said) == 2 and open(ca.cert).read() == before
    certs.bootstrap(str(tmp_path), said.append, regenerate=True)
    assert open(ca.cert).read() != before


def test_underlay_addresses_start_where_virtualboxs_did():
    underlay = Underlay.parse("dym0", "192.168.99.1/24")
    assert underlay.allocate(set()) == "192.168.99.100"
    assert underlay.allocate({"192.168.99.100"}) == "192.168.99.101"
    small = Underlay.parse("dym0", "10.9.0.1/29")
    assert small.allocate(set()) == "10.9.0.2"
    with pytest.raises(MachineError, match="no free address"):
        small.allocate({f"10.9.0.{i}" for i in range(2, 7)})


@pytest.mark.parametrize("bridge,cidr,flag", [
    ("a-name-that-is-too-long", "192.168.99.1/24", "--netns-underlay-bridge"),
    ("dym0", "10.300.0.1/24", "--netns-underlay-cidr"),
    ("dym0", "10.0.0.1/30", "--netns-underlay-cidr"),
    ("dym0", "10.0.0.0/24", "--netns-underlay-cidr"),
])
def test_underlay_refuses_bad_flags(bridge, cidr, flag):
    with pytest.raises(MachineError, match=flag):
        Underlay.parse(bridge, cidr)


def test_engine_options_become_dockyardd_flags():
    options = EngineOptions(["debug", "--mtu=1400"], ["X=1"], ["10.0.0.0/8"], ["a=b"], ["http://m"], "vfs")
    spec = engine.spec(options)
    assert spec.flags == ["--label", "a=b", "--insecure-registry", "10.0.0.0/8", "--registry-mirror", "http://m",
                          "--storage-driver", "vfs", "--debug", "--mtu=1400"]
    assert spec.env == {"X": "1"}
    engine.check(options)
    with pytest.raises(MachineError, match="--engine-env"):
        engine.check(EngineOptions(env=["=x"]))


def test_ls_table_is_laid_out_as_gos_tabwriter_in_docker_machine():
    lines = ["NAME\tACTIVE\tURL\tERRORS", "m1\t*\ttcp://10.0.0.100:2376\t", "long-name\t-\t\t"]
    # Each cell but the last padded to its column's widest plus 3 (at least 5).
    assert cli._tabwriter(lines) == ("NAME        ACTIVE   URL                     ERRORS\n"
                                     "m1          *        tcp://10.0.0.100:2376   \n"
                                     "long-name   -                                \n")


def test_ls_filters_use_docker_machines_words():
    assert cli._ls_filters(["state=Running", "name=m.*", "state=Stopped"]) == \
        {"state": ["Running", "Stopped"], "name": ["m.*"]}
    with pytest.raises(cli.Failed, match="Unsupported filter syntax"):
        cli._ls_filters(["state"])
    with pytest.raises(cli.Failed, match="Unsupported filter key 'colour'"):
        cli._ls_filters(["colour=red"])


@pytest.mark.parametrize("shell,hint", [
    ("bash", "# Run this command to configure your shell: \n# eval $(dockyard machine env m1)\n"),
    ("fish", "# Run this command to configure your shell: \n# eval (dockyard machine env m1)\n"),
    ("tcsh", ": Run this command to configure your shell: \n: eval `dockyard machine env m1`\n"),
    ("powershell", "# Run this command to configure your shell: \n# & dockyard machine env m1 | Invoke-Expression\n"),
])
def test_env_usage_hint_per_shell(shell, hint):
    assert cli._usage_hint(shell, ["env", "m1"]) == hint


def test_underlay_names_what_of_its_rules_is_missing():
    underlay = Underlay.parse("dymu0", "10.9.8.1/24")
    whole = [*underlay._rules(), "-A FORWARD -j DYM-FWD-dymu0", "-A INPUT -i dymu0 -j DYM-IN-dymu0"]
    assert underlay.missing(whole) == []
    without = [line for line in whole if line != "-A DYM-FWD-dymu0 -i dymu0 -j DROP" and "FORWARD" not in line]
    assert underlay.missing(without) == ["rule '-A DYM-FWD-dymu0 -i dymu0 -j DROP'",
                                         "jump '-A FORWARD -j DYM-FWD-dymu0'"]
    swapped = [whole[1], whole[0], *whole[2:]]
    assert underlay.missing(swapped) == ["the order of the rules in DYM-FWD-dymu0 and DYM-IN-dymu0"]


def test_underlay_keeper_reads_nothing_in_a_store_without_machines(tmp_path):
    from dockyard.machine.keeper import UnderlayRules

    rules = UnderlayRules(str(tmp_path / "machine"))
    assert rules.heal() == []
    assert ("filter", "FORWARD") in rules.watched_chains()


def test_other_stores_are_kept_while_announced_and_another_daemons_default_store_is_left_to_it(tmp_path):
    from dockyard.machine.keeper import UnderlayRules, announce, announced, withdraw

    stores = str(tmp_path / "stores")
    own, other = str(tmp_path / "root" / "machine"), str(tmp_path / "elsewhere")
    (tmp_path / "daemon2").mkdir()
    (tmp_path / "daemon2" / "engine-id").write_text("x")
    theirs = str(tmp_path / "daemon2" / "machine")
    for root in (other, other, own, theirs):  # twice: announced once
        announce(root, stores)
    assert sorted(announced(stores)) == sorted([other, own, theirs])
    rules = UnderlayRules(own, stores)
    assert rules.stores() == [own, other]
    assert UnderlayRules(own).stores() == [own]
    assert rules.heal() == []  # no store has a machines/ directory: nothing read
    for root in (other, own, theirs):
        withdraw(root, stores)
    assert not os.path.exists(stores) and rules.stores() == [own]
