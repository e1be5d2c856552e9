"""Task discovery: built-in tasks, installed entry points, and ``--tasks-path`` folders.

Sources, in this order; a name may be taken only once (a second task of the
same name is an error naming both origins, never an override):

1. the built-in tasks: every ``*.py`` module of the project's ``tasks/`` folder
   (:data:`suite.env.TASKS_DIR`) whose name does not start with ``_``;
2. every entry point in the group ``rnn_suite.tasks`` of the installed
   distributions (``name = "package.module:TASK"``, or ``"package.module"``
   whose ``TASK`` attribute is used);
3. each ``--tasks-path`` folder (:func:`scan_folder`): every ``NAME.py`` and
   every package folder ``NAME/__init__.py`` whose name does not start with
   ``_`` or ``.`` is a plugin; ``_*.py`` files and ``_*`` folders are helpers
   the plugins import (the folder is on ``sys.path`` while they are imported,
   and after); other folders are ignored.

**Names** (one rule for every source): a task's name is the name it is loaded
under -- the module's name (file stem or package folder) for ``tasks/`` and
``--tasks-path``, the entry point's name for an entry point -- and ``TASK.name``
must equal it.

Loading is eager and strict: a plugin that fails to import, has no ``TASK``,
or whose ``TASK`` does not satisfy :class:`suite.api.Task` raises
:class:`suite.api.SuiteError` with one line naming it and its origin.
Optional members (:data:`suite.api.OPTIONAL_MEMBERS`) may be absent: the
suite applies their defaults. Nothing is ever loaded from anywhere else.
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Mapping

from suite.api import SuiteError, Task, check_task
from suite.env import TASKS_DIR

ENTRY_POINT_GROUP = "rnn_suite.tasks"
#: The built-in tasks' folder (the checkout's ``tasks/``, or the installed package data).
BUILTIN_DIR = TASKS_DIR
#: Parent name of the modules loaded from files (``rnn_suite_plugins.NAME``).
MODULE_PREFIX = "rnn_suite_plugins"


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a task came from; stored in the suite manifest (``task_origins``).

    Attributes:
        kind: ``builtin`` (the project's ``tasks/``), ``entry_point`` or ``folder``
            (a ``--tasks-path`` folder).
        file: The module's file (a package's ``__init__.py``), or None if unknown.
        folder: The ``--tasks-path`` folder (absolute), for ``folder`` only.
        entry_point: ``name = value`` of the entry point, for ``entry_point`` only.
        distribution: The installed distribution that declares the entry point.
        version: That distribution's version.
    """

    kind: Literal["builtin", "entry_point", "folder"]
    file: str | None = None
    folder: str | None = None
    entry_point: str | None = None
    distribution: str | None = None
    version: str | None = None

    def describe(self) -> str:
        """A short phrase for messages: the file, or the entry point and its distribution."""
        if self.kind == "entry_point":
            return (f"entry point {self.entry_point} of {self.distribution} {self.version}"
                    + (f", {self.file}" if self.file else ""))
        return str(self.file)

    def as_dict(self) -> dict[str, str]:
        """The fields that are set, for JSON."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclasses.dataclass(frozen=True)
class Plugin:
    """A loaded task and where it came from."""

    name: str
    task: Task
    origin: Origin


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _validate(obj: Any, name: str, where: str, loaded_as: str) -> Task:
    problems = check_task(obj, name, loaded_as)
    if problems:
        raise SuiteError(f"task plugin '{name}' ({where}) does not satisfy the Task protocol: "
                         + "; ".join(problems))
    return obj


def _import_file(mod_name: str, path: Path, package_dir: Path | None) -> Any:
    """Executes ``path`` as module ``mod_name`` (a package when ``package_dir`` is given)."""
    spec = importlib.util.spec_from_file_location(
        mod_name, path, submodule_search_locations=[str(package_dir)] if package_dir else None)
    if spec is None or spec.loader is None:
        raise SuiteError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


def load_module_file(path: Path, folder: Path | None = None) -> Task:
    """Imports one plugin (``NAME.py`` or ``NAME/__init__.py``) and returns its validated ``TASK``.

    The module is imported as ``rnn_suite_plugins.NAME`` (a package for
    ``__init__.py``, so its own modules import relatively: ``from . import x``).

    Args:
        path: The plugin's file; its name is the file stem (the folder's name
            for an ``__init__.py``).
        folder: The folder put first on ``sys.path`` while it is imported (its
            helpers import by name) and kept at the end of it afterwards;
            default None: the file's own folder.

    Raises:
        SuiteError: naming the plugin if it fails to import or has no valid TASK.
    """
    path = Path(path).resolve()
    package = path.name == "__init__.py"
    name = path.parent.name if package else path.stem
    mod_name = f"{MODULE_PREFIX}.{name}"
    home = str(Path(folder).resolve() if folder else (path.parent.parent if package else path.parent))
    sys.path.insert(0, home)
    try:
        module = _import_file(mod_name, path, path.parent if package else None)
    except (Exception, SystemExit) as err:  # noqa: BLE001 - any import failure is the plugin's
        sys.modules.pop(mod_name, None)
        raise SuiteError(f"task plugin '{name}' ({path}) failed to import: {_one_line(err)}") from None
    finally:
        sys.path.remove(home)
        if home not in sys.path:
            sys.path.append(home)  # helpers imported later (inside a function) still resolve
    if not hasattr(module, "TASK"):
        raise SuiteError(f"task plugin '{name}' ({path}) defines no TASK object (every module of "
                         f"a --tasks-path folder not starting with '_' is a plugin; name helper "
                         f"modules '_NAME.py')")
    return _validate(module.TASK, name, str(path), "module")


def scan_folder(folder: Path) -> list[Path]:
    """The plugin files of a ``--tasks-path`` folder, sorted by name.

    ``NAME.py`` files and ``NAME/__init__.py`` of package folders, where NAME
    does not start with ``_`` or ``.``; ``_*`` files and folders are helpers,
    other folders (no ``__init__.py``) are ignored.

    Raises:
        SuiteError: the folder does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SuiteError(f"--tasks-path '{folder}' is not a directory")
    found = []
    for entry in folder.iterdir():
        if entry.name.startswith(("_", ".")):
            continue
        if entry.is_file() and entry.suffix == ".py":
            found.append(entry)
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            found.append(entry / "__init__.py")
    return sorted(found, key=lambda p: p.parent.name if p.name == "__init__.py" else p.stem)


def _plugin_name(path: Path) -> str:
    return path.parent.name if path.name == "__init__.py" else path.stem


def _builtin(folder: Path) -> Iterator[Plugin]:
    for path in sorted(Path(folder).glob("*.py")):
        if not path.name.startswith("_"):
            yield Plugin(path.stem, load_module_file(path), Origin("builtin", file=str(path.resolve())))


def _entry_points() -> Iterator[Plugin]:
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        origin = Origin("entry_point", entry_point=f"{ep.name} = {ep.value}",
                        distribution=dist.metadata["Name"] if dist else None,
                        version=dist.version if dist else None)
        try:
            obj = ep.load()
        except (Exception, SystemExit) as err:  # noqa: BLE001 - any import failure is the plugin's
            raise SuiteError(f"task plugin '{ep.name}' ({origin.describe()}) failed to import: "
                             f"{_one_line(err)}") from None
        if not hasattr(obj, "make_data") and hasattr(obj, "TASK"):
            obj = obj.TASK
        task = _validate(obj, ep.name, origin.describe(), "entry point")
        try:
            file = inspect.getsourcefile(type(task))
        except TypeError:
            file = None
        yield Plugin(ep.name, task, dataclasses.replace(origin, file=file))


def _folder(folder: Path) -> Iterator[Plugin]:
    home = Path(folder).resolve()
    for path in scan_folder(folder):
        origin = Origin("folder", file=str(path.resolve()), folder=str(home))
        yield Plugin(_plugin_name(path), load_module_file(path, home), origin)


def load_plugins(tasks_paths: Iterable[str | Path] = (), builtin_dir: Path = BUILTIN_DIR,
                 entry_points: bool = True) -> dict[str, Plugin]:
    """Finds and loads every task, with where each came from.

    Args:
        tasks_paths: Extra folders of plugins (``--tasks-path``); default none.
        builtin_dir: The built-in folder; default :data:`BUILTIN_DIR`.
        entry_points: Whether to load the ``rnn_suite.tasks`` entry points; default True.

    Returns:
        Task name -> :class:`Plugin`, in discovery order.

    Raises:
        SuiteError: a broken plugin, or a name claimed twice (both origins named).
    """
    found: dict[str, Plugin] = {}
    sources = [_builtin(builtin_dir), *([_entry_points()] if entry_points else []),
               *(_folder(Path(f)) for f in tasks_paths)]
    for source in sources:
        for plugin in source:
            if plugin.name in found:
                raise SuiteError(f"task plugin '{plugin.name}' ({plugin.origin.describe()}) has "
                                 f"the name of the task from {found[plugin.name].origin.describe()}; "
                                 f"task names must be unique (rename one)")
            found[plugin.name] = plugin
    return found


def discover(tasks_paths: Iterable[str | Path] = (), builtin_dir: Path = BUILTIN_DIR,
             entry_points: bool = True) -> dict[str, Task]:
    """Finds and loads every task (:func:`load_plugins` without the origins).

    Args:
        tasks_paths: Extra folders of plugins (``--tasks-path``); default none.
        builtin_dir: The built-in folder; default :data:`BUILTIN_DIR`.
        entry_points: Whether to load the ``rnn_suite.tasks`` entry points; default True.

    Returns:
        Task name -> TASK object, in discovery order.

    Raises:
        SuiteError: a broken plugin or a name claimed twice.
    """
    return {name: p.task for name, p in load_plugins(tasks_paths, builtin_dir, entry_points).items()}


def remembered_paths(manifest: Mapping[str, Any]) -> list[str]:
    """The plugin folders a result set was made with: its ``tasks_paths`` and the folders of
    its ``task_origins`` (see :class:`suite.store.schema.Manifest`), each once, in that order."""
    folders = [o.get("folder") for o in (manifest.get("task_origins") or {}).values()]
    paths = [*(manifest.get("tasks_paths") or []), *filter(None, folders)]
    return list(dict.fromkeys(str(p) for p in paths))


def _missing(name: str, origin: Mapping[str, Any] | None) -> str:
    """Why task ``name`` of a stored result set cannot be found, and what to do."""
    if not origin:
        return (f"task '{name}' is not available here and the result set does not record where "
                f"it came from; pass --tasks-path DIR with the folder that has it")
    if origin.get("kind") == "folder":
        folder = Path(origin.get("folder", ""))
        state = "no longer has it" if folder.is_dir() else "does not exist here"
        return (f"task '{name}' is not available here: it came from {origin.get('file')} in the "
                f"--tasks-path folder {folder}, which {state}; pass --tasks-path DIR with the folder "
                f"that has it")
    if origin.get("kind") == "entry_point":
        return (f"task '{name}' is not available here: it came from the entry point "
                f"{origin.get('entry_point')} of {origin.get('distribution')} {origin.get('version')}, "
                f"which is not installed here; install it or pass --tasks-path DIR")
    return (f"task '{name}' is not available here: it was a built-in task ({origin.get('file')}) "
            f"of the suite that made the result set, and this one has no such task")


def find_stored_tasks(names: Iterable[str], manifest: Mapping[str, Any],
                      tasks_paths: Iterable[str | Path] = ()) -> tuple[list[str], dict[str, Plugin]]:
    """Loads the tasks a stored result set needs, from where it says they came from.

    Args:
        names: The task names needed (e.g. those of the runs to rerun).
        manifest: The result set's ``suite.json`` (:class:`suite.store.schema.Manifest`).
        tasks_paths: Plugin folders given on the command line; default none: the
            folders the manifest remembers (:func:`remembered_paths`) that exist.

    Returns:
        (the plugin folders used, as absolute paths; task name -> :class:`Plugin`).

    Raises:
        SuiteError: one line naming the first missing task and where it came from.
    """
    given = [str(Path(p).resolve()) for p in tasks_paths]
    paths = given or [p for p in remembered_paths(manifest) if Path(p).is_dir()]
    plugins = load_plugins(paths)
    for name in sorted(set(names)):
        if name not in plugins:
            raise SuiteError(_missing(name, (manifest.get("task_origins") or {}).get(name)))
    return paths, plugins
