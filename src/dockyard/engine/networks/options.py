"""The daemon's networking settings (dockyardd's flags, engine/network_flags.py)."""

from dataclasses import dataclass, field


@dataclass
class NetworkOptions:
    bridge: str = "dockyard0"  # "none": no default bridge
    bip: str = ""
    fixed_cidr: str = ""
    icc: bool = True
    mtu: int = 1500
    default_pools: list = field(default_factory=list)  # [(base CIDR, size)]
    host_ip: str = "0.0.0.0"
    iptables: bool = True
    ip_forward: bool = True
    userland_proxy: bool = True
    dns: list = field(default_factory=list)
