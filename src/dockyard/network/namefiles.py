"""The per-container name files bind-mounted over /etc/hostname, /etc/hosts and /etc/resolv.conf."""

import os

HOSTS_DEFAULT = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
FALLBACK_NAMESERVERS = ["8.8.8.8", "8.8.4.4"]  # what Docker uses when the host has only local ones


def hosts_file(extra: list[tuple[str, str]] = ()) -> str:
    return HOSTS_DEFAULT + "".join(f"{ip}\t{names}\n" for ip, names in extra)


def resolv_conf(host_text: str) -> str:
    """The host's resolv.conf without loopback nameservers, which a container cannot reach."""
    out, servers = [], 0
    for line in host_text.splitlines():
        words = line.split()
        if words and words[0] == "nameserver" and len(words) > 1:
            if words[1].startswith("127.") or words[1] == "::1":
                continue
            servers += 1
        out.append(line)
    if not servers:
        out += [f"nameserver {s}" for s in FALLBACK_NAMESERVERS]
    return "\n".join(out).rstrip("\n") + "\n"


def write_name_files(directory: str, hostname: str) -> None:
    def put(name: str, text: str) -> None:
        with open(os.path.join(directory, name), "w") as f:
            f.write(text)

    try:
        with open("/etc/resolv.conf") as f:
            host_resolv = f.read()
    except OSError:
        host_resolv = ""
    put("hostname", hostname + "\n")
    put("hosts", hosts_file())
    put("resolv.conf", resolv_conf(host_resolv))
