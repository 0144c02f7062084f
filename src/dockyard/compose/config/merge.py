"""Merging compose documents (several `-f` files, `extends`), by the specification's rules
(13-merge.md): mappings merge key by key, most sequences append without duplicates, `command`,
`entrypoint` and `healthcheck.test` are replaced, and sequences with an identity (`ports`,
`volumes`, `secrets`, `configs`, `devices`) merge on it."""

from __future__ import annotations

import copy

# Keys whose short form is a list of KEY=VALUE (or KEY:VALUE) and whose long form is a mapping.
MAPPING_KEYS = {"environment": "=", "labels": "=", "annotations": "=", "sysctls": "=", "extra_hosts": "="}
REPLACED = {"command", "entrypoint"}


def list_to_mapping(value, separator: str = "=") -> dict:
    if isinstance(value, dict):
        return {str(k): (None if v is None else _scalar(v)) for k, v in value.items()}
    result: dict = {}
    for entry in value or []:
        entry = str(entry)
        key, sep, val = entry.partition(separator)
        if not sep and separator == "=" and ":" in entry and entry.count(":") == 1:
            key, sep, val = entry.partition(":")  # extra_hosts' host:ip
        result[key.strip() if separator == "=" else key] = val if sep else None
    return result


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalise_service(service: dict) -> dict:
    """Long forms for the keys whose short and long forms merge differently."""
    out = dict(service)
    for key, sep in MAPPING_KEYS.items():
        if key in out:
            out[key] = list_to_mapping(out[key], sep)
    build = out.get("build")
    if isinstance(build, str):
        out["build"] = {"context": build}
    elif isinstance(build, dict):
        build = dict(build)
        for key in ("args", "labels"):
            if key in build:
                build[key] = list_to_mapping(build[key])
        out["build"] = build
    if isinstance(out.get("depends_on"), list):
        out["depends_on"] = {name: {"condition": "service_started", "required": True} for name in out["depends_on"]}
    if isinstance(out.get("networks"), list):
        out["networks"] = {name: None for name in out["networks"]}
    for key in ("env_file", "dns", "dns_search", "tmpfs", "label_file"):
        if isinstance(out.get(key), str):
            out[key] = [out[key]]
    return out


def _identity(key: str, item):
    if key == "ports":
        if isinstance(item, dict):
            return ("long", item.get("target"), item.get("published"), item.get("protocol", "tcp"),
                    item.get("host_ip"))
        return ("short", str(item))
    if key == "volumes":
        if isinstance(item, dict):
            return item.get("target")
        parts = str(item).split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    if key in ("secrets", "configs"):
        return item.get("source") if isinstance(item, dict) else item
    if key == "devices":
        text = item.get("source") if isinstance(item, dict) else str(item)
        return str(text).split(":")[0]
    return repr(item)


def merge_service(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key in REPLACED or key not in out or out[key] is None or value is None:
            out[key] = copy.deepcopy(value)
        elif key in ("ports", "volumes", "secrets", "configs", "devices"):
            merged = {_identity(key, item): item for item in out[key]}
            for item in value:
                merged[_identity(key, item)] = item
            out[key] = list(merged.values())
        elif key == "healthcheck" and isinstance(value, dict):
            out[key] = {**out[key], **copy.deepcopy(value)}
        elif isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge_mapping(out[key], value)
        elif isinstance(out[key], list) and isinstance(value, list):
            out[key] = out[key] + [v for v in value if v not in out[key]]
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_mapping(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = merge_mapping(out[key], value)
        elif isinstance(out.get(key), list) and isinstance(value, list):
            out[key] = out[key] + [v for v in value if v not in out[key]]
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_documents(base: dict, override: dict) -> dict:
    """Two whole (normalised) documents."""
    out = dict(base)
    for key, value in override.items():
        if key == "services":
            services = dict(out.get("services") or {})
            for name, service in (value or {}).items():
                services[name] = merge_service(services[name], service) if name in services else service
            out["services"] = services
        elif isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = merge_mapping(out[key], value)
        else:
            out[key] = value
    return out
