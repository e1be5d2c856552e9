"""Where the suite's files are, and the environment a run executed in.

The suite runs from a checkout (``python3 run_suite.py``) or installed as a
package (``pip install .``, command ``rnn-suite``). In a checkout the built-in
tasks, suite files and templates are the top-level folders ``tasks/``,
``suites/`` and ``templates/``; an installed package carries copies of them as
the package data ``suite/_tasks``, ``suite/_suites`` and ``suite/_templates``
(see ``[tool.setuptools]`` in ``pyproject.toml``), found with
:mod:`importlib.resources`. The package data wins when it exists, so an
installed suite never reads a stray ``tasks/`` folder next to it.
"""
from __future__ import annotations

import importlib.resources
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

#: The folder that holds the ``suite`` package: the checkout, or ``site-packages``.
ROOT = Path(__file__).resolve().parent.parent
#: True when running from a checkout (``run_suite.py`` beside the package), False when installed.
CHECKOUT = (ROOT / "run_suite.py").is_file() and (ROOT / "pyproject.toml").is_file()


def _data_dir(packaged: str, checkout: str) -> Path:
    """The package-data folder ``suite/<packaged>`` if installed, else ``ROOT/<checkout>``.

    Args:
        packaged: The folder's name inside the installed package (e.g. ``_tasks``).
        checkout: The folder's name at the top of a checkout (e.g. ``tasks``).
    """
    inside = importlib.resources.files("suite").joinpath(packaged)
    # pip installs packages as plain files, so the resource is a real folder
    return Path(str(inside)) if inside.is_dir() else ROOT / checkout


#: The built-in task modules.
TASKS_DIR = _data_dir("_tasks", "tasks")
#: The built-in suite files (``quick.toml``, ``full.toml``, ...).
SUITES_DIR = _data_dir("_suites", "suites")
#: The jinja2 templates of the report.
TEMPLATES_DIR = _data_dir("_templates", "templates")
#: Default parent of output directories and ``bench.json``: the checkout's
#: ``reports/``, or ``reports/`` in the working directory when installed.
REPORTS_DIR = ROOT / "reports" if CHECKOUT else Path.cwd() / "reports"


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else platform)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """``HEAD`` of the project checkout, with ``-dirty`` if files changed, or None.

    None when the suite is installed rather than run from a checkout (a
    ``site-packages`` inside some other repository must not report its commit).
    """
    if not CHECKOUT:
        return None
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        if not head:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _suite_version() -> str:
    """The suite's version (``suite.__version__``; ``git_commit`` tells checkouts apart)."""
    from suite import __version__

    return __version__


def environment() -> dict[str, Any]:
    """Facts that can change a run's numbers, without TensorFlow's (the worker adds those:
    :func:`suite.execution.worker.tf_environment`)."""
    return {
        "python": platform.python_version(),
        "suite_version": _suite_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "git_commit": git_commit(),
        "numpy": __import__("numpy").__version__,
        "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "executable": sys.executable,
    }
