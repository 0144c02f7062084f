"""`--log-driver` and `--log-opt`: the json-file driver (with rotation) and none."""

from dockyard.engine.specs.containers import LogConfig
from dockyard.errors import InvalidParameter
from dockyard.util.units import parse_bytes

DRIVERS = ("json-file", "none")
JSON_FILE_OPTS = {"max-size", "max-file", "labels", "labels-regex", "env", "env-regex", "compress", "tag"}


def parse_size(text: str) -> int:
    try:
        return parse_bytes(text)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None


def validate(log_config: LogConfig | None) -> LogConfig:
    """The logging settings with the default driver filled in, or Docker's error for them."""
    driver = (log_config.type if log_config else None) or "json-file"
    options = dict((log_config.config if log_config else None) or {})
    if driver not in DRIVERS:
        raise InvalidParameter(f'error looking up logging plugin {driver}: plugin "{driver}" not found')
    if driver == "none" and options:
        raise InvalidParameter(f"unknown log opt '{next(iter(options))}' for none log driver")
    for key, value in options.items():
        if key not in JSON_FILE_OPTS:
            raise InvalidParameter(f"unknown log opt '{key}' for json-file log driver")
        if key == "max-size":
            parse_size(value)
        if key == "max-file":
            if not str(value).isdigit() or int(value) < 1:
                raise InvalidParameter("max-file cannot be less than 1")
    # Docker 20.10 takes max-file without max-size (nothing ever rotates then); compress needs both.
    if "compress" in options:
        if str(options["compress"]).lower() not in ("1", "t", "true", "0", "f", "false"):
            raise InvalidParameter(f'strconv.ParseBool: parsing "{options["compress"]}": invalid syntax')
        if str(options["compress"]).lower() in ("1", "t", "true") and (
                int(options.get("max-file", "1")) < 2 or "max-size" not in options):
            raise InvalidParameter("compress cannot be true when max-file is less than 2 or max-size is not set")
    return LogConfig(driver, options)


def reads_back(log_config: LogConfig | None) -> bool:
    """Whether `docker logs` can read what the driver kept (json-file keeps a file)."""
    return ((log_config.type if log_config else None) or "json-file") == "json-file"


def attributes(options: dict, labels: dict, env: list[str]) -> dict:
    """The extra attributes json-file records with each line (`labels`, `env` options)."""
    attrs = {}
    for key in [k for k in options.get("labels", "").split(",") if k]:
        if key in labels:
            attrs[key] = labels[key]
    env_map = dict(e.split("=", 1) for e in env if "=" in e)
    for key in [k for k in options.get("env", "").split(",") if k]:
        if key in env_map:
            attrs[key] = env_map[key]
    return attrs
