"""suite.runs: the one definition of selection, labels, number format and the summary row."""
from __future__ import annotations

import csv
import io
import math

import pytest

from suite import runs
from suite.axes import AXES
from suite.suite_file import _matches


def cfg(task="adding", seq_len=100, **axes):
    return {"task": task, "task_params": {"seq_len": seq_len}, "seed": 0, "cell": "lstm", **axes}


def test_a_task_param_key_matches_only_runs_of_its_task():
    assert runs.matches(cfg("adding"), {"adding.seq_len": 100})
    assert not runs.matches(cfg("copy_memory"), {"adding.seq_len": 100})
    assert runs.value_of(cfg("copy_memory"), "adding.seq_len") is runs.ABSENT
    assert _matches(cfg("adding"), "s", {"adding.seq_len": 100})  # --only: the same rule
    assert not _matches(cfg("copy_memory"), "s", {"adding.seq_len": 100})


@pytest.mark.parametrize(("have", "want", "same"), [
    (True, True, True), (False, False, True), (True, False, False),
    (True, 1, False), (1, True, False), (1.0, True, False), (0, False, False),
    (1, 1.0, True), (0.001, 1e-3, True), ("lstm", "lstm", True), ("1", 1, True), (None, 0, False),
])
def test_booleans_equal_only_booleans_and_numbers_compare_as_numbers(have, want, same):
    assert runs.same_value(have, want) is same
    c = cfg(flag=have)
    assert runs.matches(c, {"flag": want}) is same
    assert _matches(c, "s", {"flag": want}) is same  # --only and claims agree (they did not)


def test_the_study_key_of_only():
    assert _matches(cfg(), "cells", {"study": "cells"})
    assert not _matches(cfg(), "cells", {"study": "other"})


def test_one_number_format():
    assert runs.fmt(0.123456) == "0.1235"
    assert runs.fmt(0.123456, 3) == "0.123"
    assert runs.fmt(1.0) == "1" and runs.fmt(1e-4) == "0.0001" and runs.fmt(2.5e-7) == "2.5e-07"
    assert runs.fmt(3) == "3" and runs.fmt("lstm") == "lstm"
    assert runs.fmt(True) == "true" and runs.fmt(False) == "false"
    assert runs.fmt(None) == runs.fmt(math.nan) == runs.fmt(math.inf) == runs.fmt(runs.ABSENT) == "missing"
    assert runs.fmt(None, missing="–") == "–"


def test_labels_name_the_varying_axes_of_the_runs_task_only():
    varying = ["adding.seq_len", "copy_memory.seq_len", "learning_rate"]
    add, copy = cfg("adding", 100, learning_rate=0.001234567), cfg("copy_memory", 50, learning_rate=1.0)
    assert runs.label(add, varying) == "adding.seq_len=100, learning_rate=0.00123457"
    assert runs.label(copy, varying) == "copy_memory.seq_len=50, learning_rate=1"
    assert runs.short_label(copy, varying) == "50, 1"
    assert runs.label(add, []) == "cell=lstm"
    assert runs.label(add, ["copy_memory.seq_len"]) == "cell=lstm"  # nothing of its own: the cell


def test_absent_survives_pickling():
    import pickle
    assert pickle.loads(pickle.dumps(runs.ABSENT)) is runs.ABSENT


def test_steps_to_threshold_and_solved():
    evals = [{"step": 10, "val_loss": 0.5}, {"step": 20, "val_loss": 0.1}, {"step": 30, "val_loss": 0.05}]
    assert runs.steps_to_threshold(evals, 1.0, 0.1) == 20
    assert runs.steps_to_threshold(evals, 1.0, 0.001) is None
    assert runs.steps_to_threshold(evals, None) is None
    rec = {"status": "ok", "final": {"val_loss": 0.05}, "evals": evals}
    assert runs.solved(rec, 0.1) == (True, 20)
    assert runs.solved({**rec, "status": "diverged"}, 0.1) == (False, None)
    assert runs.solved(rec, None) == (None, None)


def record(run_id, config, **extra):
    return {"run_id": run_id, "status": "ok", "task": config["task"], "seed": config["seed"],
            "config": config, "final": {"val_loss": 0.5}, "chance_loss": 1.0, **extra}


def test_summary_csv_has_a_column_for_every_axis():
    """Configurations that differ only in steps, batch_size, eval_* or probe_every are told apart."""
    base = {"task": "adding", "task_params": {"seq_len": 50}, "seed": 0,
            **{k: a.default for k, a in AXES.items()}}
    recs = {"a": record("a", base), "b": record("b", {**base, "steps": 10, "batch_size": 8}),
            "c": record("c", {**base, "probe_every": 0, "eval_every": 5, "eval_size": 32})}
    manifest = {"runs": {k: r["config"] for k, r in recs.items()},
                "studies": [{"name": "s", "run_ids": ["a", "b", "c"]}]}
    text = runs.summary_csv(manifest, recs)
    header = text.splitlines()[0].split(",")
    assert set(AXES) <= set(header)
    assert header[:3] == ["run_id", "study", "task"] and set(runs.SUMMARY_COLUMNS) <= set(header)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["steps"], r["batch_size"], r["probe_every"], r["eval_every"]) for r in rows] == [
        ("2000", "64", "100", "100"), ("10", "8", "100", "100"), ("2000", "64", "0", "5")]
    assert len({tuple((k, r[k]) for k in AXES) for r in rows}) == 3
    assert rows[0]["loss_vs_chance"] == "0.5" and rows[0]["study"] == "s"
