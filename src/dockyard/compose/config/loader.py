"""From command-line options to one validated, interpolated, merged and normalised compose document.

Each file goes through the same steps: YAML, schema (so errors name the file), interpolation,
relative paths made absolute (against the project directory, or the file's own directory for
`extends` and `include`), short forms made long, `extends` resolved; then files merge in `-f` order,
profiles select the services, and references are checked.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

from dockyard.compose.config import merge
from dockyard.compose.config.environment import parse_env_file, project_environment
from dockyard.compose.config.interpolation import InterpolationError, interpolate, interpolate_tree
from dockyard.compose.config.schema import validate
from dockyard.compose.errors import ComposeError

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yaml", "compose.override.yml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")
_NAME_OK = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass
class LoadOptions:
    files: list[str] = field(default_factory=list)
    project_name: str | None = None
    project_directory: str | None = None
    env_files: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    # services named on the command line: their profiles count as enabled (Compose v2)
    targets: list[str] = field(default_factory=list)
    # `version` is obsolete for Compose v2 (a warning), while `docker stack deploy` reads it silently
    warn_obsolete_version: bool = True


@dataclass
class Loaded:
    name: str
    working_dir: str
    config_files: list[str]
    environment: dict[str, str]
    document: dict
    disabled: dict = field(default_factory=dict)  # services of profiles not enabled


def normalise_project_name(name: str) -> str:
    name = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return name.lstrip("_-")


def discover(cwd: str) -> list[str]:
    """compose.yaml (or its older names) in the directory or the nearest parent, plus its override."""
    directory = os.path.abspath(cwd)
    while True:
        found = [n for n in DEFAULT_FILES if os.path.isfile(os.path.join(directory, n))]
        if found:
            if len(found) > 1:
                sys.stderr.write(f"WARN[0000] Found multiple config files with supported names: "
                                 f"{', '.join(os.path.join(directory, n) for n in found)}\n"
                                 f"WARN[0000] Using {os.path.join(directory, found[0])}\n")
            files = [os.path.join(directory, found[0])]
            override = next((n for n in OVERRIDE_FILES if os.path.isfile(os.path.join(directory, n))), None)
            if override:
                files.append(os.path.join(directory, override))
            return files
        parent = os.path.dirname(directory)
        if parent == directory:
            raise ComposeError("no configuration file provided: not found", exit_code=14)
        directory = parent


def read_yaml(path: str) -> dict:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ComposeError(f"open {path}: no such file or directory", exit_code=14) from None
    except IsADirectoryError:
        raise ComposeError(f"read {path}: is a directory", exit_code=14) from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ComposeError(f"yaml: {path}:{where}: {problem}", exit_code=15) from None
    if document is None:
        raise ComposeError(f"empty compose file: {path}", exit_code=15)
    if not isinstance(document, dict):
        raise ComposeError(f"Top-level object must be a mapping: {path}", exit_code=15)
    return document


def load(options: LoadOptions, cwd: str | None = None) -> Loaded:
    cwd = os.path.abspath(cwd or os.getcwd())
    files = list(options.files)
    if not files and os.environ.get("COMPOSE_FILE"):
        separator = os.environ.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        files = [f for f in os.environ["COMPOSE_FILE"].split(separator) if f]
    if files:
        files = [f if f == "-" else os.path.abspath(os.path.join(cwd, f)) for f in files]
    else:
        files = discover(cwd)
    project_dir = os.path.abspath(options.project_directory) if options.project_directory else \
        (os.path.dirname(files[0]) if files[0] != "-" else cwd)
    env_files = [os.path.abspath(os.path.join(cwd, f)) for f in options.env_files]
    environment = project_environment(project_dir, env_files)

    document: dict = {}
    for path in files:
        raw = _read(path)
        loaded = _load_document(raw, path, project_dir, environment, seen=(path,))
        document = merge.merge_documents(document, loaded) if document else loaded

    if "version" in document and options.warn_obsolete_version:
        sys.stderr.write(f"WARN[0000] {files[0]}: the attribute `version` is obsolete, it will be ignored, please "
                         "remove it to avoid potential confusion\n")
    document.pop("version", None)

    name = _project_name(options, environment, document, project_dir)
    environment.setdefault("COMPOSE_PROJECT_NAME", name)
    document["name"] = name
    profiles = list(options.profiles)
    if not profiles and environment.get("COMPOSE_PROFILES"):
        profiles = [p for p in environment["COMPOSE_PROFILES"].split(",") if p]
    services = document.get("services") or {}
    enabled, disabled = {}, {}
    for service_name, service in services.items():
        wanted = service.get("profiles") or []
        if not wanted or "*" in profiles or set(wanted) & set(profiles) or service_name in options.targets:
            enabled[service_name] = service
        else:
            disabled[service_name] = service
    document["services"] = enabled
    for service in enabled.values():
        _resolve_environment(service, environment)
    _check_references(document, disabled)
    return Loaded(name, project_dir, files, environment, document, disabled)


def _read(path: str) -> dict:
    if path == "-":
        import yaml

        return yaml.safe_load(sys.stdin.read()) or {}
    return read_yaml(path)


def _project_name(options: LoadOptions, environment: dict, document: dict, project_dir: str) -> str:
    if options.project_name:
        if not _NAME_OK.match(options.project_name):
            raise ComposeError(f'invalid project name "{options.project_name}": must consist only of lowercase '
                               "alphanumeric characters, hyphens, and underscores as well as start with a letter "
                               "or number")
        return options.project_name
    for candidate in (environment.get("COMPOSE_PROJECT_NAME"), document.get("name")):
        if candidate:
            return normalise_project_name(candidate)
    name = normalise_project_name(os.path.basename(project_dir.rstrip("/")) or "default")
    if not name:
        raise ComposeError(f"project name must not be empty: the directory {project_dir} gives none; use -p")
    return name


def _load_document(raw: dict, path: str, base_dir: str, environment: dict, seen: tuple[str, ...]) -> dict:
    """One file's document: validated, interpolated, paths resolved, includes and extends applied."""
    validate(raw, path)
    document = _interpolated(raw, environment, path)
    document = {k: v for k, v in document.items() if not str(k).startswith("x-")}
    services = {}
    for name, service in (document.get("services") or {}).items():
        services[name] = merge.normalise_service(_resolve_paths(service or {}, base_dir))
    document["services"] = services
    for kind in ("secrets", "configs"):
        for entry in (document.get(kind) or {}).values():
            if isinstance(entry, dict) and entry.get("file"):
                entry["file"] = _absolute(entry["file"], base_dir)
    for name in list(services):
        services[name] = _extend(name, services, path, base_dir, environment, chain=(f"{path}:{name}",))
    for include in document.pop("include", None) or []:
        included = _include(include, base_dir, environment, seen)
        for kind in ("services", "networks", "volumes", "secrets", "configs"):
            for key, value in (included.get(kind) or {}).items():
                existing = document.setdefault(kind, {}) if document.get(kind) is not None else {}
                document[kind] = existing
                if key in existing:
                    raise ComposeError(f"{kind}.{key} conflicts with imported resource", exit_code=15)
                existing[key] = value
    return document


def _interpolated(raw: dict, environment: dict, path: str) -> dict:
    try:
        return interpolate_tree(raw, environment)
    except InterpolationError as exc:
        raise ComposeError(f"{path}: {exc}", exit_code=15) from None


def _include(entry, base_dir: str, environment: dict, seen: tuple[str, ...]) -> dict:
    if isinstance(entry, str):
        entry = {"path": entry}
    paths = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
    paths = [_absolute(p, base_dir) for p in paths]
    include_dir = _absolute(entry["project_directory"], base_dir) if entry.get("project_directory") else \
        os.path.dirname(paths[0])
    env = dict(environment)
    env_files = entry.get("env_file")
    if env_files:
        for env_file in env_files if isinstance(env_files, list) else [env_files]:
            for key, value in parse_env_file(_absolute(env_file, base_dir), env).items():
                env.setdefault(key, value)
    elif os.path.isfile(os.path.join(include_dir, ".env")):
        for key, value in parse_env_file(os.path.join(include_dir, ".env"), env).items():
            env.setdefault(key, value)
    document: dict = {}
    for path in paths:
        if path in seen:
            raise ComposeError(f"include cycle detected: {' -> '.join((*seen, path))}", exit_code=15)
        loaded = _load_document(read_yaml(path), path, include_dir, env, (*seen, path))
        document = merge.merge_documents(document, loaded) if document else loaded
    return document


def _extend(name: str, services: dict, path: str, base_dir: str, environment: dict, chain: tuple[str, ...]) -> dict:
    service = services[name]
    extends = service.get("extends")
    if not extends:
        return service
    if isinstance(extends, str):
        extends = {"service": extends}
    parent_name = extends["service"]
    if extends.get("file"):
        parent_path = _absolute(extends["file"], base_dir)
        parent_doc_raw = read_yaml(parent_path)
        validate(parent_doc_raw, parent_path)
        parent_doc = _interpolated(parent_doc_raw, environment, parent_path)
        parent_dir = os.path.dirname(parent_path)
        pool = {n: merge.normalise_service(_resolve_paths(s or {}, parent_dir))
                for n, s in (parent_doc.get("services") or {}).items()}
    else:
        parent_path, parent_dir, pool = path, base_dir, services
    key = f"{parent_path}:{parent_name}"
    if key in chain:
        raise ComposeError(f"circular reference with extends: {' -> '.join((*chain, key))}", exit_code=15)
    if parent_name not in pool:
        raise ComposeError(f'cannot extend service "{name}" in {path}: service "{parent_name}" not found in '
                           f"{parent_path}", exit_code=15)
    parent = _extend(parent_name, pool, parent_path, parent_dir, environment, (*chain, key))
    # as the specification says: links, volumes_from and depends_on are never inherited
    parent = {k: v for k, v in parent.items() if k not in ("links", "volumes_from", "depends_on", "extends")}
    own = {k: v for k, v in service.items() if k != "extends"}
    return merge.merge_service(parent, own)


def _absolute(path: str, base_dir: str) -> str:
    path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base_dir, path))


def _is_local(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def _resolve_paths(service: dict, base_dir: str) -> dict:
    service = dict(service)
    build = service.get("build")
    if isinstance(build, str):
        build = {"context": build}
    if isinstance(build, dict):
        build = dict(build)
        context = build.get("context", ".")
        if "://" not in context and not context.startswith("git@"):
            build["context"] = _absolute(context, base_dir)
        service["build"] = build
    if service.get("env_file"):
        entries = service["env_file"] if isinstance(service["env_file"], list) else [service["env_file"]]
        resolved: list[str | dict] = []
        for entry in entries:
            if isinstance(entry, dict):
                resolved.append({**entry, "path": _absolute(entry["path"], base_dir)})
            else:
                resolved.append(_absolute(entry, base_dir))
        service["env_file"] = resolved
    volumes = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, sep, rest = volume.partition(":")
            if sep and _is_local(source):
                volume = f"{_absolute(source, base_dir)}:{rest}"
        elif isinstance(volume, dict) and volume.get("type") == "bind" and volume.get("source"):
            volume = {**volume, "source": _absolute(volume["source"], base_dir)}
        volumes.append(volume)
    if "volumes" in service:
        service["volumes"] = volumes
    if isinstance(service.get("extends"), dict) and service["extends"].get("file"):
        service["extends"] = {**service["extends"], "file": _absolute(service["extends"]["file"], base_dir)}
    return service


def _resolve_environment(service: dict, environment: dict) -> None:
    """env_file entries then `environment`; `KEY` without a value takes it from the shell or .env."""
    resolved: dict[str, str] = {}
    for entry in service.pop("env_file", None) or []:
        required = True
        if isinstance(entry, dict):
            required = entry.get("required", True)
            entry = entry["path"]
        if not os.path.exists(entry) and not required:
            continue
        resolved.update(parse_env_file(entry, environment))
    for key, value in (service.get("environment") or {}).items():
        if value is None:
            if key in environment:
                resolved[key] = environment[key]
        else:
            resolved[key] = value
    if resolved or "environment" in service:
        service["environment"] = resolved


def _check_references(document: dict, disabled: dict) -> None:
    services = document["services"]
    networks = document.get("networks") or {}
    volumes = document.get("volumes") or {}
    for name, service in services.items():
        if not service.get("image") and not service.get("build"):
            raise ComposeError(f'service "{name}" has neither an image nor a build context specified: invalid '
                               "compose project", exit_code=15)
        for dep, spec in (service.get("depends_on") or {}).items():
            if dep not in services:
                if dep in disabled and not (spec or {}).get("required", True):
                    continue
                if dep in disabled:
                    raise ComposeError(f'service "{name}" depends on undefined service "{dep}": service "{dep}" '
                                       "is in a profile that is not enabled", exit_code=15)
                raise ComposeError(f'service "{name}" depends on undefined service "{dep}": invalid compose '
                                   "project", exit_code=15)
        for net in service.get("networks") or {}:
            if net != "default" and net not in networks:
                raise ComposeError(f'service "{name}" refers to undefined network {net}: invalid compose project',
                                   exit_code=15)
        for volume in service.get("volumes") or []:
            source = volume.get("source") if isinstance(volume, dict) else \
                (volume.split(":")[0] if ":" in volume else "")
            kind = volume.get("type", "volume") if isinstance(volume, dict) else "volume"
            if kind == "volume" and source and not _is_local(source) and source not in volumes:
                raise ComposeError(f'service "{name}" refers to undefined volume {source}: invalid compose project',
                                   exit_code=15)
        for kind in ("secrets", "configs"):
            for entry in service.get(kind) or []:
                source = entry.get("source") if isinstance(entry, dict) else entry
                if source not in (document.get(kind) or {}):
                    raise ComposeError(f'service "{name}" refers to undefined {kind[:-1]} {source}: invalid '
                                       "compose project", exit_code=15)


__all__ = ["LoadOptions", "Loaded", "load", "discover", "normalise_project_name", "interpolate"]
