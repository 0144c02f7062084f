"""The network service and its parts, one concern per module:

- service.py     networks: create, remove, prune, start-up and shut-down (the entry points)
- catalog.py     the records in memory and on disk, found by ID, name or prefix
- addresses.py   IPAM: subnets for networks, addresses for endpoints
- defaultbridge.py  the predefined networks and the default bridge's settings
- netfilter.py   the rules, their keeper and the kernel switches they need
- createplan.py  a create request's networking, checked
- sandboxes.py   a started container's namespace, endpoints, ports and DNS server
- connections.py network connect and disconnect
- endpoints.py, ports.py, links.py, dnsview.py   what the records, port bindings, links and
                 the embedded DNS server look like
- seams.py       what the service needs from the rest of the engine (Protocols)

The kernel side of each kind of network is a driver (network/drivers/).
"""

from dockyard.engine.networks.options import NetworkOptions
from dockyard.engine.networks.service import NetworkService

__all__ = ["NetworkOptions", "NetworkService"]
