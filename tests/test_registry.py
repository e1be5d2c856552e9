"""Task discovery: tasks/, entry points (a real dist-info), --tasks-path folders (plugins,
helpers, packages), the one naming rule, origins, and finding a stored result set's tasks."""
from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import parity_plugin

from suite.api import SuiteError
from suite.registry import BUILTIN_DIR, discover, find_stored_tasks, load_plugins


def good(name: str) -> str:
    """The test plugin task (conftest.parity_plugin) named ``name``, 8 bits by default."""
    return parity_plugin(name, seq_len=8)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_builtin_tasks_are_discovered():
    found = discover(entry_points=False)
    assert {"adding", "copy_memory", "char_lm"} <= set(found)
    assert {p.stem for p in BUILTIN_DIR.glob("*.py") if not p.name.startswith("_")} == set(found)


def test_tasks_path(tmp_path):
    write(tmp_path, "parity", good("parity"))
    found = discover([tmp_path], entry_points=False)
    assert found["parity"].chance_loss({}) == pytest.approx(0.693, abs=1e-3)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Installs a distribution ``parity-pkg 0.1`` declaring entry point ``parity_ep`` (a real
    dist-info on sys.path); ``installed(task_name)`` sets the name its TASK declares."""
    site = tmp_path / "site"

    def install(task_name: str = "parity_ep") -> Path:
        write(site / "parity_pkg", "__init__", "")
        write(site / "parity_pkg", "plugin", good(task_name))
        dist = site / "parity_pkg-0.1.dist-info"
        dist.mkdir(exist_ok=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: parity-pkg\nVersion: 0.1\n")
        (dist / "entry_points.txt").write_text("[rnn_suite.tasks]\nparity_ep = parity_pkg.plugin:TASK\n")
        monkeypatch.syspath_prepend(str(site))
        importlib.invalidate_caches()
        return site

    yield install
    sys.modules.pop("parity_pkg.plugin", None)
    sys.modules.pop("parity_pkg", None)


def test_entry_point_from_installed_distribution(installed):
    site = installed()
    found = load_plugins()
    assert found["parity_ep"].task.head({}).units == 2
    assert found["parity_ep"].origin.as_dict() == {
        "kind": "entry_point", "entry_point": "parity_ep = parity_pkg.plugin:TASK",
        "distribution": "parity-pkg", "version": "0.1",
        "file": str(site / "parity_pkg" / "plugin.py")}


def test_an_entry_points_task_is_named_after_the_entry_point(installed):
    """The one naming rule: for an entry point, TASK.name is the entry point's name."""
    installed("parity")  # the module is parity_pkg.plugin, the entry point parity_ep
    with pytest.raises(SuiteError) as err:
        discover()
    text = str(err.value)
    assert "TASK.name is 'parity' but the entry point is named 'parity_ep'" in text
    assert "entry point parity_ep = parity_pkg.plugin:TASK of parity-pkg 0.1" in text
    assert "module" not in text


@pytest.mark.parametrize("body, message", [
    ("def broken(:\n", "failed to import: SyntaxError"),
    ("import not_a_module_anywhere\n", "failed to import: ModuleNotFoundError"),
    ("X = 1\n", "defines no TASK"),
    ("TASK = object()\n", "does not satisfy the Task protocol: missing attribute 'name'"),
])
def test_broken_plugin_fails_with_its_name(tmp_path, body, message):
    write(tmp_path, "bad_plugin", body)
    with pytest.raises(SuiteError) as err:
        discover([tmp_path], entry_points=False)
    text = str(err.value)
    assert "'bad_plugin'" in text and message in text and "\n" not in text


def test_name_must_match_module(tmp_path):
    write(tmp_path, "parity", good("other"))
    with pytest.raises(SuiteError, match="TASK.name is 'other' but the module is named 'parity'"):
        discover([tmp_path], entry_points=False)


def test_name_clash_is_an_error_naming_both_origins(tmp_path):
    """A second task of a name is never an override: both files are named."""
    write(tmp_path, "adding", good("adding"))
    with pytest.raises(SuiteError) as err:
        discover([tmp_path], entry_points=False)
    assert str(tmp_path / "adding.py") in str(err.value)
    assert str(BUILTIN_DIR / "adding.py") in str(err.value) and "unique" in str(err.value)


def test_missing_tasks_path(tmp_path):
    with pytest.raises(SuiteError, match="not a directory"):
        discover([tmp_path / "nope"], entry_points=False)


HELPED = '''
from _shared import Base          # a helper module beside the plugin
class Parity(Base):
    name = "{name}"
TASK = Parity()
'''


def test_a_plugin_imports_a_helper_beside_it(tmp_path):
    """``_*.py`` files are helpers: importable by the plugins, never loaded as plugins."""
    write(tmp_path, "_shared", good("unused").replace("class Parity:", "class Base:")
          .replace("TASK = Parity()", ""))
    write(tmp_path, "parity_h", HELPED.format(name="parity_h"))
    found = load_plugins([tmp_path], entry_points=False)
    assert "parity_h" in found and "_shared" not in found
    assert found["parity_h"].task.chance_loss({}) == pytest.approx(0.693, abs=1e-3)
    assert found["parity_h"].origin.as_dict() == {
        "kind": "folder", "file": str(tmp_path / "parity_h.py"), "folder": str(tmp_path)}
    sys.modules.pop("_shared", None)


def test_a_module_without_task_names_the_helper_rule(tmp_path):
    write(tmp_path, "helpers", "X = 1\n")
    with pytest.raises(SuiteError, match="'helpers'.*defines no TASK.*name helper modules '_NAME.py'"):
        discover([tmp_path], entry_points=False)


def test_a_package_folder_is_a_plugin_and_other_folders_are_ignored(tmp_path):
    pkg = tmp_path / "parity_pkg_task"
    write(pkg, "_data", "SEQ_LEN = 8\n")
    write(pkg, "__init__", good("parity_pkg_task").replace(
        "import math", "import math\nfrom ._data import SEQ_LEN") .replace('{"seq_len": 8}', '{"seq_len": SEQ_LEN}'))
    write(tmp_path / "data", "notes", "this folder has no __init__.py: ignored\n")
    write(tmp_path / "_private", "__init__", "raise RuntimeError('a helper package is never a plugin')\n")
    found = load_plugins([tmp_path], entry_points=False)
    assert "parity_pkg_task" in found and "data" not in found and "_private" not in found
    assert found["parity_pkg_task"].task.params == {"seq_len": 8}
    assert found["parity_pkg_task"].origin.file == str(pkg / "__init__.py")


def test_a_stored_result_sets_tasks_are_found_where_they_came_from(tmp_path):
    write(tmp_path / "plugins", "parity", good("parity"))
    origin = {"kind": "folder", "file": str(tmp_path / "plugins" / "parity.py"),
              "folder": str(tmp_path / "plugins")}
    manifest = {"tasks_paths": [], "task_origins": {"parity": origin}}
    paths, plugins = find_stored_tasks({"parity", "adding"}, manifest)
    assert paths == [str(tmp_path / "plugins")] and {"parity", "adding"} <= set(plugins)
    (tmp_path / "plugins").rename(tmp_path / "moved")
    with pytest.raises(SuiteError) as err:
        find_stored_tasks({"parity"}, manifest)
    assert str(err.value) == (f"task 'parity' is not available here: it came from {origin['file']} in "
                              f"the --tasks-path folder {origin['folder']}, which does not exist here; "
                              f"pass --tasks-path DIR with the folder that has it")
    assert "parity" in find_stored_tasks({"parity"}, manifest, [tmp_path / "moved"])[1]


@pytest.mark.parametrize("origin, needle", [
    ({"kind": "entry_point", "entry_point": "to = to_pkg:TASK", "distribution": "to-pkg", "version": "2.0"},
     "entry point to = to_pkg:TASK of to-pkg 2.0, which is not installed here"),
    (None, "does not record where it came from"),
])
def test_a_missing_stored_task_says_where_it_came_from(origin, needle):
    manifest = {"task_origins": {"to": origin} if origin else {}}
    with pytest.raises(SuiteError, match=needle):
        find_stored_tasks({"to"}, manifest)
