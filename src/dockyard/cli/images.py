"""Image commands: images, import, rmi."""

import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.common import filters_json
from dockyard.cli.flags import Command, Opt, command
from dockyard.client.errors import daemon_error

IMAGES = Command("images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", (
    Opt(("-a", "--all"), "all", "bool", "Show all images (default hides intermediate images)"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only show image IDs"),
    Opt(("--digests",), "digests", "bool", "Show digests"),
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


@command(IMAGES)
def images(client: Client, values: dict, args: list[str]) -> int:
    from dockyard.cli.output import ago, human_size, table

    entries = list(values["filter"]) + ([f"reference={args[0]}"] if args else [])
    found = client.call("GET", "/images/json", query={"all": values["all"], "filters": filters_json(entries)})
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
        for repo, tag, digest in image_rows(image, values["digests"]):
            records.append({"Repository": repo, "Tag": tag, "ID": short(image["Id"]), "Digest": digest,
                            "CreatedSince": ago(image["Created"]), "Size": human_size(image["Size"]),
                            "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(image["Created"])),
                            "Containers": "N/A"})
    if values["format"]:
        from dockyard.cli.output import formatted

        sys.stdout.write(formatted(values["format"], records, IMAGE_HEADERS))
        return 0
    if values["digests"]:
        rows = [[r["Repository"], r["Tag"], r["Digest"], r["ID"], r["CreatedSince"], r["Size"]] for r in records]
        sys.stdout.write(table(["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"], rows))
    else:
        rows = [[r["Repository"], r["Tag"], r["ID"], r["CreatedSince"], r["Size"]] for r in records]
        sys.stdout.write(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows))
    return 0


def image_rows(image: dict, show_digests: bool) -> list[tuple[str, str, str]]:
    """(repository, tag, digest) rows for one image, as the docker CLI builds them: one row per tag
    (times its repository's digests with --digests), then digest-only repositories."""
    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    digests = [d for d in image.get("RepoDigests") or [] if d != "<none>@<none>"]
    if not tags and not digests:
        return [("<none>", "<none>", "<none>")]
    by_repo_tags: dict[str, list[str]] = {}
    for ref in tags:
        repo, _, tag = ref.rpartition(":")
        by_repo_tags.setdefault(repo, []).append(tag)
    by_repo_digests: dict[str, list[str]] = {}
    for ref in digests:
        repo, _, digest = ref.partition("@")
        by_repo_digests.setdefault(repo, []).append(digest)
    rows: list[tuple[str, str, str]] = []
    for repo, repo_tags in by_repo_tags.items():
        repo_digests = by_repo_digests.pop(repo, []) if show_digests else []
        by_repo_digests.pop(repo, None)
        for tag in repo_tags:
            rows.extend((repo, tag, d) for d in repo_digests or ["<none>"])
    for repo, repo_digests in by_repo_digests.items():
        rows.extend((repo, "<none>", d) for d in (repo_digests if show_digests else [""]))
    return rows


@command(IMPORT)
def import_(client: Client, values: dict, args: list[str]) -> int:
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
            sys.stderr.write(f"open {source}: {(exc.strerror or str(exc)).lower()}\n")
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


@command(RMI)
def rmi(client: Client, values: dict, args: list[str]) -> int:
    failed = False
    for name in args:
        try:
            report = client.call("DELETE", f"/images/{name}",
                                 query={"force": values["force"], "noprune": values["no_prune"]})
        except APIError as exc:
            daemon_error(exc.message)
            failed = True
            continue
        for line in report:
            for key, value in line.items():
                sys.stdout.write(f"{key}: {value}\n")
    return 1 if failed else 0


TAG = Command("tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
              "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", (), min_args=2, max_args=2)
HISTORY = Command("history", "[OPTIONS] IMAGE", "Show the history of an image", (
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("-H", "--human"), "human", "bool", "Print sizes and dates in human readable format", default=True),
    Opt(("--no-trunc",), "no_trunc", "bool", "Don't truncate output"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only show image IDs"),
), min_args=1, max_args=1)
HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
                   "Size": "SIZE", "Comment": "COMMENT"}
IMAGE_PRUNE = Command("image prune", "[OPTIONS]", "Remove unused images", (
    Opt(("-a", "--all"), "all", "bool", "Remove all unused images, not just dangling ones"),
    Opt(("--filter",), "filter", "list", "Provide filter values (e.g. \"until=<timestamp>\")", metavar="filter"),
    Opt(("-f", "--force"), "force", "bool", "Do not prompt for confirmation"),
))


def split_repository_tag(target: str) -> tuple[str, str]:
    """`name:tag` -> (name, tag); a port in the registry part (`localhost:5000/app`) is not a tag."""
    name = target.partition("@")[0]
    last = name.rpartition("/")[2]
    if ":" in last:
        repo, _, tag = target.rpartition(":")
        return repo, tag
    return target, ""


@command(TAG)
def tag(client: Client, _values: dict, args: list[str]) -> int:
    source, target = args
    repo, tag_name = split_repository_tag(target)
    client.call("POST", f"/images/{source}/tag", query={"repo": repo, "tag": tag_name or None})
    return 0


@command(HISTORY)
def history(client: Client, values: dict, args: list[str]) -> int:
    (name,) = args
    import time

    from dockyard.cli.output import ago, ellipsis, human_size, table

    rows = client.call("GET", f"/images/{name}/history")
    trunc, human = not values["no_trunc"], values["human"]
    records = []
    for row in rows:
        image_id = row["Id"]
        if trunc and image_id.startswith("sha256:"):
            image_id = image_id[7:19]
        created_by = row.get("CreatedBy", "").replace("\t", " ")
        created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row["Created"]))
        records.append({
            "ID": image_id,
            "CreatedSince": ago(row["Created"]) if human else created_at,
            "CreatedAt": created_at,
            "CreatedBy": ellipsis(created_by, 45) if trunc else created_by,
            "Size": human_size(row["Size"]) if human else str(row["Size"]),
            "Comment": row.get("Comment", ""),
        })
    if values["quiet"]:
        sys.stdout.write("".join(r["ID"] + "\n" for r in records))
        return 0
    if values["format"]:
        from dockyard.cli.output import formatted

        sys.stdout.write(formatted(values["format"], records, HISTORY_HEADERS))
        return 0
    sys.stdout.write(table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
                           [[r["ID"], r["CreatedSince"], r["CreatedBy"], r["Size"], r["Comment"]] for r in records]))
    return 0


@command(IMAGE_PRUNE)
def image_prune(client: Client, values: dict, _args: list[str]) -> int:
    if not values["force"]:
        warning = ("WARNING! This will remove all images without at least one container associated to them."
                   if values["all"] else "WARNING! This will remove all dangling images.")
        from dockyard.cli.output import confirmed

        if not confirmed(warning):
            return 0
    from dockyard.cli.output import human_size

    entries = list(values["filter"]) + (["dangling=false"] if values["all"] else [])
    result = client.call("POST", "/images/prune", query={"filters": filters_json(entries)})
    deleted = result.get("ImagesDeleted") or []
    if deleted:
        lines = [f"{key.lower()}: {value}" for item in deleted for key, value in item.items() if value]
        sys.stdout.write("Deleted Images:\n" + "".join(line + "\n" for line in lines) + "\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}\n")
    return 0
