"""Intervals, thresholds and labels behind the report tables."""
from __future__ import annotations

import copy
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
    cfg = {"task": "adding", "cell": "gru", "clipnorm": 1.0, "task_params": {"seq_len": 100}}
    assert config_label(cfg, ["cell", "adding.seq_len", "clipnorm"]) == "cell=gru, adding.seq_len=100, clipnorm=1"
    assert config_label(cfg, []) == "cell=gru"
    # another task's parameter is not this run's: an adding run is not copy_memory.seq_len=100
    assert config_label(cfg, ["cell", "copy_memory.seq_len"]) == "cell=gru"


def test_outcome_colour_runs_from_green_to_red():
    good, bad = outcome_colour(1e-3), outcome_colour(1.0)
    assert good != bad and outcome_colour(None) == "#d9d9d9"
    assert int(good[1:3], 16) < int(good[3:5], 16)  # green dominates
    assert int(bad[1:3], 16) > int(bad[3:5], 16)    # red dominates


def _rerun(records, manifest, study, keep_config_id=True, **axes):
    """Adds copies of a study's runs as if an edited suite (``axes`` changed) were rerun into
    the same directory: new run ids, same study, same labels."""
    from suite.ids import config_id, run_id

    st = next(s for s in manifest["studies"] if s["name"] == study)
    for rid in [r for r in st["run_ids"] if "rerun" not in records[r]]:
        rec = copy.deepcopy(records[rid])
        rec["config"].update(axes)
        rec["rerun"] = True
        rec["run_id"] = run_id(rec["config"], rec.get("task_version"))
        rec["config_id"] = config_id(rec["config"], rec.get("task_version"))
        if not keep_config_id:
            del rec["config_id"]
        if rec["final"].get("val_loss") is not None:
            rec["final"]["val_loss"] *= 2
        records[rec["run_id"]] = rec
        manifest["runs"][rec["run_id"]] = rec["config"]
        st["run_ids"].append(rec["run_id"])


@pytest.fixture
def example():
    from conftest import DATA

    from suite.store.io import load_manifest, load_records

    records, _ = load_records(DATA / "example_results")
    return records, load_manifest(DATA / "example_results")


def test_an_edited_rerun_into_the_same_directory_gets_rows_of_its_own(example):
    """Runs with the same label but another configuration (steps) are not counted as seeds."""
    from suite.report.aggregate import leaderboard, run_table
    from suite.report.figures import _groups

    records, manifest = example
    cells = next(s for s in manifest["studies"] if s["name"] == "cells")
    seeds = {}
    for rid in cells["run_ids"]:
        seeds[records[rid]["config"]["cell"]] = seeds.get(records[rid]["config"]["cell"], 0) + 1
    old_steps = records[cells["run_ids"][0]]["config"]["steps"]
    _rerun(records, manifest, "cells", steps=200)
    _rerun(records, manifest, "cells", keep_config_id=False, steps=300)  # computed when absent
    runs = run_table(records, manifest)
    board = [e for e in leaderboard(runs) if e["study"] == "cells"]
    assert len(board) == 3 * len(seeds)
    for cell, n in seeds.items():
        for steps in (old_steps, 200, 300):
            rows = [e for e in board if e["label"] == f"cell={cell}, steps={steps}"]
            assert len(rows) == 1 and rows[0]["n"] == n, (cell, steps, [e["label"] for e in board])
            assert all(records[r]["config"]["steps"] == steps for r in rows[0]["run_ids"])
    legend = [label for label, _ in _groups(runs[runs["study"] == "cells"])]
    assert len(legend) == len(set(legend)) == 3 * len(seeds)
    other = [e for e in leaderboard(runs) if e["study"] == "clipping"]
    assert all("steps=" not in e["label"] for e in other)  # untouched studies keep their labels


def test_distinguishing_axes_name_what_differs():
    from suite.runs import distinguishing_axes

    a = {"cell": "gru", "steps": 200, "adding.seq_len": 100, "task version": "1"}
    assert distinguishing_axes([a, {**a, "steps": 300}]) == ["steps"]
    assert distinguishing_axes([a, {**a, "task version": "2", "adding.seq_len": 50}]) == \
        ["adding.seq_len", "task version"]
    assert distinguishing_axes([a, dict(a)]) == []


def _by_length(records, manifest):
    """A study over ``adding.seq_len`` and ``copy_memory.seq_len`` (as the full suite's
    ``cells_by_length``) of the example's adding (seq_len 12) and copy-memory (5) runs."""
    ids = [r for s in manifest["studies"] if s["name"] in ("cells", "copy") for r in s["run_ids"]]
    manifest["studies"].append({"name": "by_length", "question": "", "tasks": ["adding", "copy_memory"],
                                "varying": ["cell", "adding.seq_len", "copy_memory.seq_len"],
                                "run_ids": ids, "claims": []})
    return ids


def test_a_task_parameter_labels_runs_of_its_own_task_only(example):
    """Defect: an adding run was labelled ``copy_memory.seq_len=12`` (its own seq_len)."""
    from suite.report.aggregate import run_table

    records, manifest = example
    _by_length(records, manifest)
    runs = run_table(records, manifest)
    sub = runs[runs["study"] == "by_length"]
    adding, copy_ = sub[sub["task"] == "adding"], sub[sub["task"] == "copy_memory"]
    assert not adding.empty and not copy_.empty
    assert all(lab.endswith("adding.seq_len=12") and "copy_memory" not in lab for lab in adding["label"])
    assert all(lab.endswith("copy_memory.seq_len=5") and "adding" not in lab for lab in copy_["label"])
    assert set(adding["short"]) == {"gru, 12", "simple_rnn, 12"}
    assert adding["axis:copy_memory.seq_len"].isna().all() and (adding["axis:adding.seq_len"] == 12).all()


def test_the_outcome_matrix_spreads_each_task_over_its_own_parameter(example):
    """Defect: adding rows were put under copy-memory columns (and named by adding.seq_len)."""
    from suite.report.aggregate import leaderboard, outcome_matrix, run_table

    records, manifest = example
    _by_length(records, manifest)
    runs = run_table(records, manifest)
    study = manifest["studies"][-1]
    matrix = outcome_matrix(leaderboard(runs), study, runs)
    assert matrix["column_axis"] == "adding.seq_len / copy_memory.seq_len"
    assert matrix["columns"] == ["12", "5"]
    rows = {r["label"]: [c["text"] for c in r["cells"]] for r in matrix["rows"]}
    adding = [lab for lab in rows if lab.startswith("adding")]
    copy_ = [lab for lab in rows if lab.startswith("copy_memory")]
    assert sorted(adding) == ["adding (T=12) · cell=gru", "adding (T=12) · cell=simple_rnn"]
    assert all(rows[lab][1] == "–" and rows[lab][0] != "–" for lab in adding)  # nothing under 5
    assert copy_ and all(rows[lab][0] == "–" and rows[lab][1] != "–" for lab in copy_)


def test_a_factor_figure_of_a_task_parameter_draws_its_own_task_only(example):
    from suite.report.aggregate import run_table
    from suite.report.figures import factor_effects

    records, manifest = example
    _by_length(records, manifest)
    runs = run_table(records, manifest)
    sub = runs[runs["study"] == "by_length"]
    adding_only = sub[sub["task"] == "adding"]
    assert factor_effects(adding_only, "adding.seq_len", "cell", "t") is not None
    assert factor_effects(adding_only, "copy_memory.seq_len", "cell", "t") is None


def test_solved_counts_the_runs_that_solved_not_the_runs_with_a_level(example):
    """The leaderboard's "solved k/n": runs that finished ok at or below their level."""
    from suite.report.aggregate import leaderboard, run_table

    records, manifest = example
    level = 0.2
    manifest["solved_levels"] = {rid: level for rid in manifest["runs"]}
    board = leaderboard(run_table(records, manifest))

    def solved(rid):  # independent of suite.runs.solved
        rec = records[rid]
        return rec["status"] == "ok" and rec["final"]["val_loss"] <= level

    assert board and all(e["solved"] == sum(solved(r) for r in e["run_ids"]) for e in board)
    assert any(e["solved"] < e["n"] for e in board) and any(e["solved"] > 0 for e in board)
    del manifest["solved_levels"]
    assert all(e["solved"] is None for e in leaderboard(run_table(records, manifest)))


def test_figure_legends_name_the_axes_of_their_task(example, monkeypatch):
    """An adding figure's legend title is ``cell, adding.seq_len``, as its labels."""
    from suite.report import figures, study_figures
    from suite.report.aggregate import run_table

    records, manifest = example
    _by_length(records, manifest)
    runs = run_table(records, manifest)
    seen = []
    monkeypatch.setattr(figures, "convergence", lambda recs, sub, title, legend: seen.append(legend))
    study = manifest["studies"][-1]
    study_figures.task_figures(records, runs[runs["study"] == "by_length"], study, "adding")
    assert seen == ["cell, adding.seq_len"]
