"""`version` and `info`."""

import platform
import sys

from dockyard import API_VERSION, __version__
from dockyard.cli.client import Client
from dockyard.cli.flags import Command, Opt, command

VERSION = Command("version", "[OPTIONS]", "Show the Dockyard version information", (
    Opt(("-f", "--format"), "format", "str", "Format output using a custom template", metavar="string"),), max_args=0)
INFO = Command("info", "[OPTIONS]", "Display system-wide information", (
    Opt(("-f", "--format"), "format", "str", "Format output using a custom template", metavar="string"),), max_args=0)


def _arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


@command(VERSION)
def version(client: Client, values: dict, _args: list[str]) -> int:
    client_part = {"Version": __version__, "ApiVersion": API_VERSION, "Os": "linux", "Arch": _arch(),
                   "GoVersion": "python" + platform.python_version()}
    server = client.call("GET", "/version")
    if values["format"]:
        from dockyard.cli.template import render

        sys.stdout.write(render(values["format"], {"Client": client_part, "Server": server}) + "\n")
        return 0
    sys.stdout.write(
        "Client:\n"
        f" Version:           {__version__}\n"
        f" API version:       {API_VERSION}\n"
        f" Python version:    {platform.python_version()}\n"
        f" OS/Arch:           linux/{_arch()}\n"
        "\n"
        f"Server: {server.get('Platform', {}).get('Name', '')}\n"
        " Engine:\n"
        f"  Version:          {server['Version']}\n"
        f"  API version:      {server['ApiVersion']} (minimum version {server.get('MinAPIVersion', '')})\n"
        f"  Python version:   {server.get('GoVersion', '')}\n"
        f"  Git commit:       {server.get('GitCommit', '')}\n"
        f"  Built:            {server.get('BuildTime', '')}\n"
        f"  OS/Arch:          {server['Os']}/{server['Arch']}\n"
        f"  Experimental:     false\n"
    )
    return 0


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.2f}GiB"


@command(INFO)
def info(client: Client, values: dict, _args: list[str]) -> int:
    i = client.call("GET", "/info")
    if values["format"]:
        from dockyard.cli.template import render

        sys.stdout.write(render(values["format"], i) + "\n")
        return 0
    sys.stdout.write(
        "Client:\n"
        f" Version:    {__version__}\n"
        " Context:    default\n"
        " Debug Mode: false\n"
        "\n"
        "Server:\n"
        f" Containers: {i['Containers']}\n"
        f"  Running: {i['ContainersRunning']}\n"
        f"  Paused: {i['ContainersPaused']}\n"
        f"  Stopped: {i['ContainersStopped']}\n"
        f" Images: {i['Images']}\n"
        f" Server Version: {i['ServerVersion']}\n"
        f" Storage Driver: {i['Driver']}\n"
        f" Logging Driver: {i['LoggingDriver']}\n"
        f" Cgroup Driver: {i['CgroupDriver']}\n"
        f" Cgroup Version: {i['CgroupVersion']}\n"
        f" Runtimes: {' '.join(sorted(i.get('Runtimes') or {}))}\n"
        f" Default Runtime: {i['DefaultRuntime']}\n"
        f" Swarm: {i['Swarm']['LocalNodeState']}\n"
        f" Kernel Version: {i['KernelVersion']}\n"
        f" Operating System: {i['OperatingSystem']}\n"
        f" OSType: {i['OSType']}\n"
        f" Architecture: {i['Architecture']}\n"
        f" CPUs: {i['NCPU']}\n"
        f" Total Memory: {_gib(i['MemTotal'])}\n"
        f" Name: {i['Name']}\n"
        f" ID: {i['ID']}\n"
        f" Docker Root Dir: {i['DockerRootDir']}\n"
        " Debug Mode: false\n"
        f" Experimental: {str(i['ExperimentalBuild']).lower()}\n"
        f" Live Restore Enabled: {str(i['LiveRestoreEnabled']).lower()}\n"
    )
    if i.get("Warnings"):  # on stderr, after the rest, as docker prints them
        sys.stdout.flush()
        sys.stderr.write("\n" + "\n".join(i["Warnings"]) + "\n")
    return 0


DF = Command("system df", "[OPTIONS]", "Show docker disk usage", (
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("-v", "--verbose"), "verbose", "bool", "Show detailed information on space usage"),
))
DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
              "Reclaimable": "RECLAIMABLE"}
_ACTIVE_STATES = ("running", "paused", "restarting")


def _reclaimable(reclaimable: int, total: int) -> str:
    from dockyard.cli.output import human_size

    if total > 0:
        return f"{human_size(reclaimable, 4)} ({reclaimable * 100 // total}%)"
    return human_size(reclaimable, 4)


@command(DF)
def df(client: Client, values: dict, _args: list[str]) -> int:
    from dockyard.cli.output import formatted, human_size, table

    usage = client.call("GET", "/system/df")
    images = usage.get("Images") or []
    containers = usage.get("Containers") or []
    volumes = usage.get("Volumes") or []
    cache = usage.get("BuildCache") or []
    if values["verbose"]:
        return _df_verbose(images, containers, volumes, cache)
    layers_size = usage.get("LayersSize", 0)
    used = sum(i["Size"] - i["SharedSize"] for i in images if i.get("Containers") and i.get("SharedSize", -1) >= 0)
    container_total = sum(c.get("SizeRw", 0) for c in containers)
    idle = sum(c.get("SizeRw", 0) for c in containers if c.get("State") not in _ACTIVE_STATES)
    volume_sizes = [(v.get("UsageData") or {}).get("Size", 0) for v in volumes]
    unused_volumes = sum((v.get("UsageData") or {}).get("Size", 0) for v in volumes
                         if not (v.get("UsageData") or {}).get("RefCount"))
    cache_size = sum(c.get("Size", 0) for c in cache)
    records = [
        {"Type": "Images", "TotalCount": str(len(images)),
         "Active": str(sum(1 for i in images if i.get("Containers"))),
         "Size": human_size(layers_size, 4), "Reclaimable": _reclaimable(layers_size - used, layers_size)},
        {"Type": "Containers", "TotalCount": str(len(containers)),
         "Active": str(sum(1 for c in containers if c.get("State") in _ACTIVE_STATES)),
         "Size": human_size(container_total, 4), "Reclaimable": _reclaimable(idle, container_total)},
        {"Type": "Local Volumes", "TotalCount": str(len(volumes)),
         "Active": str(sum(1 for v in volumes if (v.get("UsageData") or {}).get("RefCount"))),
         "Size": human_size(sum(volume_sizes), 4), "Reclaimable": _reclaimable(unused_volumes, sum(volume_sizes))},
        {"Type": "Build Cache", "TotalCount": str(len(cache)), "Active": str(sum(1 for c in cache if c.get("InUse"))),
         "Size": human_size(cache_size, 4), "Reclaimable": human_size(cache_size, 4)},
    ]
    if values["format"]:
        sys.stdout.write(formatted(values["format"], records, DF_HEADERS))
        return 0
    sys.stdout.write(table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                           [[r[k] for k in DF_HEADERS] for r in records]))
    return 0


def _df_verbose(images: list, containers: list, volumes: list, cache: list) -> int:
    from dockyard.cli.container.ps import ps_fields
    from dockyard.cli.images import image_rows
    from dockyard.cli.output import ago, human_size, table

    out = ["Images space usage:\n\n"]
    rows = []
    for image in images:
        for repo, tag, _digest in image_rows(image, False):
            shared = image.get("SharedSize", 0)
            rows.append([repo, tag, image["Id"][7:19], ago(image["Created"]), human_size(image["Size"]),
                         human_size(shared), human_size(image["Size"] - shared), str(image.get("Containers", 0))])
    out.append(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE",
                      "CONTAINERS"], rows))
    out.append("\nContainers space usage:\n\n")
    rows = []
    for c in containers:
        fields = ps_fields(c, True)
        rows.append([fields["ID"], fields["Image"], fields["Command"], str(fields.get("LocalVolumes", "0")),
                     human_size(c.get("SizeRw", 0)), fields["RunningFor"], fields["Status"], fields["Names"]])
    out.append(table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"],
                     rows))
    out.append("\nLocal Volumes space usage:\n\n")
    out.append(table(["VOLUME NAME", "LINKS", "SIZE"],
                     [[v["Name"], str((v.get("UsageData") or {}).get("RefCount", 0)),
                       human_size((v.get("UsageData") or {}).get("Size", 0))] for v in volumes]))
    out.append(f"\nBuild cache usage: {human_size(sum(c.get('Size', 0) for c in cache))}\n\n")
    out.append(table(["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"], []))
    sys.stdout.write("".join(out))
    return 0
