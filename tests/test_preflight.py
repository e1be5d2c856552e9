"""The pre-flight check (suite/preflight.py): a plugin's run-time faults stop the suite before
anything is written -- exit 2, one line naming the plugin and its file, no traceback, no output
directory (issue #13) -- and what it accepts is what the model and losses accept."""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import parity_plugin, run_cli

from suite.api import Head, SuiteError
from suite.preflight import Fault, check_task_data, distinct_params, preflight, target_shapes
from suite.registry import BUILTIN_DIR

#: A correct plugin (parity, last-step cross-entropy); each fault below changes one line of it.
PLUGIN = parity_plugin("faulty")

#: Fault class of issue #13 -> (line of PLUGIN, its faulty replacement, words of the message).
FAULTS = {
    "x of the wrong rank": (
        'return x, y', 'return x[..., None], y',
        ["x is float32 of shape (4, 6, 1, 1)", "must be float32 of shape (4, 6, 1)"]),
    "y of shape (N, 1) for a last-step head": (
        'return x, y', 'return x, y[:, None]',
        ["y is int32 of shape (4, 1)", "class ids in [0, 2) of shape (4,)", "last step"]),
    "the wrong number of examples": (
        'return x, y', 'return x[:size - 1], y[:size - 1]',
        ["returned 3 example(s) of x and 3 of y", "exactly 4"]),
    "a NaN chance loss": (
        'def chance_loss(self, params): return math.log(2)',
        'def chance_loss(self, params): return float("nan")',
        ["chance_loss() returned nan", "finite number > 0"]),
    "make_data raising": (
        'rng = seeded_rng(seed, split)', 'raise RuntimeError("no data today")',
        ["make_data('train', 4, 0, params) raised RuntimeError: no data today"]),
}

SUITE = '''
name = "pf"
[defaults]
steps = 2
[[study]]
name = "s"
question = "does the plugin run?"
tasks = ["faulty"]
'''


@pytest.mark.parametrize("case", list(FAULTS))
def test_a_runtime_fault_stops_the_suite_before_anything_is_written(tmp_path, case):
    line, faulty, needles = FAULTS[case]
    assert PLUGIN.count(line) == 1
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "faulty.py").write_text(PLUGIN.replace(line, faulty))
    (tmp_path / "pf.toml").write_text(SUITE)
    out = tmp_path / "out"
    proc = run_cli("--suite", str(tmp_path / "pf.toml"), "--tasks-path", str(plugins), "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: task 'faulty' ({plugins / 'faulty.py'}): "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr and not out.exists()


def _plugin_task(tmp_path, line: str = "", faulty: str = ""):
    from suite.registry import load_module_file

    path = tmp_path / "faulty.py"
    path.write_text(PLUGIN.replace(line, faulty) if line else PLUGIN)
    return load_module_file(path)


def test_the_correct_plugin_and_the_built_in_tasks_pass(tmp_path, tasks):
    check_task_data(_plugin_task(tmp_path), {"seq_len": 6})
    for task in tasks.values():
        check_task_data(task, {**task.params, "seq_len": 12})


@pytest.mark.parametrize("line, faulty, needle", [
    ("rng = seeded_rng(seed, split)", "rng = np.random.default_rng()",
     "a second call with the same seed returned different arrays"),
    ('.astype("float32")', '.astype("float64")', "x is float64 of shape (4, 6, 1)"),
    ("return x, y", "x[0, 0, 0] = np.inf\n        return x, y", "x has 1 non-finite value(s)"),
    ("return x, y", "return x[:, :-1], y", "x has 5 time steps but the task's sequence length is 6"),
    ("return x, y", "return list(x), y", "x: list, y: ndarray; both must be NumPy arrays"),
    ("return x, y", "return x, y + 2", "y has class ids from 2 to 3"),
    ('return {"acc"', 'return {"accuracy"', "metrics() returned no 'acc' (the primary_metric)"),
    ("float((np.argmax", "float('nan') * float((np.argmax", "acc=nan"),
    ("def describe(self, params): return {}", "def describe(self, params): return {'f': open}",
     "describe() must return a JSON-serialisable dict"),
    ('loss="ce"', 'loss="hinge"', "the loss must be one of mse, ce, ce_bits"),
    ("return InputSpec(features=1)", "return (1,)", "input_spec() returned tuple, not suite.api.InputSpec"),
])
def test_each_declared_property_is_checked(tmp_path, line, faulty, needle):
    task = _plugin_task(tmp_path, line, faulty)
    with pytest.raises(Fault) as err:
        check_task_data(task, {"seq_len": 6})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_token_inputs_must_stay_inside_the_vocabulary(tasks):
    class OutOfVocab(type(tasks["copy_memory"])):
        def make_data(self, split, size, seed, params):
            x, y = super().make_data(split, size, seed, params)
            return x + 1, y  # the delimiter 9 becomes 10 = vocab

    with pytest.raises(Fault, match=r"x has token ids from 1 to 10; it must be integer token ids"):
        check_task_data(OutOfVocab(), dict(tasks["copy_memory"].params))


@pytest.mark.parametrize("head, shapes", [
    (Head(units=1, per_step=False, loss="mse"), [(4, 1), (4,)]),
    (Head(units=3, per_step=False, loss="mse"), [(4, 3)]),
    (Head(units=1, per_step=True, loss="mse"), [(4, 7, 1), (4, 7)]),
    (Head(units=5, per_step=False, loss="ce"), [(4,)]),
    (Head(units=5, per_step=True, loss="ce_bits"), [(4, 7)]),
])
def test_target_shapes_are_those_the_losses_accept(head, shapes):
    """The accepted shapes are exactly those both the Keras loss of training and the NumPy loss
    of the evaluation compute with (tried: the accepted ones, and a wrong last axis)."""
    from suite.model.losses import keras_loss, numpy_loss

    assert target_shapes(head, 4, 7) == shapes
    pred = np.zeros((4, 7, head.units) if head.per_step else (4, head.units), "float32")
    lead = (4, 7) if head.per_step else (4,)
    for shape in {*shapes, lead + (1,), lead + (head.units,)}:
        y = np.zeros(shape, "int32" if head.loss != "mse" else "float32")
        try:
            ok = math.isfinite(numpy_loss(head.loss, y, pred)) and math.isfinite(
                float(np.mean(keras_loss(head.loss)(y, pred))))
        except Exception:  # noqa: BLE001 - NumPy's ValueError or TensorFlow's InvalidArgumentError
            ok = False
        assert ok == (shape in shapes), shape


def test_preflight_checks_each_distinct_parameter_set_and_names_the_origin(tasks):
    runs = {"a": {"task": "adding", "task_params": {"seq_len": 10}},
            "b": {"task": "adding", "task_params": {"seq_len": 10}},
            "c": {"task": "adding", "task_params": {"seq_len": 20}}}
    assert [p for _, p in distinct_params(runs)] == [{"seq_len": 10}, {"seq_len": 20}]
    assert preflight(runs, tasks) == 2

    class Broken(type(tasks["adding"])):
        def chance_loss(self, params):
            return -1.0

    with pytest.raises(SuiteError) as err:
        preflight(runs, {"adding": Broken()}, {"adding": "/somewhere/adding.py"})
    assert str(err.value) == ("task 'adding' (/somewhere/adding.py): chance_loss() returned -1.0; it "
                              "must be a finite number > 0 [parameters: seq_len=10]")


def test_the_quick_suites_preflight_is_cheap(tasks):
    import time

    from suite.suite_file import load_suite

    suite = load_suite("quick", tasks)
    t0 = time.perf_counter()
    checked = preflight(suite.runs, tasks)
    assert checked == len(distinct_params(suite.runs)) >= 3
    assert time.perf_counter() - t0 < 2.0  # measured: 0.13 to 0.4 s on the 2-core machine


def test_tasks_lists_the_origin_and_the_check_at_defaults(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "faulty.py").write_text(PLUGIN.replace(*FAULTS["a NaN chance loss"][:2]))
    proc = run_cli("tasks", "--tasks-path", str(plugins))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert f"faulty (version 1) from {plugins / 'faulty.py'}" in text
    assert "pre-flight check at defaults: FAILED: chance_loss() returned nan" in text
    assert "chance loss at defaults: unavailable" in text  # not "nan", as if it were a level
    builtin = [p for p in BUILTIN_DIR.glob("*.py") if not p.name.startswith("_")]
    assert len(builtin) >= 4  # adding, copy_memory, char_lm, impulse
    assert text.count("pre-flight check at defaults: ok") == len(builtin)  # every built-in task
