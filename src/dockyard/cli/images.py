"""Image commands: images, import, rmi."""

import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.containers import _filters_json, _parse
from dockyard.cli.flags import Command, Opt

IMAGES = Command("images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", (
    Opt(("-a", "--all"), "all", "bool", "Show all images (default hides intermediate images)"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only show image IDs"),
    Opt(("--no-trunc",), "no_trunc", "bool", "Don't truncate output"),
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
), max_args=1)
IMAGE_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
                 "Size": "SIZE", "Digest": "DIGEST", "CreatedAt": "CREATED AT", "Containers": "CONTAINERS"}
IMPORT = Command("import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                 "Import the contents from a tarball to create a filesystem image", (
    Opt(("-c", "--change"), "change", "list", "Apply Dockerfile instruction to the created image", metavar="list"),
    Opt(("-m", "--message"), "message", "str", "Set commit message for imported image", default="",
        metavar="string"),
), min_args=1, max_args=2)
RMI = Command("rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", (
    Opt(("-f", "--force"), "force", "bool", "Force removal of the image"),
    Opt(("--no-prune",), "no_prune", "bool", "Do not delete untagged parents"),
), min_args=1)


def images(client: Client, argv: list[str]) -> int:
    parsed = _parse(IMAGES, argv)
    if parsed is None:
        return 0
    values, args = parsed
    from dockyard.cli.output import ago, human_size, table

    entries = list(values["filter"]) + ([f"reference={args[0]}"] if args else [])
    found = client.call("GET", "/images/json", query={"all": values["all"], "filters": _filters_json(entries)})
    trunc = not values["no_trunc"]

    def short(image_id: str) -> str:
        return image_id[7:19] if trunc else image_id

    if values["quiet"]:
        seen = []
        for image in found:
            if short(image["Id"]) not in seen:
                seen.append(short(image["Id"]))
        sys.stdout.write("".join(i + "\n" for i in seen))
        return 0
    import time

    records = []
    for image in found:
        for tag in image.get("RepoTags") or ["<none>:<none>"]:
            repo, _, name = tag.rpartition(":")
            records.append({"Repository": repo, "Tag": name, "ID": short(image["Id"]), "Digest": "<none>",
                            "CreatedSince": ago(image["Created"]), "Size": human_size(image["Size"]),
                            "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(image["Created"])),
                            "Containers": "N/A"})
    if values["format"]:
        from dockyard.cli.output import formatted

        sys.stdout.write(formatted(values["format"], records, IMAGE_HEADERS))
        return 0
    rows = [[r["Repository"], r["Tag"], r["ID"], r["CreatedSince"], r["Size"]] for r in records]
    sys.stdout.write(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows))
    return 0


def import_(client: Client, argv: list[str]) -> int:
    parsed = _parse(IMPORT, argv)
    if parsed is None:
        return 0
    values, args = parsed
    source = args[0]
    query = {"fromSrc": "-", "message": values["message"] or None, "changes": values["change"]}
    if len(args) > 1:
        target = args[1]
        last = target.rpartition("/")[2]
        if ":" in last:
            repo, _, tag = target.rpartition(":")
            query.update(repo=repo, tag=tag)
        else:
            query.update(repo=target)
    stream = None
    if source.startswith(("http://", "https://")):  # the daemon downloads it, as with the docker CLI
        query["fromSrc"] = source
    elif source == "-":
        stream = sys.stdin.buffer
    else:
        try:
            stream = open(source, "rb")
        except OSError as exc:
            sys.stderr.write(f"open {source}: {exc.strerror.lower()}\n")
            return 1
    response = client.send("POST", "/images/create", query=query, body=stream)
    for message in response.json_lines():
        if "error" in message:
            sys.stderr.write(message["error"] + "\n")
            return 1
        if "status" in message:
            sys.stdout.write(message["status"] + "\n")
    response.close()
    return 0


def rmi(client: Client, argv: list[str]) -> int:
    parsed = _parse(RMI, argv)
    if parsed is None:
        return 0
    values, args = parsed
    failed = False
    for name in args:
        try:
            report = client.call("DELETE", f"/images/{name}",
                                 query={"force": values["force"], "noprune": values["no_prune"]})
        except APIError as exc:
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
            continue
        for line in report:
            for key, value in line.items():
                sys.stdout.write(f"{key}: {value}\n")
    return 1 if failed else 0
