"""Registry commands: pull, push, login, logout, search."""

import sys

from dockyard.cli import credentials
from dockyard.cli.client import Client
from dockyard.cli.common import filters_json
from dockyard.cli.flags import Command, Opt, UsageError, command

PULL = Command("pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", (
    Opt(("-a", "--all-tags"), "all_tags", "bool", "Download all tagged images in the repository"),
    Opt(("--disable-content-trust",), "disable_content_trust", "bool", "Skip image verification", default=True),
    Opt(("--platform",), "platform", "str", "Set platform if server is multi-platform capable", metavar="string"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Suppress verbose output"),
), min_args=1, max_args=1)
PUSH = Command("push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", (
    Opt(("-a", "--all-tags"), "all_tags", "bool", "Push all tags of an image to the repository"),
    Opt(("--disable-content-trust",), "disable_content_trust", "bool", "Skip image signing", default=True),
    Opt(("-q", "--quiet"), "quiet", "bool", "Suppress verbose output"),
), min_args=1, max_args=1)
LOGIN = Command("login", "[OPTIONS] [SERVER]", "Log in to a registry.\nIf no server is specified, the default is "
                "defined by the daemon.", (
    Opt(("-p", "--password"), "password", "str", "Password", metavar="string"),
    Opt(("--password-stdin",), "password_stdin", "bool", "Take the password from stdin"),
    Opt(("-u", "--username"), "username", "str", "Username", metavar="string"),
), max_args=1)
LOGOUT = Command("logout", "[SERVER]", "Log out from a registry.\nIf no server is specified, the default is "
                 "defined by the daemon.", (), max_args=1)
SEARCH = Command("search", "[OPTIONS] TERM", "Search Docker Hub for images", (
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Pretty-print search using a Go template", metavar="string"),
    Opt(("--limit",), "limit", "int", "Max number of search results", default=25, metavar="int"),
    Opt(("--no-trunc",), "no_trunc", "bool", "Don't truncate output"),
), min_args=1, max_args=1)
SEARCH_HEADERS = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL",
                  "IsAutomated": "AUTOMATED"}


def _split_tag(image: str) -> tuple[str, str]:
    """name[:tag][@digest] -> (name, tag or digest)."""
    name, at, digest = image.partition("@")
    if at:
        return name, digest
    last = name.rpartition("/")[2]
    if ":" in last:
        repo, _, tag = name.rpartition(":")
        return repo, tag
    return name, ""


def canonical(name: str) -> str:
    """docker.io/library/busybox for busybox, as the docker CLI prints after a pull."""
    first, sep, _rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return name
    return "docker.io/" + (name if sep else "library/" + name)


def pull_image(client: Client, image: str, *, platform: str = "", all_tags: bool = False, quiet: bool = False,
               out=None) -> None:
    """`POST /images/create` with progress shown like Docker's; raises StreamError on a failed pull."""
    from dockyard.cli.jsonmessage import display

    repo, tag = _split_tag(image)
    query = {"fromImage": repo, "tag": tag or (None if all_tags else "latest"), "platform": platform or None}
    response = client.send("POST", "/images/create", query=query, headers=credentials.registry_auth_header(repo))
    try:
        messages = response.json_lines()
        if quiet:
            from dockyard.cli.jsonmessage import StreamError

            for message in messages:
                if message.get("error") or message.get("errorDetail"):
                    raise StreamError((message.get("errorDetail") or {}).get("message") or message["error"])
        else:
            display(messages, out or sys.stdout)
    finally:
        response.close()


@command(PULL)
def pull(client: Client, values: dict, args: list[str]) -> int:
    image = args[0]
    repo, tag = _split_tag(image)
    if values["all_tags"] and tag:
        raise UsageError("tag can't be used with --all-tags/-a")
    if not tag and not values["all_tags"] and not values["quiet"]:
        sys.stdout.write("Using default tag: latest\n")
    from dockyard.cli.jsonmessage import StreamError

    try:
        pull_image(client, image, platform=values["platform"] or "", all_tags=values["all_tags"],
                   quiet=values["quiet"])
    except StreamError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    suffix = "" if values["all_tags"] else ("@" + tag if tag.startswith("sha256:") else ":" + (tag or "latest"))
    sys.stdout.write(canonical(repo) + suffix + "\n")
    return 0


@command(PUSH)
def push(client: Client, values: dict, args: list[str]) -> int:
    repo, tag = _split_tag(args[0])
    if values["all_tags"] and tag:
        raise UsageError("tag can't be used with --all-tags/-a")
    if not tag and not values["all_tags"]:
        tag = "latest"
        if not values["quiet"]:
            sys.stdout.write("Using default tag: latest\n")
    from dockyard.cli.jsonmessage import StreamError, display

    response = client.send("POST", f"/images/{repo}/push", query={"tag": tag or None},
                           headers=credentials.registry_auth_header(repo))
    try:
        display(response.json_lines(), _Null() if values["quiet"] else sys.stdout)
    except StreamError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    finally:
        response.close()
    if values["quiet"]:
        sys.stdout.write(repo + (":" + tag if tag else "") + "\n")
    return 0


class _Null:
    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


@command(LOGIN)
def login(client: Client, values: dict, args: list[str]) -> int:
    server = args[0] if args else credentials.INDEX_SERVER
    key = credentials.server_key(server)
    username, password = values["username"] or "", values["password"] or ""
    if values["password"]:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    if values["password_stdin"]:
        if values["password"]:
            raise UsageError("--password and --password-stdin are mutually exclusive")
        if not username:
            raise UsageError("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    if not username and not password:
        stored = credentials.lookup(key)
        if stored:
            username, password = credentials.decoded(stored)
    if not username:
        sys.stdout.write("Username: ")
        sys.stdout.flush()
        username = sys.stdin.readline().strip()
        if not username:
            sys.stderr.write("Error: Non-null Username Required\n")
            return 1
    if not password:
        import getpass

        password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
        if not password:
            sys.stderr.write("Error: Password Required\n")
            return 1
    answer = client.call("POST", "/auth", body={"username": username, "password": password, "serveraddress": key})
    credentials.store(key, username, password, (answer or {}).get("IdentityToken") or "")
    sys.stderr.write(f"WARNING! Your password will be stored unencrypted in {credentials.config_path()}.\n"
                     "Configure a credential helper to remove this warning. See\n"
                     "https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n")
    sys.stdout.write("Login Succeeded\n")
    return 0


@command(LOGOUT)
def logout(client: Client, _values: dict, args: list[str]) -> int:
    key = credentials.server_key(args[0] if args else credentials.INDEX_SERVER)
    if credentials.lookup(key) is None:
        sys.stdout.write(f"Not logged in to {key}\n")
        return 0
    sys.stdout.write(f"Removing login credentials for {key}\n")
    credentials.erase(key)
    return 0


@command(SEARCH)
def search(client: Client, values: dict, args: list[str]) -> int:
    from dockyard.cli.output import ellipsis, formatted, table

    found = client.call("GET", "/images/search", query={"term": args[0], "limit": values["limit"],
                                                          "filters": filters_json(values["filter"])},
                        headers=credentials.registry_auth_header(args[0].partition("/")[0], is_server=True)
                        if "/" in args[0] else {})
    records = []
    for r in found or []:
        description = r.get("description", "").replace("\n", " ")
        records.append({"Name": r["name"],
                        "Description": description if values["no_trunc"] else ellipsis(description, 45),
                        "StarCount": str(r.get("star_count", 0)), "IsOfficial": "[OK]" if r.get("is_official") else "",
                        "IsAutomated": "[OK]" if r.get("is_automated") else ""})
    if values["format"]:
        sys.stdout.write(formatted(values["format"], records, SEARCH_HEADERS))
        return 0
    rows = [[r["Name"], r["Description"], r["StarCount"], r["IsOfficial"], r["IsAutomated"]] for r in records]
    sys.stdout.write(table(list(SEARCH_HEADERS.values()), rows))
    return 0
