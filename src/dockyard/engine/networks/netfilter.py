"""The daemon's netfilter side: its rules (rewritten whole from the networks and published ports
on every change, network/iptables.py), the keeper that puts them back when another program
removes them, and the kernel switches they depend on (ip_forward, br_netfilter)."""

from __future__ import annotations

import logging
import subprocess

from dockyard.engine.networks.options import NetworkOptions
from dockyard.network import bridge
from dockyard.network.iptables import BridgeRules, Firewall, PortRule
from dockyard.network.rulekeeper import RuleKeeper

log = logging.getLogger("dockyard.networks")


class Netfilter:
    def __init__(self, options: NetworkOptions) -> None:
        prefix = "DOCKYARD" if options.bridge in ("dockyard0", "none") else f"DY-{options.bridge}"
        self.firewall = Firewall(prefix, userland_proxy=options.userland_proxy) if options.iptables else None
        # Puts our rules back when another program removes them (its task runs from daemon/main.py).
        self.keeper = RuleKeeper(self.firewall) if self.firewall is not None else None
        self.ip_forward = options.ip_forward

    @property
    def enabled(self) -> bool:
        return self.firewall is not None

    def enable_forwarding(self) -> None:
        if self.firewall is None or not self.ip_forward or bridge.read_sysctl("net/ipv4/ip_forward") == "1":
            return
        # As Docker does: routing for containers on, but the host forwards nothing else.
        bridge.write_sysctl("net/ipv4/ip_forward", "1")
        subprocess.run(["iptables", "-w", "-P", "FORWARD", "DROP"], capture_output=True)

    def apply(self, bridges: list[BridgeRules], ports: list[PortRule]) -> None:
        if self.firewall is None or self.keeper is None:
            return
        if not all(b.icc for b in bridges):
            _bridge_netfilter()
        self.firewall.apply(bridges, ports)
        self.keeper.changed()

    def heal(self) -> None:
        """The jumps into our chains (missing at a first start: not a repair)."""
        if self.firewall is not None:
            self.firewall.heal()

    def teardown(self) -> None:
        if self.firewall is not None:
            self.firewall.teardown()


def _bridge_netfilter() -> None:
    """--icc=false drops traffic inside a bridge with an iptables rule, which bridged frames
    meet only with br_netfilter's bridge-nf-call-iptables on (Docker turns it on as well)."""
    if bridge.read_sysctl("net/bridge/bridge-nf-call-iptables") == "0":
        if bridge.write_sysctl("net/bridge/bridge-nf-call-iptables", "1"):
            log.info("set net.bridge.bridge-nf-call-iptables=1 so that icc=false isolates containers")
