"""The per-container name files bind-mounted over /etc/hostname, /etc/hosts and /etc/resolv.conf."""

import ipaddress
import os
from collections.abc import Sequence

from dockyard.errors import InvalidParameter

HOSTS_DEFAULT = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
FALLBACK_NAMESERVERS = ["8.8.8.8", "8.8.4.4"]  # what Docker uses when the host has only local ones
HOST_GATEWAY = "host-gateway"


def hosts_file(extra: Sequence[tuple[str, str]] = ()) -> str:
    return HOSTS_DEFAULT + "".join(f"{ip}\t{names}\n" for ip, names in extra)


def own_entry(ip: str, hostname: str, domainname: str) -> tuple[str, str]:
    """The container's own line: "IP fqdn short" when there is a domain, else "IP hostname"."""
    fqdn = f"{hostname}.{domainname}" if domainname else hostname
    short = fqdn.split(".", 1)[0]
    return ip, f"{fqdn} {short}" if short != fqdn else fqdn


def is_loopback(server: str) -> bool:
    try:
        return ipaddress.ip_address(server).is_loopback
    except ValueError:
        return False


def resolv_conf(host_text: str, *, dns: Sequence[str] = (), search: Sequence[str] = (), options: Sequence[str] = (),
                embedded: bool = False) -> str:
    """The container's resolv.conf: the host's without loopback nameservers (a container cannot
    reach them), with --dns/--dns-search/--dns-option replacing the host's lines of that kind.
    With the embedded DNS server, the only nameserver is 127.0.0.11 (it forwards the rest)."""
    host_servers, host_search, host_options, other = [], [], [], []
    for line in host_text.splitlines():
        words = line.split()
        if words and words[0] == "nameserver" and len(words) > 1:
            host_servers.append(words[1])
        elif words and words[0] in ("search", "domain"):
            host_search = words[1:]
        elif words and words[0] == "options":
            host_options += words[1:]
        elif words and not words[0].startswith(("#", ";")):
            other.append(line)
    if embedded:
        servers = ["127.0.0.11"]
        opts = list(options) or ["ndots:0", *[o for o in host_options if not o.startswith("ndots")]]
    else:
        servers = list(dns) or [s for s in host_servers if not is_loopback(s)] or FALLBACK_NAMESERVERS
        opts = list(options) or host_options
    lines = [f"search {' '.join(search or host_search)}"] if (search or host_search) and search != ["."] else []
    lines += [f"nameserver {s}" for s in servers]
    if opts:
        lines.append(f"options {' '.join(opts)}")
    return "\n".join(lines + other) + "\n"


def host_resolvers(host_text: str) -> list[str]:
    return [line.split()[1] for line in host_text.splitlines() if line.startswith("nameserver") and
            len(line.split()) > 1]


def read_host_resolv() -> str:
    try:
        with open("/etc/resolv.conf") as f:
            return f.read()
    except OSError:
        return ""


def validate(dns: list[str] | None, extra_hosts: list[str] | None, dns_search: list[str] | None) -> None:
    """--dns, --add-host and --dns-search as the daemon receives them."""
    for server in dns or []:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise InvalidParameter(f"{server} is not an ip address") from None
    for entry in extra_hosts or []:
        name, sep, ip = entry.partition(":")
        if not sep or not name or not ip:
            raise InvalidParameter(f'bad format for add-host: "{entry}"')
        if ip != HOST_GATEWAY:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise InvalidParameter(f'invalid IP address in add-host: "{ip}"') from None
    for domain in dns_search or []:
        if domain != "." and (domain.startswith(".") or domain.endswith(".") or len(domain) > 255):
            raise InvalidParameter(f"{domain} is not a valid domain")


def extra_host_entries(extra_hosts: list[str] | None, gateway: str) -> list[tuple[str, str]]:
    """--add-host name:ip lines; host-gateway is the default bridge's gateway, as in Docker."""
    out = []
    for entry in extra_hosts or []:
        name, _, ip = entry.partition(":")
        out.append((gateway if ip == HOST_GATEWAY else ip, name))
    return out


def write_name_files(directory: str, hostname: str, hosts: str | None = None, resolv: str | None = None) -> None:
    def put(name: str, text: str) -> None:
        path = os.path.join(directory, name)
        # In place, not replaced: a running container has the file bind-mounted (connect/disconnect).
        with open(path, "w") as f:
            f.write(text)

    put("hostname", hostname + "\n")
    put("hosts", hosts if hosts is not None else hosts_file())
    put("resolv.conf", resolv if resolv is not None else resolv_conf(read_host_resolv()))
