"""The suite installs like a Python package (issue #13): a wheel built from the checkout carries
the ``suite`` package, the built-in tasks, the suite files and the templates, and its command
``rnn-suite`` works from another directory, with a plugin package's entry point discovered.

The virtual environment sees the packages of the Python running the tests (:func:`_venv_like_this`:
``--system-site-packages`` plus a ``.pth`` file naming this interpreter's site-packages, so that
inside a virtual environment its packages are seen, not only the base interpreter's) and
everything is installed with ``--no-deps --no-index``: TensorFlow and the other dependencies come
from this Python, so nothing is downloaded. (A truly fresh environment, ``python3 -m venv v && v/bin/pip install .``,
downloads them from PyPI; that is done by hand, see README "Quick start".)
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, parity_plugin

#: What a wheel is built from: the packaging inputs of the checkout, nothing else.
SOURCES = ("pyproject.toml", "README.md", "suite", "tasks", "suites", "templates")

PLUGIN_PYPROJECT = '''
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1"
dependencies = ["rnn-gradient-suite"]

[project.entry-points."rnn_suite.tasks"]
{name} = "{module}:TASK"

[tool.setuptools]
py-modules = ["{module}"]
'''
TINY = ["--set", "steps=4", "--set", "eval_every=2", "--set", "probe_every=2", "--set", "hidden=4",
        "--set", "batch_size=8", "--set", "eval_size=16"]


def _run(args: list, cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _wheel(src: Path, dist: Path) -> Path:
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src],
         cwd=src)
    return max(dist.glob("*.whl"), key=lambda p: p.stat().st_mtime)


def _plugin(tmp: Path, dist_name: str, name: str) -> Path:
    """A plugin package declaring entry point ``name`` in ``rnn_suite.tasks``, built as a wheel."""
    module = name + "_plugin"
    src = tmp / dist_name
    src.mkdir()
    (src / "pyproject.toml").write_text(PLUGIN_PYPROJECT.format(dist=dist_name, name=name, module=module))
    (src / f"{module}.py").write_text(parity_plugin(name))
    return _wheel(src, tmp / "dist")


def _venv_like_this(venv: Path, cwd: Path) -> Path:
    """A virtual environment whose Python sees every package the running Python sees.

    ``python -m venv --system-site-packages`` inherits the *base* interpreter's
    packages: run inside a virtual environment, the tests' own packages (pandas,
    TensorFlow, pip) would be missing. A ``.pth`` file in the new environment names
    this interpreter's site-packages folders, after the environment's own (what is
    installed there wins).

    Returns:
        The environment's ``python``.
    """
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], cwd=cwd)
    python = venv / "bin" / "python"
    own = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd).stdout.strip())
    seen = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]
    (own / "_tests_running_python.pth").write_text("".join(f"{p}\n" for p in seen))
    return python


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The suite's wheel, built from a copy of the checkout's packaging inputs."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy(ROOT / name, src / name)
    return _wheel(src, tmp / "dist")


def test_the_wheel_carries_every_module_task_suite_file_and_template(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"suite/{p.relative_to(ROOT / 'suite')}" for p in (ROOT / "suite").rglob("*.py")}
    for folder, packaged in (("tasks", "_tasks"), ("suites", "_suites"), ("templates", "_templates")):
        expected |= {f"suite/{packaged}/{p.relative_to(ROOT / folder)}" for p in (ROOT / folder).rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts}
    assert expected - names == set(), "missing from the wheel (pyproject.toml [tool.setuptools])"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "rnn-suite = suite.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_package_dependencies_are_the_pinned_requirements():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = [re.sub(r"\s*#.*", "", line).strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert sorted(declared) == sorted(p for p in pinned if p)


def test_installed_suite_runs_from_another_directory_with_a_plugin_package(wheel, tmp_path):
    """pip install of the wheel and a plugin package, then ``rnn-suite`` outside the checkout."""
    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    python, command = _venv_like_this(venv, tmp_path), venv / "bin" / "rnn-suite"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what is installed
    plugin = _plugin(tmp_path, "parity-plugin", "parity_ep")
    # the running Python's pip, run by the environment's Python, installs into the environment
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, plugin], work, env)
    where = _run([python, "-c", "import suite.api, suite.env as e, suite.execution.ray_executor as r; "
                  "print(e.TASKS_DIR, e.CHECKOUT, sorted(r.runtime_env()))"], work, env)
    assert where.stdout.split() == [str(next(venv.glob("lib/python*/site-packages")) / "suite" / "_tasks"),
                                    "False", "['env_vars']"]  # Ray would not upload site-packages
    assert "rnn-suite report [" in _run([command, "--help"], work, env).stdout
    listed = _run([command, "tasks"], work, env).stdout
    assert "adding (version 1)" in listed and "char_lm" in listed
    assert "parity_ep (version 1) from entry point parity_ep = parity_ep_plugin:TASK of parity-plugin 0.1" \
        in listed
    # a plugin installed with --target (and --no-deps, or pip would install the suite there too)
    target = tmp_path / "target"
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", target,
          _plugin(tmp_path, "other-plugin", "other_ep")], work, env)
    assert "other_ep (version 1)" in _run([command, "tasks"], work, {**env, "PYTHONPATH": str(target)}).stdout
    # a tiny suite: the built-in suite file, its default output folder under ./reports, the report
    ran = _run([command, "--suite", "quick", "--only", "study=cells,task=adding,cell=gru,seed=0", *TINY],
               work, env)
    assert "ran 1 run(s) (1 ok)" in ran.stdout, ran.stdout
    assert (work / "reports" / "quick" / "index.html").is_file()
