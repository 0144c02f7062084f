"""The network service's parts without root: typed records and the records already on disk,
address management (IPAM), port specs and bindings, the driver registry, and the service's
create/remove/load driven through a fake driver with in-memory containers and events."""

import ipaddress
import json

import pytest

from dockyard.engine.container import Container
from dockyard.engine.networks import NetworkOptions, NetworkService
from dockyard.engine.networks.addresses import AddressSpace
from dockyard.engine.networks.catalog import new_network
from dockyard.engine.networks.dnsview import DNSView
from dockyard.engine.networks.ports import normalize_port_bindings, ports_view, recorded_bindings, wanted_bindings
from dockyard.engine.specs.containers import ContainerConfig, HostConfig, PortBinding
from dockyard.engine.specs.networks import IPAM as IPAMSpec
from dockyard.engine.specs.networks import IPAMPool, NetworkCreate
from dockyard.errors import Conflict, Forbidden, InvalidParameter, NotFound, Unavailable
from dockyard.network.drivers.bridge import BridgeDriver, bridge_name
from dockyard.network.drivers.driver import Capabilities, Driver
from dockyard.network.drivers.registry import DriverRegistry
from dockyard.network.iptables import BridgeRules, PortRule
from dockyard.network.portmap import Mapping
from dockyard.network.portspec import PortSpecError, parse_expose, parse_publish, publish_fields
from dockyard.network.records import IPAMConfig, Network
from dockyard.network.sandbox import Interface
from dockyard.network.store import NetworkStore

# Records as the daemon wrote them before they were typed (engine/networks.py's _record): they
# must load, and be written back byte for byte the same.
OLD_RECORDS = [
    {"Name": "bridge", "Id": "a" * 64, "Created": "2026-12-01T10:00:00.123456789Z", "Scope": "local",
     "Driver": "bridge", "EnableIPv6": False,
     "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1",
                                                              "IPRange": "172.17.5.0/24"}]},
     "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
     "Options": {"com.docker.network.bridge.default_bridge": "true",
                 "com.docker.network.bridge.enable_icc": "false",
                 "com.docker.network.bridge.enable_ip_masquerade": "true",
                 "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                 "com.docker.network.bridge.name": "dockyard0", "com.docker.network.driver.mtu": "1400"},
     "Labels": {}},
    {"Name": "host", "Id": "b" * 64, "Created": "2026-12-01T10:00:00.000000001Z", "Scope": "local",
     "Driver": "host", "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None, "Config": []},
     "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
     "Options": {}, "Labels": {}},
    {"Name": "web net", "Id": "c" * 64, "Created": "2026-12-02T11:00:00.5Z", "Scope": "local",
     "Driver": "bridge", "EnableIPv6": True,
     "IPAM": {"Driver": "default", "Options": None,
              "Config": [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.254",
                          "AuxiliaryAddresses": {"router": "10.9.0.1"}},
                         {"Subnet": "fd00:9::/64", "Gateway": "fd00:9::1"}]},
     "Internal": True, "Attachable": True, "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
     "Options": {"com.docker.network.bridge.name": "br-web"}, "Labels": {"com.example": "x"}},
]


def test_records_written_before_types_load_and_are_written_back_unchanged(tmp_path):
    (tmp_path / "network").mkdir()
    for doc in OLD_RECORDS:
        (tmp_path / "network" / f"{doc['Id']}.json").write_text(json.dumps(doc))
    (tmp_path / "network" / "broken.json").write_text('{"Driver": "bridge"}')  # no name: skipped, not fatal
    store = NetworkStore(str(tmp_path))
    loaded = {n.name: n for n in store.load()}
    assert sorted(loaded) == ["bridge", "host", "web net"]
    for doc in OLD_RECORDS:
        network = loaded[doc["Name"]]
        assert network.to_json() == doc
        assert list(network.to_json()) == list(doc)  # same keys in the same order as before
        store.save(network)
        assert json.loads((tmp_path / "network" / f"{doc['Id']}.json").read_text()) == doc
    web = loaded["web net"]
    assert (web.ipv4.subnet, web.ipv4.gateway, web.ipv4.auxiliary_addresses) == ("10.9.0.0/24", "10.9.0.254",
                                                                                {"router": "10.9.0.1"})
    assert web.ipv6.subnet == "fd00:9::/64" and web.internal and web.attachable and web.user_defined
    default = loaded["bridge"]
    assert default.ipv4.ip_range == "172.17.5.0/24" and default.ipv6 is None and not default.user_defined
    assert default.mtu(1500) == 1400 and not default.option_true("com.docker.network.bridge.enable_icc")
    assert loaded["host"].ipv4 is None and loaded["host"].ipam.options is None


def test_an_older_record_missing_keys_gets_dockers_defaults():
    network = Network.from_json({"Name": "old", "Id": "d" * 64, "Driver": "bridge",
                                 "IPAM": {"Config": [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"}]}})
    assert (network.scope, network.enable_ipv6, network.internal, network.labels, network.options) == \
        ("local", False, False, {}, {})
    assert network.to_json()["IPAM"] == {"Driver": "default", "Options": None,
                                         "Config": [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"}]}


# -- IPAM -----------------------------------------------------------------------------------------
def _space(networks, host=()):
    return AddressSpace(lambda: networks, [("10.20.0.0/16", 24)], lambda: list(host))


def test_automatic_subnets_avoid_the_hosts_routes_and_the_daemons_networks():
    networks = []
    host = [("eth0", ipaddress.IPv4Network("10.20.0.0/24")), ("dy0", ipaddress.IPv4Network("10.20.2.0/24"))]
    space = _space(networks, host)
    first = space.network_config(None)
    assert (first.subnet, first.gateway) == ("10.20.1.0/24", "10.20.1.1")
    networks.append(new_network("a", "bridge", {}, [first], internal=False))
    assert space.network_config(None).subnet == "10.20.3.0/24"
    # The bridge being re-adopted does not count against its own subnet.
    assert ipaddress.IPv4Network("10.20.2.0/24") not in space.taken_subnets(exclude_bridge="dy0")


def test_a_named_subnet_must_be_free_among_own_networks_only_and_hold_gateway_range_and_aux():
    networks = [new_network("a", "bridge", {}, [IPAMConfig("10.30.0.0/24", "10.30.0.1")], internal=False)]
    space = _space(networks, [("eth0", ipaddress.IPv4Network("10.40.0.0/16"))])
    with pytest.raises(Forbidden, match="Pool overlaps with other one on this address space"):
        space.network_config(IPAMPool(subnet="10.30.0.128/25"))
    config = space.network_config(IPAMPool(subnet="10.40.1.0/24", ip_range="10.40.1.128/25",
                                           auxiliary_addresses={"gw2": "10.40.1.2"}))
    assert config.to_json() == {"Subnet": "10.40.1.0/24", "Gateway": "10.40.1.1", "IPRange": "10.40.1.128/25",
                                "AuxiliaryAddresses": {"gw2": "10.40.1.2"}}
    with pytest.raises(InvalidParameter, match="gateway 10.50.0.1 is not in the subnet 10.40.2.0/24"):
        space.network_config(IPAMPool(subnet="10.40.2.0/24", gateway="10.50.0.1"))
    with pytest.raises(InvalidParameter, match="is not inside the subnet"):
        space.network_config(IPAMPool(subnet="10.40.2.0/24", ip_range="10.40.3.0/25"))
    with pytest.raises(Forbidden, match=r"auxiliary address: \(x:10.9.9.9\) must belong to the master pool"):
        space.network_config(IPAMPool(subnet="10.40.2.0/24", auxiliary_addresses={"x": "10.9.9.9"}))
    with pytest.raises(InvalidParameter, match="gateway and ip-range need a subnet"):
        space.network_config(IPAMPool(gateway="10.40.2.1"))


def test_endpoint_addresses_skip_gateway_and_aux_stay_in_range_and_come_back_when_released():
    config = IPAMConfig("10.60.0.0/29", "10.60.0.1", auxiliary_addresses={"printer": "10.60.0.2"})
    network = new_network("n", "bridge", {}, [config], internal=False)
    space = _space([network])
    space.open(network)
    got = [space.allocate(network) for _ in range(4)]
    assert got == ["10.60.0.3", "10.60.0.4", "10.60.0.5", "10.60.0.6"]
    with pytest.raises(Conflict, match="no available IPv4 addresses"):
        space.allocate(network)
    space.release(network.id, "10.60.0.4")
    assert space.allocate(network) == "10.60.0.4"
    with pytest.raises(Conflict, match="Address already in use: 10.60.0.5"):
        space.allocate(network, "10.60.0.5")
    with pytest.raises(InvalidParameter, match="no configured subnet or ip-range contain the IP address"):
        space.allocate(network, "10.61.0.5")
    assert space.allocate6(network) == ""  # no IPv6 subnet: no IPv6 address
    with pytest.raises(InvalidParameter, match="has no IPv6 subnet"):
        space.allocate6(network, "fd00::5")


def test_addresses_of_running_containers_are_reserved_again_after_a_restart():
    network = new_network("n", "bridge", {}, [IPAMConfig("10.70.0.0/24", "10.70.0.1", "10.70.0.0/25"),
                                              IPAMConfig("fd00:70::/64", "fd00:70::1")], internal=False)
    network.enable_ipv6 = True
    space = _space([network])
    space.open(network)
    assert space.reserve(network.id, "10.70.0.2", "fd00:70::2")
    assert space.allocate(network) == "10.70.0.3"
    assert space.allocate6(network) == "fd00:70::3"
    assert not space.reserve("unknown", "10.70.0.9")
    space.close(network.id)
    with pytest.raises(KeyError):
        space.allocate(network)


# -- port specs and bindings ----------------------------------------------------------------------
def test_publish_specs_read_like_dockers():
    assert parse_publish("127.0.0.1:8080-8081:80-81/udp") == [("80/udp", {"HostIp": "127.0.0.1", "HostPort": "8080"}),
                                                              ("81/udp", {"HostIp": "127.0.0.1", "HostPort": "8081"})]
    assert parse_publish("[::1]:9000:90") == [("90/tcp", {"HostIp": "::1", "HostPort": "9000"})]
    assert parse_publish("8000-8010:80") == [("80/tcp", {"HostIp": "", "HostPort": "8000-8010"})]
    assert parse_expose("7000-7001/sctp") == ["7000/sctp", "7001/sctp"]
    assert publish_fields(["80"], ["443"]) == ({"443/tcp": {}, "80/tcp": {}},
                                              {"80/tcp": [{"HostIp": "", "HostPort": ""}]})
    for bad, message in (("80/icmp", "invalid proto: icmp"), ("1:2:3:4", "invalid port format for publish"),
                         ("8080-8081:80-82", "invalid ranges specified"), ("x:80", "invalid hostPort: x"),
                         ("300.1.1.1:80:80", "invalid IP address: 300.1.1.1"), ("0", "invalid port: 0")):
        with pytest.raises(PortSpecError, match=message):
            parse_publish(bad)


def test_port_bindings_get_their_protocol_and_only_numeric_host_ports():
    bindings = {"80": [PortBinding("", "8080")], "53/udp": None}
    normalize_port_bindings(bindings)
    assert bindings == {"53/udp": None, "80/tcp": [PortBinding("", "8080")]}
    with pytest.raises(InvalidParameter, match="invalid port specification: 'http'"):
        normalize_port_bindings({"80/tcp": [PortBinding(host_port="http")]})
    assert wanted_bindings({"80/tcp": {}, "81/tcp": {}}, {"80/tcp": [PortBinding("", "1")]}, True) == {
        "80/tcp": [{"HostIp": "", "HostPort": "1"}], "81/tcp": [{"HostIp": "", "HostPort": ""}]}
    view = ports_view({"80/tcp": {}, "443/tcp": {}}, [Mapping("tcp", "0.0.0.0", 8080, 80),
                                                      Mapping("tcp", "::", 8080, 80), Mapping("udp", "", 5353, 53)])
    assert view == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
                    "443/tcp": None, "53/udp": [{"HostIp": "", "HostPort": "5353"}]}
    assert recorded_bindings(view) == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"},
                                                  {"HostIp": "::", "HostPort": "8080"}],
                                       "53/udp": [{"HostIp": "", "HostPort": "5353"}]}


# -- drivers ---------------------------------------------------------------------------------------
class FakeDriver:
    """A driver that records what the engine asked of it and touches no kernel state."""

    def __init__(self, name: str = "bridge") -> None:
        self.name = name
        self.calls: list[tuple[str, str]] = []
        self.refuse = ""

    def capabilities(self) -> Capabilities:
        return Capabilities()

    def validate(self, network, others) -> None:
        if self.refuse and network.options.get("refuse"):
            raise InvalidParameter(self.refuse)

    def create_network(self, network) -> None:
        self.calls.append(("create", network.name))

    def delete_network(self, network) -> None:
        self.calls.append(("delete", network.name))

    def endpoint(self, network, ifname, address, mac, gateway="", address6="", gateway6=""):
        return Interface(ifname, "vethfake", "", address, mac, 1500, gateway, address6, gateway6)

    def join(self, network, sandbox_path, interface) -> None:
        self.calls.append(("join", network.name))

    def leave(self, network, host_end) -> None:
        self.calls.append(("leave", network.name))

    def network_rules(self, network):
        return None

    def port_rules(self, network, container_ip, mappings):
        return []


def test_the_registry_finds_drivers_by_name_and_answers_unknown_ones_as_docker():
    fake: Driver = FakeDriver("macvlan")
    registry = DriverRegistry([BridgeDriver(), fake])
    assert registry.names() == ["bridge", "macvlan"] and registry.get("macvlan") is fake
    with pytest.raises(NotFound, match='^plugin "foo" not found$'):
        registry.get("foo")
    assert registry.find("host") is None and registry.find("null") is None
    with pytest.raises(Conflict):
        registry.register(FakeDriver("macvlan"))
    with pytest.raises(Conflict):
        registry.register(FakeDriver("host"))


def test_a_driver_registered_later_is_made_on_its_first_use_only():
    made = []
    registry = DriverRegistry([BridgeDriver()])

    def make():  # as swarm mode's wiring registers the overlay driver
        made.append(1)
        registry.register(FakeDriver("overlay"))

    registry.register_later("overlay", make)
    assert registry.names() == ["bridge", "overlay"] and registry.find("bridge") is not None and made == []
    assert registry.get("overlay").name == "overlay" and registry.find("overlay") is not None and made == [1]


def failing_make():
    raise Unavailable("not yet")


def test_a_driver_whose_making_failed_is_tried_again():
    registry = DriverRegistry()
    registry.register_later("overlay", failing_make)
    for _ in range(2):
        with pytest.raises(Unavailable):
            registry.get("overlay")
    assert registry.names() == ["overlay"]


def test_the_bridge_driver_checks_names_and_says_which_rules_a_network_and_its_ports_need():
    driver = BridgeDriver(mtu=1450)
    network = new_network("n", "bridge", {"com.docker.network.bridge.enable_icc": "false"},
                          [IPAMConfig("10.80.0.0/24", "10.80.0.1")], internal=True)
    assert bridge_name(network) == "br-" + network.id[:12]
    assert driver.network_rules(network) == BridgeRules(bridge_name(network), "10.80.0.0/24", icc=False,
                                                        masquerade=True, internal=True)
    mappings = [Mapping("tcp", "", 8080, 80), Mapping("sctp", "", 9, 9)]
    assert driver.port_rules(network, "10.80.0.2", mappings) == [
        PortRule("tcp", "", 8080, "10.80.0.2", 80, bridge_name(network))]
    iface = driver.endpoint(network, "eth0", "10.80.0.2/24", "02:42:0a:50:00:02")
    assert (iface.bridge, iface.mtu, iface.veth.startswith("veth")) == (bridge_name(network), 1450, True)
    named = new_network("m", "bridge", {"com.docker.network.bridge.name": "br-taken"}, [], internal=False)
    with pytest.raises(Conflict, match="bridge name br-taken is already used"):
        driver.validate(named, [new_network("o", "bridge", {"com.docker.network.bridge.name": "br-taken"}, [],
                                            internal=False)])
    with pytest.raises(InvalidParameter, match="at most 15 characters"):
        driver.validate(new_network("l", "bridge", {"com.docker.network.bridge.name": "x" * 16}, [],
                                    internal=False), [])


# -- the service with in-memory collaborators -------------------------------------------------------
class FakeContainers:
    def __init__(self, containers=()) -> None:
        self.containers = list(containers)
        self.saved: list[str] = []

    def list(self):
        return list(self.containers)

    def get(self, ref):
        for c in self.containers:
            if ref in (c.id, c.name, c.name.lstrip("/")):
                return c
        raise NotFound(f"No such container: {ref}")

    def save(self, c) -> None:
        self.saved.append(c.id)

    def container_dir(self, cid):
        return f"/nonexistent/{cid}"


class FakeEvents:
    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    def publish(self, kind, action, actor_id, attributes=None):
        self.published.append((kind, action))
        return {}


def _service(tmp_path, driver, containers=None):
    options = NetworkOptions(bridge="none", iptables=False, default_pools=[("10.90.0.0/16", 24)])
    events = FakeEvents()
    service = NetworkService(str(tmp_path / "data"), str(tmp_path / "exec"), options, containers or FakeContainers(),
                             events, drivers=DriverRegistry([driver]), host_networks=lambda: [])
    return service, events


def test_the_service_creates_and_removes_networks_through_their_driver(tmp_path):
    driver = FakeDriver()
    service, events = _service(tmp_path, driver)
    service.load()
    assert [n.name for n in service.list()] == ["host", "none"]
    network = service.create(NetworkCreate(name="app", labels={"k": "v"}, ipam=IPAMSpec(options={})))
    assert driver.calls == [("create", "app")] and events.published == [("network", "create")]
    assert network.ipv4.to_json() == {"Subnet": "10.90.0.0/24", "Gateway": "10.90.0.1"}
    assert network.ipam.options == {} and network.labels == {"k": "v"} and service.get("app") is network
    with pytest.raises(NotFound, match='^plugin "overlay" not found$'):
        service.create(NetworkCreate(name="o", driver="overlay"))
    with pytest.raises(Forbidden, match='only one instance of "host" network is allowed'):
        service.create(NetworkCreate(name="h", driver="host"))
    with pytest.raises(Conflict, match="network with name app already exists"):
        service.create(NetworkCreate(name="app"))
    driver.refuse = "refused by the driver"
    with pytest.raises(InvalidParameter, match="refused by the driver"):
        service.create(NetworkCreate(name="r", options={"refuse": "1"}))
    assert [n.name for n in service.list()] == ["app", "host", "none"]  # nothing made by the refused ones
    # A restarted daemon finds the network again and brings it up through its driver.
    again, _ = _service(tmp_path, driver2 := FakeDriver())
    again.load()
    assert again.get("app").to_json() == network.to_json() and driver2.calls == [("create", "app")]
    service.remove("app")
    assert driver.calls[-1] == ("delete", "app") and events.published[-1] == ("network", "destroy")
    with pytest.raises(Forbidden, match="pre-defined network and cannot be removed"):
        service.remove("host")


def test_the_embedded_dns_answers_names_aliases_and_links_of_running_containers_on_shared_networks():
    app = new_network("app", "bridge", {}, [IPAMConfig("10.1.0.0/24", "10.1.0.1")], internal=False)

    def running(cid, name, networks, links=()):
        c = Container(cid * 64, name, 0, "sh", [], ContainerConfig(), HostConfig(links=list(links)), "img")
        c.state.status, c.state.pid = "running", 1
        c.network_settings = {"Networks": networks}
        return c

    web = running("a", "/web", {"app": {"IPAddress": "10.1.0.2", "Aliases": ["www"]}})
    db = running("b", "/db", {"app": {"IPAddress": "10.1.0.3", "Aliases": None, "Links": ["/web:w"]}},
                 links=["/web:/db/legacy"])
    other = running("c", "/other", {"bridge": {"IPAddress": "172.17.0.2"}})
    view = DNSView(FakeContainers([web, db, other]), lambda: [app], ["192.0.2.53"])
    assert view.lookup(db, "www") == ["10.1.0.2"] and view.lookup(db, "WEB.app") == ["10.1.0.2"]
    assert view.lookup(db, "w") == ["10.1.0.2"] and view.lookup(db, "legacy") == ["10.1.0.2"]
    assert view.lookup(db, "aaaaaaaaaaaa") == ["10.1.0.2"] and view.lookup(db, "other") is None
    assert view.reverse(web, "10.1.0.3") == "db.app" and view.upstreams(web) == ["192.0.2.53"]


# -- volume records ------------------------------------------------------------------------------------
def test_volume_records_on_disk_load_and_volumes_show_as_dockers(tmp_path):
    from dockyard.volumes.records import Volume
    from dockyard.volumes.store import VolumeStore

    old = {"name": "data", "driver": "local", "labels": None, "options": {"type": "tmpfs", "device": "tmpfs"},
           "created": 1_700_000_000_123_456_789, "anonymous": False}
    later = {"name": "later", "created": 5_000_000_000, "added_by_a_later_version": 1}
    for doc in (old, later, {"driver": "local"}):
        directory = tmp_path / "volumes" / (doc.get("name") or "nameless")
        (directory / "_data").mkdir(parents=True)
        (directory / "volume.json").write_text(json.dumps(doc))
    store = VolumeStore(str(tmp_path))
    assert [v.name for v in store.list()] == ["data", "later"]  # the nameless record is skipped
    assert store.get("data").to_record() == old
    assert store.get("later") == Volume("later", created=5_000_000_000)
    assert store.view(store.get("data")) == {
        "CreatedAt": "2023-11-14T22:13:20Z", "Driver": "local", "Labels": None,
        "Mountpoint": str(tmp_path / "volumes" / "data" / "_data"), "Name": "data",
        "Options": {"type": "tmpfs", "device": "tmpfs"}, "Scope": "local"}
    made = store.create("new", labels={"a": "b"})
    assert Volume.from_record(json.loads((tmp_path / "volumes" / "new" / "volume.json").read_text())) == made


def test_a_create_request_is_planned_and_a_created_container_connected_and_disconnected(tmp_path):
    import asyncio

    containers = FakeContainers()
    service, events = _service(tmp_path, FakeDriver(), containers)
    service.load()
    app = service.create(NetworkCreate(name="app"))
    target = Container("t" * 64, "/target", 0, "sh", [], ContainerConfig(hostname="tgt"), HostConfig(), "img")
    containers.containers.append(target)

    host_config = HostConfig(network_mode="app", links=["target:db"],
                             port_bindings={"80": [PortBinding("", "8080")]})
    settings = service.plan_create("c" * 64, ContainerConfig(), host_config, {"EndpointsConfig": {"app": {
        "Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.90.0.9"}, "MacAddress": "02:42:AA:00:00:01"}}},
        name="/web")
    endpoint = settings["Networks"]["app"]
    assert (endpoint["NetworkID"], endpoint["Aliases"], endpoint["MacAddress"]) == (app.id, ["web"],
                                                                                    "02:42:aa:00:00:01")
    assert host_config.links == ["/target:/web/db"] and list(host_config.port_bindings) == ["80/tcp"]
    joined = HostConfig(network_mode="container:target")
    config = ContainerConfig()
    assert service.plan_create("c" * 64, config, joined, None) == {"Networks": {}, "Ports": {}}
    assert (joined.network_mode, config.hostname) == ("container:" + target.id, "tgt")
    for hc, networking, message in (
            (HostConfig(network_mode="container:target", port_bindings={"80/tcp": []}), None, "port publishing"),
            (HostConfig(network_mode="host", links=["target:t"]), None, "can't be used with links"),
            (HostConfig(network_mode="app"), {"EndpointsConfig": {"app": {}, "other": {}}}, "network endpoints"),
            (HostConfig(network_mode="app"), {"EndpointsConfig": {"app": {"IPAMConfig": {"IPv4Address": "10.1.1.1"}}}},
             "no configured subnet or ip-range contain the IP address 10.1.1.1"),
            (HostConfig(network_mode="app"), {"EndpointsConfig": {"app": {"MacAddress": "nope"}}}, "invalid MAC")):
        with pytest.raises(InvalidParameter, match=message):
            service.plan_create("c" * 64, ContainerConfig(), hc, networking)

    # A created container: connect and disconnect change only its record (its sandbox comes at start).
    web = Container("c" * 64, "/web", 0, "sh", [], ContainerConfig(), host_config, "img")
    web.network_settings = settings
    containers.containers.append(web)
    other = service.create(NetworkCreate(name="other"))
    asyncio.run(service.connect("other", web, {"Aliases": ["w2"]}))
    assert web.network_settings["Networks"]["other"]["Aliases"] == ["w2"] and containers.saved == [web.id]
    with pytest.raises(Forbidden, match="endpoint with name web already exists in network other"):
        asyncio.run(service.connect("other", web, None))
    assert service.prune(lambda n: False) == []  # both networks are used by web
    asyncio.run(service.disconnect(other.id, web))
    assert "other" not in web.network_settings["Networks"]
    assert events.published[-2:] == [("network", "connect"), ("network", "disconnect")]
    assert service.prune(lambda n: False) == ["other"]
