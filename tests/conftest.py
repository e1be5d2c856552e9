"""Shared fixtures: discovered tasks and tiny run configurations."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def tasks():
    from suite.registry import discover

    return discover()


@pytest.fixture
def make_config():
    """Builds a resolved tiny run configuration: ``make_config(task, **axes)``."""
    from suite.config import AXES
    from suite.registry import discover

    all_tasks = discover()

    def make(task: str = "adding", task_params: dict | None = None, **axes):
        cfg = {k: a.default for k, a in AXES.items()}
        cfg.update(steps=10, eval_every=5, eval_size=32, batch_size=8, hidden=8, probe_every=5)
        cfg.update(axes)
        params = dict(all_tasks[task].params)
        params.update({"seq_len": 10, **(task_params or {})})
        return {"task": task, "task_params": params, "seed": cfg.pop("seed", 0), **cfg}

    return make


def run_cli(*args: str, cwd: Path = ROOT, timeout: int = 600):
    """Runs ``python run_suite.py ARGS`` and returns the CompletedProcess."""
    import subprocess

    return subprocess.run([sys.executable, str(ROOT / "run_suite.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
