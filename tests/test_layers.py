"""The layer contracts in pyproject.toml catch what they promise (run with lint-imports).

CI runs ``lint-imports`` on the tree; these tests check that the contracts would
fail on a cycle (module-level or inside a function) and on TensorFlow in the
TF-free core, by injecting each fault into a copy of the package.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed "
                                "(pip install -r requirements-test.txt)")


def lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT], cwd=tree, capture_output=True, text=True, timeout=120,
                          env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(tree)})


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "suite", tmp_path / "suite", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def append(path: Path, code: str) -> None:
    path.write_text(path.read_text() + "\n\n" + code)


def test_the_tree_keeps_every_contract(tree):
    res = lint(tree)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


@pytest.mark.parametrize("module, target", [
    ("report/aggregate.py", "from suite.report.build import fmt_num"),    # inside one layer
    ("health/views.py", "from suite.health.probe import Probe"),          # against the health order
    ("model/builder.py", "from suite.model.run_loop import train"),       # a model importing its loop
    ("registry.py", "from suite.preflight import preflight"),            # independent core siblings
])
def test_a_cycle_or_upward_import_inside_a_function_breaks_a_contract(tree, module, target):
    append(tree / "suite" / module, f"def _late():\n    {target}\n")
    res = lint(tree)
    assert res.returncode != 0, res.stdout
    assert "BROKEN" in res.stdout


def test_tensorflow_in_the_report_breaks_a_contract(tree):
    append(tree / "suite/report/aggregate.py", "def _tf():\n    import tensorflow\n    return tensorflow\n")
    res = lint(tree)
    assert res.returncode != 0
    assert "not allowed to import tensorflow" in res.stdout
