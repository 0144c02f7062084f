"""Where and how to reach a registry: HTTPS with certs.d CA files, or plain HTTP for loopback and
`--insecure-registry` hosts (tried after HTTPS, as Docker does)."""

from __future__ import annotations

import glob
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass, field

DEFAULT_CERTS_DIR = "/etc/docker/certs.d"
DOCKER_HUB = "docker.io"
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
INDEX_SERVER = "https://index.docker.io/v1/"  # the key Docker uses for Docker Hub in config.json


@dataclass(frozen=True)
class Endpoint:
    scheme: str  # "https" or "http"
    host: str  # host[:port] to connect to
    tls: ssl.SSLContext | None = None

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}"


@dataclass
class RegistryOptions:
    insecure: list[str] = field(default_factory=list)  # host[:port] or CIDR
    certs_dir: str = DEFAULT_CERTS_DIR
    mirrors: list[str] = field(default_factory=list)  # URLs, for docker.io only
    working: dict[str, str] = field(default_factory=dict)  # domain -> the endpoint base URL that answered last

    def is_insecure(self, host: str) -> bool:
        """Docker's rule: listed by name, or every address of the host is in a listed CIDR (127.0.0.0/8 and
        ::1 always are)."""
        if host in self.insecure:
            return True
        hostname = _hostname(host)
        if hostname in self.insecure or hostname == "localhost":
            return True
        networks = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
        for entry in self.insecure:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue
        try:
            addresses = [ipaddress.ip_address(hostname)]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0])
                             for info in socket.getaddrinfo(hostname, None)]
            except (OSError, ValueError):
                return False
        return bool(addresses) and all(any(a in n for n in networks) for a in addresses)

    def tls_context(self, host: str, *, verify: bool) -> ssl.SSLContext:
        """System CAs plus `<certs dir>/<host>/*.crt`; a `*.cert`/`*.key` pair there is the client certificate."""
        context = ssl.create_default_context()
        directory = os.path.join(self.certs_dir, host)
        cas = sorted(glob.glob(os.path.join(directory, "*.crt")))
        for ca in cas:
            context.load_verify_locations(cafile=ca)
        for cert in sorted(glob.glob(os.path.join(directory, "*.cert"))):
            key = cert[: -len(".cert")] + ".key"
            if os.path.exists(key):
                context.load_cert_chain(cert, key)
        if not verify and not cas:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def endpoints(self, domain: str) -> list[Endpoint]:
        """Endpoints to try in order. An insecure registry is tried over HTTPS first (verified when certs.d
        has a CA for it, else unverified) and then over plain HTTP."""
        if domain == DOCKER_HUB:
            mirrors = [_mirror_endpoint(self, m) for m in self.mirrors]
            return [*mirrors, Endpoint("https", DOCKER_HUB_ENDPOINT, self.tls_context(DOCKER_HUB_ENDPOINT,
                                                                                       verify=True))]
        if self.is_insecure(domain):
            return [Endpoint("https", domain, self.tls_context(domain, verify=False)), Endpoint("http", domain)]
        return [Endpoint("https", domain, self.tls_context(domain, verify=True))]


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def _mirror_endpoint(options: RegistryOptions, url: str) -> Endpoint:
    scheme, _, rest = url.partition("://")
    if not rest:
        scheme, rest = "https", url
    host = rest.rstrip("/").partition("/")[0]
    if scheme == "http":
        return Endpoint("http", host)
    return Endpoint("https", host, options.tls_context(host, verify=not options.is_insecure(host)))


def registry_key(domain: str) -> str:
    """The `auths` key of ~/.docker/config.json for a registry domain."""
    return INDEX_SERVER if domain == DOCKER_HUB else domain


def domain_of_server(server: str) -> str:
    """`docker login` server argument -> registry domain: strip a scheme and path; the index is docker.io."""
    server = server.strip()
    if not server or server.rstrip("/") in (INDEX_SERVER.rstrip("/"), "https://index.docker.io",
                                            "index.docker.io", "docker.io", "registry-1.docker.io"):
        return DOCKER_HUB
    rest = server.partition("://")[2] or server
    host = rest.partition("/")[0]
    return DOCKER_HUB if host in ("index.docker.io", "registry-1.docker.io") else host
