"""Images for services: pulled or built as `pull_policy` and `--build` say, pushed by `push`."""

from __future__ import annotations

import json
import os

from dockyard.client.engine import Engine
from dockyard.client.transport import APIError
from dockyard.compose.errors import ComposeError
from dockyard.compose.model import Project, Service
from dockyard.compose.progress import Progress


def _stream_error(message: dict) -> str | None:
    if message.get("error") or message.get("errorDetail"):
        return (message.get("errorDetail") or {}).get("message") or message.get("error") or "unknown error"
    return None


def pull(engine: Engine, service: Service, progress: Progress, *, ignore_failures: bool = False) -> None:
    progress.event("Image", service.image, "Pulling")
    try:
        for message in engine.pull(service.image):
            error = _stream_error(message)
            if error:
                raise ComposeError(error)
    except (APIError, ComposeError) as exc:
        progress.event("Image", service.image, "Error", failed=True)
        if ignore_failures:
            return
        text = exc.message if isinstance(exc, APIError) else str(exc)
        raise ComposeError(f"Error response from daemon: {text}") from None
    progress.event("Image", service.image, "Pulled")


def build(engine: Engine, project: Project, service: Service, progress: Progress, *, no_cache: bool = False,
          pull: bool = False, quiet: bool = False, build_args: dict[str, str] | None = None) -> str:
    """Build the service's image; returns its ID."""
    from dockyard.build.context import ContextTar

    spec = service.build or {}
    context = spec.get("context") or project.working_dir
    if "://" in context:
        raise ComposeError(f"services.{service.name}.build.context: remote contexts ({context}) are not supported")
    if not os.path.isdir(context):
        raise ComposeError(f"services.{service.name}.build.context: path {context} not found")
    dockerfile = spec.get("dockerfile") or "Dockerfile"
    inline = spec.get("dockerfile_inline")
    extra = None
    if inline is not None:
        import tempfile

        handle = tempfile.NamedTemporaryFile("w", suffix=".Dockerfile", delete=False)
        handle.write(inline)
        handle.close()
        dockerfile = f".dockerfile.{os.urandom(6).hex()}"
        extra = (dockerfile, handle.name)
    else:
        path = dockerfile if os.path.isabs(dockerfile) else os.path.join(context, dockerfile)
        if not os.path.isfile(path):
            raise ComposeError(f"services.{service.name}.build: Dockerfile {path} not found")
        rel = os.path.relpath(path, context)
        if rel.startswith(".."):
            dockerfile = f".dockerfile.{os.urandom(6).hex()}"
            extra = (dockerfile, path)
        else:
            dockerfile = rel
    args = {str(k): ("" if v is None else str(v)) for k, v in (spec.get("args") or {}).items()}
    args.update(build_args or {})
    labels = {str(k): str(v) for k, v in (spec.get("labels") or {}).items()}
    query = {"t": [service.image, *(spec.get("tags") or [])], "dockerfile": dockerfile, "rm": "1",
             "buildargs": json.dumps(args) if args else None, "labels": json.dumps(labels) if labels else None,
             "target": spec.get("target"), "nocache": no_cache or bool(spec.get("no_cache")),
             "pull": pull or bool(spec.get("pull")), "networkmode": spec.get("network"),
             "cachefrom": json.dumps(spec["cache_from"]) if spec.get("cache_from") else None,
             "shmsize": spec.get("shm_size"),
             "extrahosts": ",".join(f"{h}:{ip}" for h, ip in (spec.get("extra_hosts") or {}).items()) or None}
    query = {k: v for k, v in query.items() if v not in (None, "", False)}
    progress.event("Service", service.name, "Building")
    tar = ContextTar(context, dockerfile if extra is None else None, extra=extra)
    image_id = ""
    try:
        for message in engine.build(query, tar):
            error = _stream_error(message)
            if error:
                progress.event("Service", service.name, "Error", failed=True)
                raise ComposeError(f"failed to solve: {error.strip()}")
            if isinstance(message.get("aux"), dict) and message["aux"].get("ID"):
                image_id = message["aux"]["ID"]
            elif message.get("stream") and not quiet and progress.mode == "plain":
                progress.out.write(f"#{service.name} {message['stream']}" if message["stream"].strip() else "")
    finally:
        if extra is not None and inline is not None:
            os.unlink(extra[1])
    progress.event("Service", service.name, "Built")
    return image_id


def ensure(engine: Engine, project: Project, service: Service, progress: Progress, *, policy_build: str = "",
           ) -> str:
    """The image ID the service's containers are made from; pulls or builds as needed.
    `policy_build`: "always" (`--build`), "never" (`--no-build`) or "" (build when missing)."""
    if policy_build == "always" and service.build is not None:
        return build(engine, project, service, progress)
    policy = service.pull_policy
    if policy == "always":
        pull(engine, service, progress)
    elif policy == "build" and service.build is not None and policy_build != "never":
        return build(engine, project, service, progress)
    found = engine.inspect_image(service.image)
    if found is not None:
        return found["Id"]
    if service.build is not None and policy_build != "never":
        return build(engine, project, service, progress)
    if policy == "never":
        raise ComposeError(f"service {service.name}: image {service.image} not found and pull_policy is never")
    pull(engine, service, progress)
    found = engine.inspect_image(service.image)
    if found is None:
        raise ComposeError(f"service {service.name}: image {service.image} not found after pull")
    return found["Id"]


def push(engine: Engine, service: Service, progress: Progress, *, ignore_failures: bool = False) -> None:
    progress.event("Image", service.image, "Pushing")
    try:
        for message in engine.push(service.image):
            error = _stream_error(message)
            if error:
                raise ComposeError(error)
    except (APIError, ComposeError) as exc:
        progress.event("Image", service.image, "Error", failed=True)
        if not ignore_failures:
            raise ComposeError(str(exc.message if isinstance(exc, APIError) else exc)) from None
        return
    progress.event("Image", service.image, "Pushed")
