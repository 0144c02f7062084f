"""A container's networking as Docker's API shows it (inspect's NetworkSettings, list's Ports)."""

from dockyard.engine.container import Container


def network_settings_view(c: Container) -> dict:
    settings = c.network_settings or {}
    networks = settings.get("Networks") or {}
    bridge = networks.get("bridge") or {}
    return {
        "Bridge": "", "SandboxID": settings.get("SandboxID", ""), "HairpinMode": False, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "Ports": settings.get("Ports") or {}, "SandboxKey": settings.get("SandboxKey", ""),
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        # The top-level address fields describe the default bridge's endpoint, as in Docker.
        "EndpointID": bridge.get("EndpointID", ""), "Gateway": bridge.get("Gateway", ""),
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": bridge.get("IPAddress", ""),
        "IPPrefixLen": bridge.get("IPPrefixLen", 0), "IPv6Gateway": "", "MacAddress": bridge.get("MacAddress", ""),
        "Networks": networks,
    }


def ports_list_view(c: Container) -> list[dict]:
    """`GET /containers/json` Ports: one entry per binding, and one per exposed, unpublished port."""
    out = []
    for private, bindings in ((c.network_settings or {}).get("Ports") or {}).items():
        number, _, proto = private.partition("/")
        if not bindings:
            out.append({"PrivatePort": int(number), "Type": proto})
            continue
        for binding in bindings:
            out.append({"IP": binding.get("HostIp") or "0.0.0.0", "PrivatePort": int(number),
                        "PublicPort": int(binding.get("HostPort") or 0), "Type": proto})
    return out
