"""The type check (pyproject's [tool.mypy]) passes on src/ and rejects what it exists to reject: a
misspelt field of a typed spec, which Docker's wire JSON as a dict would have let through as None."""

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _mypy(*targets: str) -> subprocess.CompletedProcess:
    # From the repository root: pyproject's settings and its incremental cache (.mypy_cache) apply.
    return subprocess.run([sys.executable, "-m", "mypy", *targets], cwd=ROOT, capture_output=True, text=True)


def test_src_type_checks():
    result = _mypy()
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelt_spec_field_is_rejected(tmp_path):
    module = tmp_path / "misspelt.py"
    module.write_text(textwrap.dedent("""\
        from dockyard.engine.specs.containers import HostConfig


        def memory_limit(host: HostConfig) -> int:
            return host.memroy or 0
    """))
    result = _mypy(str(module))
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"HostConfig" has no attribute "memroy"' in result.stdout


def _ini_value(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return ",".join(value)
    return str(value).replace("$MYPY_CONFIG_FILE_DIR", str(ROOT))


def test_every_exempt_module_still_needs_its_exemption(tmp_path):
    """The ignore_errors list only shrinks: a listed module that passes without it must leave it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    exempt = {m for o in config["overrides"] if o.get("ignore_errors") for m in o["module"]}
    assert exempt, "no exemption left: this test can go"
    # The same settings as an INI file, less the exemption (the cache is shared: only the listed
    # modules are checked again).
    lines = ["[mypy]"] + [f"{k} = {_ini_value(v)}" for k, v in config.items() if k not in ("overrides", "packages")]
    for override in config["overrides"]:
        if not override.get("ignore_errors"):
            lines.append(f"[mypy-{','.join(override['module'])}]")
            lines += [f"{k} = {_ini_value(v)}" for k, v in override.items() if k != "module"]
    ini = tmp_path / "mypy.ini"
    ini.write_text("\n".join(lines) + "\n")
    result = _mypy("--config-file", str(ini), "-p", "dockyard")
    failing = {line.split(":")[0].removesuffix(".py").removeprefix("src/").replace("/", ".")
               for line in result.stdout.splitlines() if ": error:" in line}
    failing = {name.removesuffix(".__init__") for name in failing}
    assert not exempt - failing, (f"these pass the type check now; remove them from the ignore_errors list "
                                  f"in pyproject.toml: {sorted(exempt - failing)}")
    assert failing <= exempt, result.stdout
