"""The overlay network's data plane (libnetwork's drivers/overlay, rebuilt): one network namespace
per overlay network per node holding a bridge and a kernel VXLAN device, forwarding and neighbour
entries programmed from a peer table, and the seams to the cluster store that hands out VNIs and
peers. The driver (network/drivers/overlay.py) is the engine's face of it; docs/design/overlay.md
says why it has this shape.

- peers.py    a peer (endpoint IP, MAC, node underlay IP) and the plan of kernel entries from a peer set
- control.py  what the data plane needs from the control plane (PeerTable, VniAllocator), on the store
- kernel.py   the netlink requests: VXLAN and bridge links, static fdb and neighbour entries
- plane.py    one network's namespace on this node: made, joined, kept in step with its peers, removed
"""
