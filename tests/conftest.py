"""Shared fixtures: discovered tasks and tiny run configurations."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def example_copy(tmp_path):
    """A writable copy of the committed example results (schema-1 records)."""
    out = tmp_path / "res"
    shutil.copytree(DATA / "example_results", out)
    return out


@pytest.fixture(scope="session")
def tasks():
    from suite.registry import discover

    return discover()


#: The tiny run of ``make_config``: axes and task parameters on top of the defaults.
TINY_AXES = {"steps": 10, "eval_every": 5, "eval_size": 32, "batch_size": 8, "hidden": 8,
             "probe_every": 5}
TINY_PARAMS = {"seq_len": 10}


@pytest.fixture
def make_config(tasks):
    """Builds a resolved tiny run configuration: ``make_config(task, task_params=None, **axes)``.

    Through :func:`suite.config.resolve` (validated like a suite file): the
    :data:`TINY_AXES` and :data:`TINY_PARAMS`, then ``task_params`` and
    ``axes`` (``seed`` included, default 0) on top. Default task: ``"adding"``.
    """
    from suite.config import resolve

    def make(task: str = "adding", task_params: dict | None = None, **axes):
        return resolve(tasks[task], task_params={**TINY_PARAMS, **(task_params or {})},
                       **{**TINY_AXES, **axes})

    return make


def run_cli(*args: str, cwd: Path = ROOT, timeout: int = 600):
    """Runs ``python run_suite.py ARGS`` and returns the CompletedProcess."""
    import subprocess

    return subprocess.run([sys.executable, str(ROOT / "run_suite.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
