"""`version` and `info`."""

import platform
import sys

from dockyard import API_VERSION, __version__
from dockyard.cli.client import Client
from dockyard.cli.containers import _parse
from dockyard.cli.flags import Command, Opt

VERSION = Command("version", "[OPTIONS]", "Show the Dockyard version information", (
    Opt(("-f", "--format"), "format", "str", "Format output using a custom template", metavar="string"),), max_args=0)
INFO = Command("info", "[OPTIONS]", "Display system-wide information", (
    Opt(("-f", "--format"), "format", "str", "Format output using a custom template", metavar="string"),), max_args=0)


def _arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def version(client: Client, argv: list[str]) -> int:
    parsed = _parse(VERSION, argv)
    if parsed is None:
        return 0
    values, _ = parsed
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


def info(client: Client, argv: list[str]) -> int:
    parsed = _parse(INFO, argv)
    if parsed is None:
        return 0
    values, _ = parsed
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
    return 0
