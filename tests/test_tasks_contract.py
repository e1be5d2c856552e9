"""One contract test, parametrised over every discovered task."""
from __future__ import annotations

import inspect
import math
import sys

import numpy as np
import pytest

from suite.api import Head, InputSpec, SuiteError, Task
from suite.model.losses import numpy_loss
from suite.registry import discover

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
