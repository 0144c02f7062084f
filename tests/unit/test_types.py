"""The type check (pyproject's [tool.mypy]) passes on src/ and rejects what it exists to reject: a
misspelt field of a typed spec, which Docker's wire JSON as a dict would have let through as None."""

import subprocess
import sys
import textwrap
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
