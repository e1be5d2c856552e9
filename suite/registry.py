"""Task discovery: built-in ``tasks/``, installed entry points, and ``--tasks-path``.

Sources, in order (a later source may not reuse a name an earlier one took):

1. every ``*.py`` module in the project's ``tasks/`` folder (not starting with
   ``_``);
2. every entry point in the group ``rnn_suite.tasks`` of installed
   distributions (``name = "package.module:TASK"`` or ``"package.module"``,
   whose ``TASK`` attribute is used);
3. every ``*.py`` module in each folder given with ``--tasks-path``.

Loading is eager and strict: a module that fails to import, has no ``TASK``,
or whose ``TASK`` does not satisfy :class:`suite.api.Task` raises
:class:`suite.api.SuiteError` with one line naming the plugin. Optional members
(:data:`suite.api.OPTIONAL_MEMBERS`) may be absent: the suite applies their
defaults. Nothing is ever loaded from anywhere else.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from typing import Any, Iterable

from suite.api import SuiteError, Task, check_task

ENTRY_POINT_GROUP = "rnn_suite.tasks"
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "tasks"


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _validate(obj: Any, name: str, origin: str) -> Task:
    problems = check_task(obj, name)
    if problems:
        raise SuiteError(f"task plugin '{name}' ({origin}) does not satisfy the Task protocol: "
                         + "; ".join(problems))
    return obj


def load_module_file(path: Path) -> Task:
    """Imports one plugin file and returns its validated ``TASK``.

    Args:
        path: A ``.py`` file; the module name is the file stem.

    Raises:
        SuiteError: naming the module if it fails to import or has no valid TASK.
    """
    name = path.stem
    mod_name = f"rnn_suite_plugins.{name}"
    try:
        spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 - any import failure is the plugin's
        sys.modules.pop(mod_name, None)
        raise SuiteError(f"task plugin '{name}' ({path}) failed to import: {_one_line(err)}") from None
    if not hasattr(module, "TASK"):
        raise SuiteError(f"task plugin '{name}' ({path}) defines no TASK object")
    return _validate(module.TASK, name, str(path))


def _scan(folder: Path) -> Iterable[Path]:
    if not folder.is_dir():
        raise SuiteError(f"--tasks-path '{folder}' is not a directory")
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))


def _entry_point_tasks() -> Iterable[tuple[str, Task, str]]:
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        origin = f"entry point {ep.value}"
        try:
            obj = ep.load()
        except Exception as err:  # noqa: BLE001
            raise SuiteError(f"task plugin '{ep.name}' ({origin}) failed to import: "
                             f"{_one_line(err)}") from None
        if not hasattr(obj, "make_data") and hasattr(obj, "TASK"):
            obj = obj.TASK
        yield ep.name, _validate(obj, ep.name, origin), origin


def discover(tasks_paths: Iterable[str | Path] = (), builtin_dir: Path = BUILTIN_DIR,
             entry_points: bool = True) -> dict[str, Task]:
    """Finds and loads every task.

    Args:
        tasks_paths: Extra folders of plugin modules (``--tasks-path``).
        builtin_dir: The built-in folder (default: the project's ``tasks/``).
        entry_points: Whether to load the ``rnn_suite.tasks`` entry points.

    Returns:
        Task name -> TASK object, in discovery order.

    Raises:
        SuiteError: a broken plugin or a name claimed twice.
    """
    found: dict[str, Task] = {}
    origins: dict[str, str] = {}

    def add(name: str, task: Task, origin: str) -> None:
        if name in found:
            raise SuiteError(f"task plugin '{name}' ({origin}) clashes with the task of the "
                             f"same name from {origins[name]}")
        found[name], origins[name] = task, origin

    for path in _scan(builtin_dir):
        add(path.stem, load_module_file(path), str(path))
    if entry_points:
        for name, task, origin in _entry_point_tasks():
            add(name, task, origin)
    for folder in tasks_paths:
        for path in _scan(Path(folder)):
            add(path.stem, load_module_file(path), str(path))
    return found
