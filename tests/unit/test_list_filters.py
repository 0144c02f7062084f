"""The `publish`, `expose`, `volume` and `network` filters of `GET /containers/json`, on list
views built in memory (what moby's list matches against: the container's Ports, Mounts and
Networks)."""

import pytest

from dockyard.api.filters import Filters, match_networks, match_ports, match_volumes, port_filter
from dockyard.errors import InvalidParameter

KEYS = {"publish", "expose", "volume", "network"}
# A container publishing 80/tcp on 8080, exposing 53/udp unpublished.
PORTS = [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
         {"PrivatePort": 53, "Type": "udp"}]


def ports(text: str, key: str = "publish") -> set[str]:
    return port_filter(Filters.parse(text, KEYS), key)


def test_port_filter_takes_a_port_a_protocol_and_a_range():
    assert ports('{"publish":["80"]}') == {"80/tcp"}
    assert ports('{"publish":["53/udp"]}') == {"53/udp"}
    assert ports('{"expose":["8000-8002/tcp"]}', "expose") == {"8000/tcp", "8001/tcp", "8002/tcp"}
    assert ports("") == set()


@pytest.mark.parametrize("value, message", [
    ("127.0.0.1:80", "filter for 'publish' should not contain ':'"),
    ("http", "error while looking up for publish http"),
    ("90-80", "error while looking up for publish 90-80"),
    ("70000", "error while looking up for publish 70000"),
])
def test_port_filter_refuses_what_is_not_a_port(value, message):
    with pytest.raises(InvalidParameter, match=message):
        ports(f'{{"publish":["{value}"]}}')


def test_publish_matches_the_host_port_and_expose_the_container_port():
    assert match_ports(PORTS, {"8080/tcp"}, set())
    assert match_ports(PORTS, {"8000/tcp", "8080/tcp", "8081/tcp"}, set())  # within a range
    assert not match_ports(PORTS, {"80/tcp"}, set())  # 80 is the container's side
    assert not match_ports(PORTS, {"8080/udp"}, set())  # another protocol
    assert match_ports(PORTS, set(), {"80/tcp"})
    assert match_ports(PORTS, set(), {"53/udp"})  # exposed, unpublished
    assert not match_ports(PORTS, set(), {"53/tcp"})
    assert not match_ports([], {"8080/tcp"}, set())  # nothing published: no match
    assert match_ports([], set(), set())  # no filter: everything matches


def test_volume_matches_a_volume_name_a_bind_source_or_a_destination():
    mounts = [{"Type": "volume", "Name": "data", "Source": "/var/lib/dockyard/volumes/data/_data",
               "Destination": "/data"},
              {"Type": "bind", "Name": "", "Source": "/srv/www", "Destination": "/www"}]
    for value in ("data", "/data", "/srv/www", "/www"):
        assert match_volumes(mounts, [value]), value
    assert match_volumes(mounts, ["other", "data"])  # any of the values
    assert not match_volumes(mounts, ["dat"])  # names match whole, not as prefixes
    assert not match_volumes(mounts, ["/var/lib/dockyard/volumes/data/_data"])  # a volume's source is not its name
    assert not match_volumes([], ["data"])
    assert match_volumes([], [])


def test_network_matches_a_name_or_an_id_prefix():
    networks = {"appnet": {"NetworkID": "4f2c9a" + "0" * 58}, "bridge": {"NetworkID": "b" * 64}}
    assert match_networks(networks, ["appnet"])
    assert match_networks(networks, ["4f2c"])
    assert match_networks(networks, ["b" * 64])
    assert match_networks(networks, ["none", "bridge"])
    assert not match_networks(networks, ["app"])  # a name matches whole
    assert not match_networks(networks, ["c0ffee"])
    assert not match_networks({}, ["bridge"])
    assert match_networks({}, [])
