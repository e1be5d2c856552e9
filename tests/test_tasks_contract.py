"""One contract test, parametrised over every discovered task.

Required members are asserted; optional members (``suite.api.OPTIONAL_MEMBERS``)
are reported: a built-in task must implement them all, a plugin that lacks one
gets a :class:`OptionalMemberWarning` in the test summary naming the member and
the default the suite applies instead.
"""
from __future__ import annotations

import ast
import inspect
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from suite.api import (
    OPTIONAL_MEMBERS,
    Head,
    InputSpec,
    SuiteError,
    Task,
    TaskExtras,
    Widths,
    check_task,
    horizon,
    io_widths,
    missing_optional,
    sequence_length,
    solved_level,
)
from suite.model.losses import numpy_loss
from suite.registry import BUILTIN_DIR, discover

TASKS = discover()
SMALL = {"seq_len": 12}


def params_of(task):
    return {**task.params, **SMALL}


@pytest.fixture(params=sorted(TASKS), ids=str)
def task(request):
    return TASKS[request.param]


def test_protocol_and_docstring(task):
    assert isinstance(task, Task)
    doc = inspect.getdoc(sys.modules[type(task).__module__]) or ""
    assert "chance" in doc.lower(), "the docstring must state the chance level"
    assert any(ch.isdigit() for ch in doc), "the docstring must cite its source (author, year)"
    assert isinstance(task.version, str) and task.version


def test_shapes_match_spec(task):
    p = params_of(task)
    task.validate(p)
    spec, head = task.input_spec(p), task.head(p)
    assert isinstance(spec, InputSpec) and isinstance(head, Head)
    x, y = task.make_data("train", 6, 0, p)
    assert x.shape[0] == y.shape[0] == 6
    if spec.vocab is not None:
        assert x.ndim == 2 and x.dtype.kind == "i" and x.min() >= 0 and x.max() < spec.vocab
    else:
        assert x.ndim == 3 and x.shape[-1] == spec.features and x.dtype == np.float32
    if head.per_step:
        assert y.shape[:2] == x.shape[:2]
    if head.loss in ("ce", "ce_bits"):
        assert y.dtype.kind == "i" and y.min() >= 0 and y.max() < head.units


def test_deterministic_by_seed(task):
    p = params_of(task)
    a, b, c = (task.make_data("train", 16, s, p) for s in (3, 3, 4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    v = task.make_data("validation", 16, 3, p)
    assert not np.array_equal(a[0], v[0][: len(a[0])]), "validation must differ from training"


def _blind_predictor(head, y_train, n_val):
    """The best input-blind (position-aware) predictor fitted on training targets."""
    if head.loss == "mse":
        return np.broadcast_to(y_train.mean(0), (n_val,) + y_train.shape[1:])
    counts = np.stack([(y_train == k).sum(0) for k in range(head.units)], -1).astype("float64") + 1e-3
    logp = np.log(counts / counts.sum(-1, keepdims=True))
    return np.broadcast_to(logp, (n_val,) + logp.shape)


def test_chance_level_matches_input_blind_predictor(task):
    p = {**task.params, "seq_len": 50}
    task.validate(p)
    head = task.head(p)
    _, y_train = task.make_data("train", 20000, 1, p)
    _, y_val = task.make_data("validation", 4000, 2, p)
    measured = numpy_loss(head.loss, y_val, _blind_predictor(head, y_train, len(y_val)))
    chance = task.chance_loss(p)
    assert math.isfinite(chance) and chance > 0
    assert abs(measured - chance) / chance < 0.02, (measured, chance)


def test_metrics_include_primary(task):
    p = params_of(task)
    x, y = task.make_data("validation", 8, 0, p)
    head = task.head(p)
    pred = (np.zeros(y.shape + (head.units,), "float32") if head.loss != "mse"
            else np.zeros(y.shape, "float32"))
    m = task.metrics(y, pred, p)
    assert task.primary_metric in m and all(math.isfinite(v) for v in m.values())
    assert isinstance(task.describe(p), dict)


def test_rejects_too_short_sequence(task):
    with pytest.raises(SuiteError, match="seq_len"):
        task.validate({**task.params, "seq_len": 0})


class OptionalMemberWarning(UserWarning):
    """A task plugin lacks an optional protocol member; the suite applies its default."""


def report_optional(task) -> list[str]:
    """Asserts a built-in task has every optional member; warns for a plugin that lacks some.

    Returns:
        The optional members ``task`` lacks.
    """
    missing = missing_optional(task)
    builtin = Path(inspect.getfile(type(task))).parent == BUILTIN_DIR
    assert not (builtin and missing), f"built-in task '{task.name}' lacks optional members {missing}"
    if missing:
        warnings.warn(OptionalMemberWarning(
            f"task '{task.name}' lacks optional members: "
            + "; ".join(f"{m} (default: {OPTIONAL_MEMBERS[m]})" for m in missing)), stacklevel=2)
    return missing


def test_optional_members(task):
    missing = report_optional(task)
    assert isinstance(task, TaskExtras) == (not missing)


def test_sequence_length_is_what_the_model_unrolls(task):
    p = params_of(task)
    x, _ = task.make_data("train", 2, 0, p)
    length = sequence_length(task, p)
    if length is None:  # neither the member nor a seq_len parameter: nothing to check
        pytest.skip(f"task '{task.name}' states no sequence length")
    assert length == x.shape[1], "sequence_length (or its default, seq_len) must be the time dimension"


class Minimal:
    """A plugin written against the first protocol: the required members only."""

    name = "minimal"
    version = "1"
    params = {"seq_len": 8}
    primary_metric = "acc"
    higher_is_better = True

    def validate(self, params): pass
    def input_spec(self, params): return InputSpec(features=1)
    def head(self, params): return Head(units=1, per_step=False, loss="mse")
    def make_data(self, split, size, seed, params):
        return np.zeros((size, params["seq_len"], 1), "float32"), np.zeros((size, 1), "float32")
    def chance_loss(self, params): return 1.0
    def metrics(self, y_true, y_pred, params): return {"acc": 0.0}
    def describe(self, params): return {}


def test_a_plugin_without_optional_members_keeps_working():
    plugin = Minimal()
    assert check_task(plugin, "minimal") == [] and isinstance(plugin, Task)
    assert not isinstance(plugin, TaskExtras)
    with pytest.warns(OptionalMemberWarning, match=r"lacks optional members: sequence_length \(default"):
        assert report_optional(plugin) == ["sequence_length", "solved_level", "horizon", "widths"]
    assert sequence_length(plugin, {"seq_len": 8}) == 8  # the documented default
    assert sequence_length(plugin, {"width": 8}) is None  # no seq_len: unknown
    assert solved_level(plugin, {"seq_len": 8}) is None  # the documented default: no level
    assert horizon(plugin, {"seq_len": 8}) is None  # the documented default: no horizon
    assert io_widths(plugin, {"seq_len": 8}) is None  # the documented default: unknown


def test_sequence_length_member_wins_and_is_checked():
    class Longer(Minimal):
        def sequence_length(self, params):
            return params["seq_len"] + 5

        def solved_level(self, params):
            return 0.25

        def horizon(self, params):
            return params["seq_len"] - 1

        def widths(self, params):
            return Widths(3, 2, True)

    assert sequence_length(Longer(), {"seq_len": 8}) == 13
    assert io_widths(Longer(), {"seq_len": 8}) == Widths(3, 2, True)
    for bad in ((0, 2, True), (3, 2, 1), (3, 2), "abc", 7):
        Longer.widths = lambda self, params, bad=bad: bad
        with pytest.raises(SuiteError, match="widths\\(\\) must return None or Widths"):
            io_widths(Longer(), {"seq_len": 8})
    Longer.widths = lambda self, params: None
    assert io_widths(Longer(), {"seq_len": 8}) is None
    assert horizon(Longer(), {"seq_len": 8}) == 7
    for bad in (0, True, 2.0, "7"):
        Longer.horizon = lambda self, params, bad=bad: bad
        with pytest.raises(SuiteError, match="horizon\\(\\) must return None or a positive integer"):
            horizon(Longer(), {"seq_len": 8})
    Longer.horizon = lambda self, params: None
    assert horizon(Longer(), {"seq_len": 8}) is None
    assert missing_optional(Longer()) == [] and isinstance(Longer(), TaskExtras)
    Longer.sequence_length = lambda self, params: 0
    with pytest.raises(SuiteError, match="sequence_length\\(\\) must return a positive integer"):
        sequence_length(Longer(), {"seq_len": 8})
    assert solved_level(Longer(), {"seq_len": 8}) == 0.25
    Longer.solved_level = lambda self, params: -1.0
    with pytest.raises(SuiteError, match="solved_level\\(\\) must return None or a finite number"):
        solved_level(Longer(), {"seq_len": 8})
    Longer.sequence_length = 7  # an attribute, not a method
    assert check_task(Longer(), "minimal") == ["'sequence_length' must be a method"]


def _string_constants(path: Path) -> set[str]:
    """String literals of a module, docstrings excluded."""
    tree = ast.parse(path.read_text())
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs}


def test_no_task_names_in_the_core():
    """Task facts come from the task: no module outside the tools names a built-in task."""
    core = Path(__file__).resolve().parent.parent / "suite"
    names = {p.stem for p in BUILTIN_DIR.glob("*.py") if not p.name.startswith("_")}
    for path in core.rglob("*.py"):
        if "tools" in path.relative_to(core).parts:
            continue  # bench and synth pick tasks on purpose
        used = _string_constants(path) & names
        assert not used, f"{path.relative_to(core.parent)} names tasks {sorted(used)}"
