"""The networking flags of run/create -> the create request's Config, HostConfig and
NetworkingConfig fields (Docker's names, forms and messages)."""

from dockyard.cli.flags import Opt, UsageError

NETWORK_OPTIONS = (
    Opt(("--network", "--net"), "network", "str", "Connect a container to a network", metavar="network"),
    Opt(("--network-alias", "--net-alias"), "network_alias", "list", "Add network-scoped alias for the container",
        metavar="list"),
    Opt(("--ip",), "ip", "str", "IPv4 address (e.g., 172.30.100.104)", metavar="string"),
    Opt(("--mac-address",), "mac_address", "str", "Container MAC address (e.g., 92:d0:c6:0a:29:33)",
        metavar="string"),
    Opt(("-p", "--publish"), "publish", "list", "Publish a container's port(s) to the host", metavar="list"),
    Opt(("-P", "--publish-all"), "publish_all", "bool", "Publish all exposed ports to random ports"),
    Opt(("--expose",), "expose", "list", "Expose a port or a range of ports", metavar="list"),
    Opt(("--link",), "link", "list", "Add link to another container", metavar="list"),
    Opt(("--dns",), "dns", "list", "Set custom DNS servers", metavar="list"),
    Opt(("--dns-search",), "dns_search", "list", "Set custom DNS search domains", metavar="list"),
    Opt(("--dns-option", "--dns-opt"), "dns_option", "list", "Set DNS options", metavar="list"),
    Opt(("--add-host",), "add_host", "list", "Add a custom host-to-IP mapping (host:ip)", metavar="list"),
    Opt(("--domainname",), "domainname", "str", "Container NIS domain name", metavar="string"),
)


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def network_fields(values: dict) -> tuple[dict, dict, dict]:
    """(Config fields, HostConfig fields, NetworkingConfig) for the networking flags."""
    from dockyard.network.portspec import PortSpecError, publish_fields

    for server in values["dns"]:
        if not _is_ip(server):
            raise UsageError(f'invalid argument "{server}" for "--dns" flag: {server} is not an ip address')
    for entry in values["add_host"]:
        name, sep, ip = entry.partition(":")
        if not sep or not name or not (ip == "host-gateway" or _is_ip(ip)):
            raise UsageError(f'invalid argument "{entry}" for "--add-host" flag: bad format for add-host: "{entry}"')
    if values["ip"] and not _is_ip(values["ip"]):
        raise UsageError(f'invalid argument "{values["ip"]}" for "--ip" flag: invalid IP address')
    try:
        exposed, bindings = publish_fields(values["publish"], values["expose"])
    except PortSpecError as exc:
        raise UsageError(str(exc)) from None
    config: dict = {}
    if exposed:
        config["ExposedPorts"] = exposed
    if values["domainname"]:
        config["Domainname"] = values["domainname"]
    if values["mac_address"]:
        config["MacAddress"] = values["mac_address"]
    mode = values["network"] or "default"
    host = {"NetworkMode": mode, "PortBindings": bindings, "PublishAllPorts": values["publish_all"],
            "Dns": values["dns"], "DnsSearch": values["dns_search"], "DnsOptions": values["dns_option"],
            "ExtraHosts": values["add_host"] or None, "Links": values["link"] or None}
    networking: dict = {}
    if values["ip"] or values["network_alias"]:
        endpoint: dict = {}
        if values["ip"]:
            endpoint["IPAMConfig"] = {"IPv4Address": values["ip"]}
        if values["network_alias"]:
            endpoint["Aliases"] = values["network_alias"]
        networking = {"EndpointsConfig": {mode: endpoint}}
    return config, host, networking


def display_ports(ports: list[dict]) -> str:
    """The PORTS column: "0.0.0.0:8080->80/tcp, 443/tcp" (Docker's api/types DisplayablePorts,
    with runs of consecutive ports folded into ranges)."""
    groups: dict = {}
    for p in sorted(ports, key=lambda p: (p.get("IP", ""), p.get("Type", ""), p.get("PrivatePort", 0))):
        public = p.get("PublicPort")
        key = (p.get("IP", ""), p.get("Type", "tcp"), bool(public))
        runs = groups.setdefault(key, [])
        private = p["PrivatePort"]
        last = runs[-1] if runs else None
        if last and last[1] + 1 == private and (not public or last[3] + 1 == public):
            last[1], last[3] = private, public or 0
        else:
            runs.append([private, private, public or 0, public or 0])
    out = []
    for (ip, proto, published), runs in groups.items():
        for low, high, plow, phigh in runs:
            private = f"{low}" if low == high else f"{low}-{high}"
            if published:
                public = f"{plow}" if plow == phigh else f"{plow}-{phigh}"
                out.append(f"{ip}:{public}->{private}/{proto}")
            else:
                out.append(f"{private}/{proto}")
    return ", ".join(out)
