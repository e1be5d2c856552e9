"""Task discovery: tasks/, entry points (a real dist-info), --tasks-path, broken plugins."""
from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from suite.api import SuiteError
from suite.registry import BUILTIN_DIR, discover

GOOD = '''
"""Parity (Minsky & Papert 1969): chance loss ln 2 (predict 1/2)."""
import math
import numpy as np
from suite.api import Head, InputSpec, seeded_rng

class Parity:
    name = "{name}"
    version = "1"
    params = {{"seq_len": 8}}
    primary_metric = "acc"
    higher_is_better = True
    def validate(self, params): pass
    def input_spec(self, params): return InputSpec(features=1)
    def head(self, params): return Head(units=2, per_step=False, loss="ce")
    def make_data(self, split, size, seed, params):
        rng = seeded_rng(seed, split)
        x = rng.integers(0, 2, (size, params["seq_len"], 1)).astype("float32")
        return x, (x.sum((1, 2)) % 2).astype("int32")
    def chance_loss(self, params): return math.log(2)
    def metrics(self, y_true, y_pred, params):
        return {{"acc": float((np.argmax(y_pred, -1) == y_true).mean())}}
    def describe(self, params): return {{}}

TASK = Parity()
'''


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
    write(tmp_path, "parity", GOOD.format(name="parity"))
    found = discover([tmp_path], entry_points=False)
    assert found["parity"].chance_loss({}) == pytest.approx(0.693, abs=1e-3)


def test_entry_point_from_installed_distribution(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write(site / "parity_pkg", "__init__", "")
    write(site / "parity_pkg", "plugin", GOOD.format(name="parity_ep"))
    dist = site / "parity_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: parity-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[rnn_suite.tasks]\nparity_ep = parity_pkg.plugin:TASK\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    found = discover()
    assert "parity_ep" in found
    assert found["parity_ep"].head({}).units == 2
    sys.modules.pop("parity_pkg.plugin", None)
    sys.modules.pop("parity_pkg", None)


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
    write(tmp_path, "parity", GOOD.format(name="other"))
    with pytest.raises(SuiteError, match="TASK.name is 'other' but the module is 'parity'"):
        discover([tmp_path], entry_points=False)


def test_name_clash_is_an_error(tmp_path):
    write(tmp_path, "adding", GOOD.format(name="adding"))
    with pytest.raises(SuiteError, match="clashes"):
        discover([tmp_path], entry_points=False)


def test_missing_tasks_path(tmp_path):
    with pytest.raises(SuiteError, match="not a directory"):
        discover([tmp_path / "nope"], entry_points=False)
