"""Loss by position in the window (the language model's long-range view) and its figure."""
from __future__ import annotations

import math

import numpy as np
import pytest

from suite.model.losses import loss_by_position, numpy_loss
from suite.model.run_loop import train
from suite.report import position
from suite.runs import context_gain


def test_loss_by_position_is_the_mean_over_examples_at_each_step():
    # two classes; at step t the logits put probability p_t on the right class
    p = np.array([0.5, 0.8, 0.9, 0.99])
    logit = np.log(p / (1 - p))
    y = np.zeros((3, 4), "int32")
    y_pred = np.zeros((3, 4, 2))
    y_pred[..., 0] = logit  # class 0 is always the target
    got = loss_by_position("ce_bits", y, y_pred)
    np.testing.assert_allclose(got, -np.log2(p), rtol=1e-12)
    assert np.mean(got) == pytest.approx(numpy_loss("ce_bits", y, y_pred))
    # one example wrong at the last step only: its mean there moves, not elsewhere
    y[0, 3] = 1
    again = loss_by_position("ce_bits", y, y_pred)
    np.testing.assert_allclose(again[:3], got[:3])
    assert again[3] == pytest.approx((2 * -math.log2(0.99) - math.log2(0.01)) / 3)


def test_mse_by_position_averages_over_units():
    y = np.zeros((2, 3, 2))
    y_pred = np.zeros((2, 3, 2))
    y_pred[:, 1, 0] = 2.0  # position 2: one unit off by 2 -> mean of (4, 0) = 2
    assert loss_by_position("mse", y, y_pred) == [0.0, 2.0, 0.0]


def test_context_gain():
    curve = [3.0, 2.5, 2.2, 2.1, 2.0] + [1.9] * 15  # T = 20, last fifth = 4 steps
    assert context_gain(curve) == pytest.approx(2.0 - 1.9)
    assert context_gain(curve, short=1) == pytest.approx(3.0 - 1.9)
    assert context_gain(curve[:9]) is None  # shorter than twice the short context
    assert context_gain(curve[:-1] + [None]) is None
    assert context_gain(None) is None


def test_a_language_model_run_stores_the_loss_at_every_position(make_config, tasks):
    cfg = make_config("char_lm", task_params={"seq_len": 12, "corpus": "stdlib"}, cell="gru")
    result = train(cfg, tasks["char_lm"])
    by_position = result["loss_by_position"]
    assert len(by_position) == 12
    assert np.mean(by_position) == pytest.approx(result["evals"][-1]["val_loss"], rel=1e-9)
    adding = train(make_config("adding"), tasks["adding"])
    assert adding["loss_by_position"] is None  # a last-step head has no positions


def test_the_figure_draws_finished_language_model_runs_only():
    import pandas as pd

    records = {"a": {"status": "ok", "loss_by_position": [2.0, 1.5, 1.2]},
               "b": {"status": "diverged", "loss_by_position": [2.0, 1.5, 1.2]}}
    runs = pd.DataFrame({"config_id": ["c1", "c2"], "short": ["lstm", "gru"], "run_id": ["a", "b"]})
    assert position.figure(records, runs, "t", "cell").startswith("data:image/png;base64,")
    assert position.figure(records, runs.iloc[1:], "t", "cell") is None
    records["a"]["horizon"] = 30  # copy memory: the loss by position is not a context effect
    assert position.figure(records, runs, "t", "cell") is None


def test_context_gain_is_a_language_model_column(make_config):
    from suite.runs import summary_row

    cfg = make_config("char_lm", task_params={"seq_len": 20, "corpus": "stdlib"})
    rec = {"run_id": "r", "config": cfg, "status": "ok", "horizon": None,
           "loss_by_position": [3.0, 2.5, 2.2, 2.1, 2.0] + [1.9] * 15}
    assert summary_row(rec, [])["context_gain"] == pytest.approx(0.1)
    assert summary_row({**rec, "horizon": 30}, [])["context_gain"] is None  # copy memory
    assert summary_row({**rec, "status": "diverged"}, [])["context_gain"] is None
