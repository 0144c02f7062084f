"""dockyardd's networking flags (Docker's names and defaults) -> NetworkOptions."""

import argparse


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def add_network_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-b", "--bridge", default="dockyard0",
                   help='attach containers to this network bridge (default "dockyard0"; "none" for no default bridge)')
    p.add_argument("--bip", default="", help="the default bridge's IP address and subnet (CIDR)")
    p.add_argument("--fixed-cidr", default="", help="IPv4 subnet for the default bridge's container addresses")
    p.add_argument("--icc", type=_bool, default=True, nargs="?", const=True,
                   help="enable inter-container communication on the default bridge (default true)")
    p.add_argument("--mtu", type=int, default=1500, help="the containers' network MTU (default 1500)")
    p.add_argument("--default-address-pool", action="append", default=[], dest="default_address_pools",
                   help="default address pools for networks: base=CIDR,size=N (repeatable)")
    p.add_argument("--ip", default="0.0.0.0", help="default IP when binding container ports (default 0.0.0.0)")
    p.add_argument("--iptables", type=_bool, default=True, nargs="?", const=True,
                   help="enable the addition of iptables rules (default true)")
    p.add_argument("--ip-forward", type=_bool, default=True, nargs="?", const=True,
                   help="enable net.ipv4.ip_forward (default true)")
    p.add_argument("--userland-proxy", type=_bool, default=True, nargs="?", const=True,
                   help="use the userland proxy for loopback traffic to published ports (default true)")
    p.add_argument("--dns", action="append", default=[], help="DNS servers for containers")


def network_options(args: argparse.Namespace):
    from dockyard.engine.networks import NetworkOptions
    from dockyard.errors import DockyardError
    from dockyard.network.ipam import parse_pool
    from dockyard.network.namefiles import validate

    try:
        pools = [parse_pool(text) for text in args.default_address_pools]
        validate(args.dns, None, None)
    except DockyardError as exc:
        raise SystemExit(f"dockyardd: {exc}") from None
    if len(args.bridge) > 15:
        raise SystemExit(f"dockyardd: --bridge {args.bridge!r}: an interface name has at most 15 characters")
    return NetworkOptions(bridge=args.bridge, bip=args.bip, fixed_cidr=args.fixed_cidr, icc=args.icc, mtu=args.mtu,
                          default_pools=pools, host_ip=args.ip, iptables=args.iptables, ip_forward=args.ip_forward,
                          userland_proxy=args.userland_proxy, dns=list(args.dns))
