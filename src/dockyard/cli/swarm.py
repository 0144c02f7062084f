"""`swarm init|join|join-token|leave|update|ca|unlock|unlock-key`, as docker/cli's cli/command/swarm:
the same flags, requests and output (the join command printed after init, the unlock key block,
the trust root after `ca`)."""

import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.flags import Command, Opt, UsageError, command, parse_or_help

# addSwarmFlags and addSwarmCAFlags: the spec flags init and update share.
SPEC_FLAGS = (
    Opt(("--task-history-limit",), "task_history_limit", "int", "Task history retention limit", metavar="int"),
    Opt(("--dispatcher-heartbeat",), "dispatcher_heartbeat", "str", "Dispatcher heartbeat period (ns|us|ms|s|m|h)",
        metavar="duration"),
    Opt(("--max-snapshots",), "max_snapshots", "int", "Number of additional Raft snapshots to retain", metavar="uint"),
    Opt(("--snapshot-interval",), "snapshot_interval", "int", "Number of log entries between Raft snapshots",
        metavar="uint"),
    Opt(("--cert-expiry",), "cert_expiry", "str", "Validity period for node certificates (ns|us|ms|s|m|h)",
        metavar="duration"),
    Opt(("--external-ca",), "external_ca", "list", "Specifications of one or more certificate signing endpoints",
        metavar="external-ca"),
)
ADDRESS_FLAGS = (
    Opt(("--listen-addr",), "listen_addr", "str", 'Listen address (format: "<ip|interface>[:port]")',
        default="0.0.0.0:2377", metavar="node-addr"),
    Opt(("--advertise-addr",), "advertise_addr", "str", 'Advertised address (format: "<ip|interface>[:port]")',
        metavar="string"),
    Opt(("--data-path-addr",), "data_path_addr", "str",
        'Address or interface to use for data path traffic (format: "<ip|interface>")', metavar="string"),
    Opt(("--availability",), "availability", "str", 'Availability of the node ("active", "pause", "drain")',
        metavar="string"),
)
INIT = Command("swarm init", "[OPTIONS]", "Initialize a swarm", ADDRESS_FLAGS + SPEC_FLAGS + (
    Opt(("--data-path-port",), "data_path_port", "int", "Port number to use for data path traffic (1024 - 49151)",
        metavar="uint32"),
    Opt(("--force-new-cluster",), "force_new_cluster", "bool", "Force create a new cluster from current state"),
    Opt(("--autolock",), "autolock", "bool",
        "Enable manager autolocking (requiring an unlock key to start a stopped manager)"),
    Opt(("--default-addr-pool",), "default_addr_pool", "list", "default address pool in CIDR format",
        metavar="ipNetSlice"),
    Opt(("--default-addr-pool-mask-length",), "default_addr_pool_mask_length", "int",
        "default address pool subnet mask length", default=24, metavar="uint32"),
), max_args=0)
JOIN = Command("swarm join", "[OPTIONS] HOST:PORT", "Join a swarm as a node and/or manager", ADDRESS_FLAGS + (
    Opt(("--token",), "token", "str", "Token for entry into the swarm", metavar="string"),
), min_args=1, max_args=1)
JOIN_TOKEN = Command("swarm join-token", "[OPTIONS] (worker|manager)", "Manage join tokens", (
    Opt(("--rotate",), "rotate", "bool", "Rotate join token"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display token"),
), min_args=1, max_args=1)
LEAVE = Command("swarm leave", "[OPTIONS]", "Leave the swarm", (
    Opt(("-f", "--force"), "force", "bool", "Force this node to leave the swarm, ignoring warnings"),
), max_args=0)
UPDATE = Command("swarm update", "[OPTIONS]", "Update the swarm", (
    Opt(("--autolock",), "autolock", "bool", "Change manager autolocking setting (true|false)"),
) + SPEC_FLAGS, max_args=0)
CA = Command("swarm ca", "[OPTIONS]", "Display and rotate the root CA", (
    Opt(("--ca-cert",), "ca_cert", "str", "Path to the PEM-formatted root CA certificate to use for the new cluster",
        metavar="pem-file"),
    Opt(("--ca-key",), "ca_key", "str", "Path to the PEM-formatted root CA key to use for the new cluster",
        metavar="pem-file"),
    Opt(("--cert-expiry",), "cert_expiry", "str", "Validity period for node certificates (ns|us|ms|s|m|h)",
        metavar="duration"),
    Opt(("-d", "--detach"), "detach", "bool", "Exit immediately instead of waiting for the root rotation to converge"),
    Opt(("--external-ca",), "external_ca", "list", "Specifications of one or more certificate signing endpoints",
        metavar="external-ca"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Suppress progress output"),
    Opt(("--rotate",), "rotate", "bool", "Rotate the swarm CA - if no certificate or key are provided, new ones "
        "will be generated"),
), max_args=0)
UNLOCK = Command("swarm unlock", "", "Unlock swarm", (), max_args=0)
UNLOCK_KEY = Command("swarm unlock-key", "[OPTIONS]", "Manage the unlock key", (
    Opt(("--rotate",), "rotate", "bool", "Rotate unlock key"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display token"),
), max_args=0)


def _given(argv: list[str], *names: str) -> bool:
    """pflag's Changed: the flag is on the command line (values alone cannot tell a default), so the
    commands that need it take their raw arguments."""
    return any(a == n or a.startswith(n + "=") for a in argv for n in names)


def _duration(text: str, flag: str) -> int:
    from dockyard.errors import InvalidParameter
    from dockyard.util.durations import parse_ns

    try:
        return parse_ns(text)
    except InvalidParameter as exc:
        raise UsageError(f'invalid argument "{text}" for "--{flag}" flag: {exc}') from None


def _external_cas(specs: list[str]) -> list[dict]:
    """docker/cli's parseExternalCA (its errors, as usage errors)."""
    import csv

    out = []
    for spec in specs:
        ca: dict = {"Options": {}}
        for field in next(csv.reader([spec])):
            key, sep, value = field.partition("=")
            if not sep:
                raise UsageError(f"invalid field '{field}' must be a key=value pair")
            if key.lower() == "protocol":
                if value.lower() != "cfssl":
                    raise UsageError(f"unrecognized external CA protocol {value}")
                ca["Protocol"] = "cfssl"
            elif key.lower() == "url":
                ca["URL"] = value
            elif key.lower() == "cacert":
                try:
                    ca["CACert"] = open(value).read()
                except OSError as exc:
                    raise UsageError(f"unable to read CA cert for external CA: {exc}") from None
            else:
                ca["Options"][key] = value
        if "Protocol" not in ca:
            raise UsageError("the external-ca option needs a protocol= parameter")
        if "URL" not in ca:
            raise UsageError("the external-ca option needs a url= parameter")
        out.append(ca)
    return out


def merge_spec(spec: dict, values: dict, args: list[str]) -> dict:
    """swarmOptions.mergeSwarmSpec: only the flags given change the spec."""
    if _given(args, "--task-history-limit"):
        spec.setdefault("Orchestration", {})["TaskHistoryRetentionLimit"] = values["task_history_limit"]
    if _given(args, "--dispatcher-heartbeat"):
        spec.setdefault("Dispatcher", {})["HeartbeatPeriod"] = _duration(values["dispatcher_heartbeat"],
                                                                         "dispatcher-heartbeat")
    if _given(args, "--cert-expiry"):
        spec.setdefault("CAConfig", {})["NodeCertExpiry"] = _duration(values["cert_expiry"], "cert-expiry")
    if _given(args, "--external-ca"):
        spec.setdefault("CAConfig", {})["ExternalCAs"] = _external_cas(values["external_ca"])
    if _given(args, "--max-snapshots"):
        spec.setdefault("Raft", {})["KeepOldSnapshots"] = values["max_snapshots"]
    if _given(args, "--snapshot-interval"):
        spec.setdefault("Raft", {})["SnapshotInterval"] = values["snapshot_interval"]
    if _given(args, "--autolock"):
        spec.setdefault("EncryptionConfig", {})["AutoLockManagers"] = values["autolock"]
    return spec


def _availability(values: dict, args: list[str]) -> str:
    if not _given(args, "--availability"):
        return ""
    availability = (values["availability"] or "").lower()
    if availability not in ("active", "pause", "drain"):
        raise UsageError(f'invalid availability "{values["availability"]}", only active, pause and drain are '
                         "supported")
    return availability


def print_unlock_command(key: str) -> None:
    if key:
        sys.stdout.write("To unlock a swarm manager after it restarts, run the `docker swarm unlock`\ncommand and "
                         f"provide the following key:\n\n    {key}\n\nRemember to store this key in a password "
                         "manager, since without it you\nwill not be able to restart the manager.\n")


def _unlock_key(client: Client) -> str:
    try:
        return client.call("GET", "/swarm/unlockkey").get("UnlockKey") or ""
    except APIError as exc:
        raise SystemExit(_fail(f"could not fetch unlock key: Error response from daemon: {exc.message}")) from None


def _fail(message: str) -> int:
    sys.stderr.write(message + "\n")
    return 1


def print_join_command(client: Client, node_id: str, worker: bool, manager: bool) -> None:
    node = client.call("GET", f"/nodes/{node_id}")
    swarm = client.call("GET", "/swarm")
    addr = (node.get("ManagerStatus") or {}).get("Addr")
    if addr is None:
        return
    if worker:
        sys.stdout.write("To add a worker to this swarm, run the following command:\n\n    docker swarm join --token "
                         f"{swarm['JoinTokens']['Worker']} {addr}\n\n")
    if manager:
        sys.stdout.write("To add a manager to this swarm, run the following command:\n\n    docker swarm join --token "
                         f"{swarm['JoinTokens']['Manager']} {addr}\n\n")


@command(INIT, raw=True)
def init(client: Client, argv: list[str]) -> int:
    parsed = parse_or_help(INIT, argv)
    if parsed is None:
        return 0
    values, args = parsed[0], argv
    availability = _availability(values, args)
    body = {"ListenAddr": values["listen_addr"], "AdvertiseAddr": values["advertise_addr"] or "",
            "DataPathAddr": values["data_path_addr"] or "", "DataPathPort": values["data_path_port"] or 0,
            "DefaultAddrPool": values["default_addr_pool"], "ForceNewCluster": values["force_new_cluster"],
            "Spec": merge_spec({}, values, args), "AutoLockManagers": values["autolock"],
            "Availability": availability, "SubnetSize": values["default_addr_pool_mask_length"]}
    try:
        node_id = client.call("POST", "/swarm/init", body=body)
    except APIError as exc:
        if "could not choose an IP address to advertise" in exc.message:
            return _fail(f"Error response from daemon: {exc.message} - specify one with --advertise-addr")
        raise
    sys.stdout.write(f"Swarm initialized: current node ({node_id}) is now a manager.\n\n")
    print_join_command(client, node_id, worker=True, manager=False)
    sys.stdout.write("To add a manager to this swarm, run 'docker swarm join-token manager' and follow the "
                     "instructions.\n")
    if values["autolock"]:
        print_unlock_command(_unlock_key(client))
    return 0


@command(JOIN, raw=True)
def join(client: Client, argv: list[str]) -> int:
    parsed = parse_or_help(JOIN, argv)
    if parsed is None:
        return 0
    values, args = parsed
    body = {"JoinToken": values["token"] or "", "ListenAddr": values["listen_addr"],
            "AdvertiseAddr": values["advertise_addr"] or "", "DataPathAddr": values["data_path_addr"] or "",
            "RemoteAddrs": [args[0]], "Availability": _availability(values, argv)}
    client.call("POST", "/swarm/join", body=body)
    info = client.call("GET", "/info")
    role = "manager" if (info.get("Swarm") or {}).get("ControlAvailable") else "worker"
    sys.stdout.write(f"This node joined a swarm as a {role}.\n")
    return 0


@command(JOIN_TOKEN)
def join_token(client: Client, values: dict, args: list[str]) -> int:
    role = args[0]
    if role not in ("worker", "manager"):
        return _fail(f"unknown role {role}")
    if values["rotate"]:
        swarm = client.call("GET", "/swarm")
        client.call("POST", "/swarm/update", body=swarm["Spec"],
                    query={"version": swarm["Version"]["Index"], "rotateWorkerToken": role == "worker",
                           "rotateManagerToken": role == "manager"})
        if not values["quiet"]:
            sys.stdout.write(f"Successfully rotated {role} join token.\n\n")
    swarm = client.call("GET", "/swarm")
    if values["quiet"]:
        sys.stdout.write(swarm["JoinTokens"]["Worker" if role == "worker" else "Manager"] + "\n")
        return 0
    info = client.call("GET", "/info")
    print_join_command(client, info["Swarm"]["NodeID"], role == "worker", role == "manager")
    return 0


@command(LEAVE)
def leave(client: Client, values: dict, _args: list[str]) -> int:
    client.call("POST", "/swarm/leave", query={"force": values["force"]})
    sys.stdout.write("Node left the swarm.\n")
    return 0


@command(UPDATE, raw=True)
def update(client: Client, argv: list[str]) -> int:
    parsed = parse_or_help(UPDATE, argv if any(a.startswith("-") for a in argv) else ["--help"])
    if parsed is None:  # no flag: the help, as docker/cli's pflag.ErrHelp
        return 0
    values, args = parsed[0], argv
    swarm = client.call("GET", "/swarm")
    before = (swarm["Spec"].get("EncryptionConfig") or {}).get("AutoLockManagers", False)
    spec = merge_spec(swarm["Spec"], values, args)
    client.call("POST", "/swarm/update", body=spec, query={"version": swarm["Version"]["Index"]})
    sys.stdout.write("Swarm updated.\n")
    if spec.get("EncryptionConfig", {}).get("AutoLockManagers") and not before:
        print_unlock_command(_unlock_key(client))
    return 0


def _read_pem(path: str, flag: str) -> str:
    try:
        text = open(path).read()
    except OSError as exc:
        raise UsageError(f'invalid argument "{path}" for "--{flag}" flag: {exc.strerror or exc}') from None
    if "-----BEGIN" not in text:
        raise UsageError(f'invalid argument "{path}" for "--{flag}" flag: file contents must be in PEM format')
    return text


@command(CA, raw=True)
def ca(client: Client, argv: list[str]) -> int:
    parsed = parse_or_help(CA, argv)
    if parsed is None:
        return 0
    values, args = parsed[0], argv
    swarm = client.call("GET", "/swarm")
    if not values["rotate"]:
        for flag in ("ca-cert", "ca-key", "cert-expiry", "external-ca"):
            if _given(args, "--" + flag):
                return _fail(f"`--{flag}` flag requires the `--rotate` flag to update the CA")
        return _trust_root(swarm)
    ca_cert = _read_pem(values["ca_cert"], "ca-cert") if values["ca_cert"] else ""
    ca_key = _read_pem(values["ca_key"], "ca-key") if values["ca_key"] else ""
    if values["external_ca"] and not ca_cert:
        return _fail("rotating to an external CA requires the `--ca-cert` flag to specify the external CA's cert - "
                     "to add an external CA with the current root CA certificate, use the `update` command instead")
    if ca_cert and not values["external_ca"] and not ca_key:
        return _fail("the --ca-cert flag requires that a --ca-key flag and/or --external-ca flag be provided as well")
    spec = merge_spec(swarm["Spec"], values, args)
    ca_config = spec.setdefault("CAConfig", {})
    ca_config["SigningCACert"], ca_config["SigningCAKey"] = ca_cert, ca_key
    if not ca_cert and not ca_key:
        ca_config["ForceRotate"] = ca_config.get("ForceRotate", 0) + 1
    client.call("POST", "/swarm/update", body=spec, query={"version": swarm["Version"]["Index"]})
    if values["detach"]:
        return 0
    _wait_for_rotation(client, values["quiet"])
    return _trust_root(client.call("GET", "/swarm"))


def _wait_for_rotation(client: Client, quiet: bool) -> None:
    """docker/cli's RootRotationProgress: until every node has a certificate from the desired issuer
    and trusts the desired root, polled every 200 ms, with its two counts."""
    import hashlib
    import time

    while True:
        swarm = client.call("GET", "/swarm")
        nodes = client.call("GET", "/nodes")
        tls = swarm["TLSInfo"]
        certs = sum(1 for n in nodes if (n["Description"].get("TLSInfo") or {}).get("CertIssuerPublicKey")
                    == tls["CertIssuerPublicKey"] and n["Description"]["TLSInfo"].get("CertIssuerSubject")
                    == tls["CertIssuerSubject"])
        roots = sum(1 for n in nodes if (n["Description"].get("TLSInfo") or {}).get("TrustRoot") == tls["TrustRoot"])
        done = certs == len(nodes) and not swarm["RootRotationInProgress"] and roots == len(nodes)
        if not quiet:
            digest = "sha256:" + hashlib.sha256(tls["TrustRoot"].encode()).hexdigest()
            shown_roots = roots if certs == len(nodes) and not swarm["RootRotationInProgress"] else 0
            sys.stdout.write(f"desired root digest: {digest}\n  rotated TLS certificates: {certs}/{len(nodes)} nodes\n"
                             f"  rotated CA certificates:  {shown_roots}/{len(nodes)} nodes\n")
        if done:
            return
        time.sleep(0.2)  # the CLI's polling period (a client's wait, not a test's)


def _trust_root(swarm: dict) -> int:
    root = (swarm.get("TLSInfo") or {}).get("TrustRoot", "")
    if not root:
        return _fail("no CA information available")
    sys.stdout.write(root.strip() + "\n")
    return 0


def _read_key() -> str:
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Enter unlock key: ")
    return sys.stdin.readline().strip()


@command(UNLOCK)
def unlock(client: Client, _values: dict, _args: list[str]) -> int:
    state = (client.call("GET", "/info").get("Swarm") or {}).get("LocalNodeState", "inactive")
    if state == "inactive":
        return _fail("Error: this node is not part of a swarm")
    if state != "locked":
        return _fail("Error: swarm is not locked")
    client.call("POST", "/swarm/unlock", body={"UnlockKey": _read_key()})
    return 0


@command(UNLOCK_KEY)
def unlock_key(client: Client, values: dict, _args: list[str]) -> int:
    if values["rotate"]:
        swarm = client.call("GET", "/swarm")
        if not (swarm["Spec"].get("EncryptionConfig") or {}).get("AutoLockManagers"):
            return _fail("cannot rotate because autolock is not turned on")
        client.call("POST", "/swarm/update", body=swarm["Spec"],
                    query={"version": swarm["Version"]["Index"], "rotateManagerUnlockKey": True})
        if not values["quiet"]:
            sys.stdout.write("Successfully rotated manager unlock key.\n")
    key = _unlock_key(client)
    if not key:
        return _fail("no unlock key is set")
    if values["quiet"]:
        sys.stdout.write(key + "\n")
    else:
        print_unlock_command(key)
    return 0
