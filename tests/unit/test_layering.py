"""The layering contract (pyproject's [tool.importlinter], docs/architecture.md) and the check for
function-level imports that hide a cycle (tools/check_imports.py) hold for src/, and both checks
reject what they exist to reject."""

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

spec = importlib.util.spec_from_file_location("check_imports", ROOT / "tools" / "check_imports.py")
check_imports = importlib.util.module_from_spec(spec)
sys.modules["check_imports"] = check_imports  # its dataclasses look their module up
spec.loader.exec_module(check_imports)


def _lint_imports(cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_import_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_function_level_import_hides_a_cycle(capsys):
    assert check_imports.main([]) == 0, capsys.readouterr().out


def _write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_a_function_level_import_closing_a_cycle_is_found(tmp_path):
    _write_package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "from pkg import c\n",
        # c -> a closes a -> b -> c, hidden inside a function (and written as a relative import).
        "pkg/c.py": "def f():\n    from . import a\n",
        # A lazy import that closes no cycle, and a type-only import back, are fine.
        "pkg/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import e\n",
        "pkg/e.py": "def g():\n    import pkg.d\n    import pkg.a\n",
    })
    found = check_imports.hidden_cycles(tmp_path, "pkg")
    assert [(edge.importer, edge.imported, edge.line, chain) for edge, chain in found] == [
        ("pkg.c", "pkg.a", 2, ["pkg.a", "pkg.b", "pkg.c"])]
    # A known violation is left out of the graph.
    assert check_imports.hidden_cycles(tmp_path, "pkg", {("pkg.c", "pkg.a")}) == []


def test_an_upward_import_breaks_the_layers(tmp_path):
    _write_package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/high/__init__.py": "",
        "pkg/low/__init__.py": "",
        "pkg/low/x.py": "def f():\n    import pkg.high\n",
        "pyproject.toml": """\
            [tool.importlinter]
            root_package = "pkg"

            [[tool.importlinter.contracts]]
            name = "layers"
            type = "layers"
            containers = ["pkg"]
            layers = ["high", "low"]
        """,
    })
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = _lint_imports(tmp_path, env)
    assert result.returncode == 1
    assert "pkg.low.x -> pkg.high" in result.stdout


def test_the_architecture_page_names_files_that_exist():
    """docs/architecture.md maps features to files: a moved or renamed module must move on the map too."""
    import re

    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`([\w./]+\.py)`", text))
    assert len(named) > 50
    missing = sorted(name for name in named
                     if not (ROOT / "src" / "dockyard" / name).exists() and not (ROOT / name).exists())
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"
