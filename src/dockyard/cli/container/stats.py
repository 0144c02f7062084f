"""`dockyard stats`: live resource usage, computed from the API's samples as Docker's CLI does."""

import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.flags import Command, Opt, command
from dockyard.cli.output import binary_size
from dockyard.client.errors import daemon_error

STATS = Command("stats", "[OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage "
                "statistics", (
    Opt(("-a", "--all"), "all", "bool", "Show all containers (default shows just running)"),
    Opt(("--no-stream",), "no_stream", "bool", "Disable streaming stats and only pull the first result"),
    Opt(("--no-trunc",), "no_trunc", "bool", "Do not truncate output"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
))
STATS_HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
                 "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
                 "PIDs": "PIDS"}


def stats_fields(s: dict, trunc: bool) -> dict:
    """Docker's stats formatter fields from one API sample (with precpu_stats)."""
    from dockyard.cli.output import human_size

    cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get("total_usage", 0))
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
    cpu_percent = cpu_delta / system_delta * online * 100 if system_delta > 0 and cpu_delta > 0 else 0.0
    memory = s.get("memory_stats") or {}
    usage = memory.get("usage", 0)
    stats = memory.get("stats") or {}
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    if inactive < usage:
        usage -= inactive
    limit = memory.get("limit", 0)
    rx = sum(n.get("rx_bytes", 0) for n in (s.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (s.get("networks") or {}).values())
    read = write = 0
    for entry in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        if entry.get("op", "").lower() == "read":
            read += entry.get("value", 0)
        elif entry.get("op", "").lower() == "write":
            write += entry.get("value", 0)
    cid = s.get("id", "")
    return {"Container": cid[:12] if trunc else cid, "ID": cid[:12] if trunc else cid,
            "Name": s.get("name", "").lstrip("/"), "CPUPerc": f"{cpu_percent:.2f}%",
            "MemUsage": f"{binary_size(usage)} / {binary_size(limit)}",
            "MemPerc": f"{usage / limit * 100 if limit else 0:.2f}%",
            "NetIO": f"{human_size(rx)} / {human_size(tx)}", "BlockIO": f"{human_size(read)} / {human_size(write)}",
            "PIDs": str((s.get("pids_stats") or {}).get("current", 0))}


@command(STATS)
def stats(client: Client, values: dict, names: list[str]) -> int:
    if not names:
        names = [c["Id"] for c in client.call("GET", "/containers/json", query={"all": values["all"]})]
    return show_stats(client, names, no_stream=values["no_stream"], no_trunc=values["no_trunc"],
                      template=values["format"])


def show_stats(client: Client, names: list[str], *, no_stream: bool, no_trunc: bool, template: str | None) -> int:
    """`docker stats` (and `compose stats`) of these containers: one table, redrawn every second until
    their streams end, or drawn once from the first sample with ``no_stream``."""
    import threading
    import time

    from dockyard.cli.output import formatted

    latest: dict[str, dict] = {}
    errors: list[str] = []

    def follow(name: str) -> None:
        try:
            response = client.send("GET", f"/containers/{name}/stats",
                                   query={"stream": "0" if no_stream else "1"})
            for sample_ in response.json_lines():
                latest[name] = sample_
            response.close()
        except APIError as exc:
            errors.append(exc.message)
        except Exception:  # noqa: BLE001 - a container going away ends its stream
            pass

    threads = [threading.Thread(target=follow, args=(n,), daemon=True) for n in names]
    for t in threads:
        t.start()
    if template == "json":  # Docker's --format json: one JSON object per container
        template = "{{json .}}"
    template = template or ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
                            "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}")

    def render() -> str:
        rows = [stats_fields(latest[n], not no_trunc) for n in names if n in latest]
        return formatted(template, rows, STATS_HEADERS)

    if no_stream:
        for t in threads:
            t.join()
        for message in errors:
            daemon_error(message)
        sys.stdout.write(render())
        return 1 if errors and not latest else 0
    clear = "\033[2J\033[H" if sys.stdout.isatty() else ""
    while any(t.is_alive() for t in threads):
        time.sleep(1)
        sys.stdout.write(clear + render())
        sys.stdout.flush()
    return 0
