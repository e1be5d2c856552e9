"""Validation of BatchNorm models with population and with batch statistics."""
from __future__ import annotations

import numpy as np
import pytest

from suite.model.cells import batchnorm_variables
from suite.model.losses import numpy_loss
from suite.model.run_loop import _compiled_model, _Evaluator, train


@pytest.mark.parametrize("mode", ["input", "recurrent"])
def test_batch_statistics_evaluation_leaves_the_moving_statistics_alone(make_config, tasks, mode):
    cfg = make_config("adding", cell="lstm", batchnorm=mode)
    task = tasks["adding"]
    model, head = _compiled_model(cfg, task)
    x, y = task.make_data("validation", 40, 3, cfg["task_params"])
    # moving statistics away from their initial values, so that the two modes differ
    for var in batchnorm_variables(model):
        var.assign(np.full(var.shape, 0.5 if "mean" in var.path else 3.0, "float32"))
    before = [v.numpy().copy() for v in batchnorm_variables(model)]
    evaluate = _Evaluator(model, task, head, cfg["task_params"], (x, y))
    evaluate(0)
    row = evaluate.rows[0]
    for var, old in zip(batchnorm_variables(model), before):
        np.testing.assert_array_equal(var.numpy(), old)
    # independent computations of both numbers (the evaluation batch holds all 40 examples)
    assert row["val_loss"] == pytest.approx(numpy_loss("mse", y, model(x, training=False)), rel=1e-6)
    batch = [v.numpy().copy() for v in batchnorm_variables(model)]
    expected = numpy_loss("mse", y, model(x, training=True))
    for var, value in zip(batchnorm_variables(model), batch):
        var.assign(value)
    assert row["val_loss_batch_stats"] == pytest.approx(expected, rel=1e-6)
    assert row["val_loss_batch_stats"] != pytest.approx(row["val_loss"], rel=1e-3)


def test_a_model_without_batchnorm_has_one_validation_loss(make_config, tasks):
    result = train(make_config("adding", cell="gru"), tasks["adding"])
    assert all("val_loss_batch_stats" not in row for row in result["evals"])
    bn = train(make_config("adding", cell="gru", batchnorm="input"), tasks["adding"])
    assert all(row["val_loss_batch_stats"] is not None for row in bn["evals"])
