"""Intervals, thresholds and labels behind the report tables."""
from __future__ import annotations

import math

import pytest

from suite.report.aggregate import config_label, mean_ci, outcome_colour, steps_to_threshold, t975


def test_mean_ci_is_a_student_t_interval():
    mean, lo, hi, n = mean_ci([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3)
    assert hi - mean == pytest.approx(4.303 / math.sqrt(3), rel=1e-4)  # s = 1, t(0.975, 2) = 4.303
    assert mean - lo == pytest.approx(hi - mean)


def test_mean_ci_skips_missing_values_and_needs_two_for_an_interval():
    assert mean_ci([None, float("nan"), 5.0]) == (5.0, None, None, 1)
    assert mean_ci([None]) == (None, None, None, 0)
    assert t975(1) == 12.706 and t975(1000) == 1.96


def test_steps_to_threshold_is_the_first_eval_at_or_below_the_level():
    evals = [{"step": 0, "val_loss": 1.0}, {"step": 10, "val_loss": None},
             {"step": 20, "val_loss": 0.1}, {"step": 30, "val_loss": 0.01}]
    assert steps_to_threshold(evals, chance=1.0, fraction=0.1) == 20
    assert steps_to_threshold(evals, chance=1.0, fraction=0.001) is None
    assert steps_to_threshold(evals, chance=None) is None


def test_config_label_uses_the_varying_axes_and_task_parameters():
    cfg = {"cell": "gru", "clipnorm": 1.0, "task_params": {"seq_len": 100}}
    assert config_label(cfg, ["cell", "adding.seq_len", "clipnorm"]) == "cell=gru, adding.seq_len=100, clipnorm=1"
    assert config_label(cfg, []) == "cell=gru"


def test_outcome_colour_runs_from_green_to_red():
    good, bad = outcome_colour(1e-3), outcome_colour(1.0)
    assert good != bad and outcome_colour(None) == "#d9d9d9"
    assert int(good[1:3], 16) < int(good[3:5], 16)  # green dominates
    assert int(bad[1:3], 16) > int(bad[3:5], 16)    # red dominates
