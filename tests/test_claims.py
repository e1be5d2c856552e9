"""Claims (README "Claims"): parsing, verdicts, `check`, claims.json, answers, solved levels, intervals.

Verdicts are checked on the committed example results (copied to a temporary
directory) with claims added to their manifest: no training.
"""
from __future__ import annotations

import json
import math
import re
import statistics

import pytest
from conftest import run_cli, run_main

from suite import claims
from suite.api import solved_level
from suite.claim_spec import parse_claim
from suite.execution.runner import manifest_of
from suite.report.aggregate import log_ci, mean_ci
from suite.report.answers import answer
from suite.store.io import load_manifest, load_records
from suite.suite_file import load_suite

HOLDS = {"text": "The tanh RNN stays at chance", "source": "Arjovsky et al. 2016",
         "where": {"cell": "simple_rnn"}, "metric": "loss_vs_chance", "op": ">=", "value": 1.0}
FAILS = {"text": "GRU ends 10x below the tanh RNN", "source": "Chung et al. 2014",
         "where": {"cell": "gru"}, "metric": "loss_vs_chance", "op": "<",
         "than": {"cell": "simple_rnn"}, "factor": 0.1}
DIVERGED = {"text": "The huge SGD step ends below chance", "source": "none", "metric": "final_val_loss",
            "op": "<", "value": 1.0}


def add_claims(out, tasks, per_study: dict[str, list[dict]], levels: dict[str, float] | None = None):
    """Adds checked claims (``parse_claim``) and solved levels to ``out/suite.json``.

    ``levels`` maps a task to its solved level (default: the task's own ``solved_level``).
    """
    manifest = json.loads((out / "suite.json").read_text())
    for study in manifest["studies"]:
        study["claims"] = [parse_claim(c, "test", study["name"], k, study["tasks"], tasks)
                           for k, c in enumerate(per_study.get(study["name"], []), 1)]
    manifest["solved_levels"] = {
        rid: (levels or {}).get(cfg["task"], solved_level(tasks[cfg["task"]], cfg["task_params"]))
        for rid, cfg in manifest["runs"].items()}
    (out / "suite.json").write_text(json.dumps(manifest))
    return out


def verdicts(out):
    records, _ = load_records(out)
    return claims.evaluate(load_manifest(out), records)


def test_check_exits_1_when_a_claim_fails_and_0_when_all_hold(example_copy, tasks, capsys):
    add_claims(example_copy, tasks, {"cells": [HOLDS, FAILS]})
    proc = run_main(capsys, "check", str(example_copy))
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert lines[0].startswith("HOLDS        cells#1: The tanh RNN stays at chance [Arjovsky")
    assert lines[1].startswith("FAILS        cells#2: GRU ends 10x below")
    assert lines[-1] == "1 of 2 claims hold, 1 fail, 0 inconclusive"
    assert proc.stdout == run_main(capsys, "check", str(example_copy)).stdout  # deterministic

    add_claims(example_copy, tasks, {"cells": [HOLDS]})
    proc = run_main(capsys, "check", str(example_copy))
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1].startswith("1 of 1 claims hold")


def test_inconclusive_fails_only_with_strict(example_copy, tasks, capsys):
    add_claims(example_copy, tasks, {"blowup": [DIVERGED]})
    proc = run_main(capsys, "check", str(example_copy))
    assert proc.returncode == 0 and proc.stdout.startswith("INCONCLUSIVE blowup#1")
    assert "1 of 1 values missing" in proc.stdout and "seed 0: missing" in proc.stdout
    assert run_main(capsys, "check", str(example_copy), "--strict").returncode == 1


def test_observed_numbers_and_than_target_come_from_the_records(example_copy, tasks):
    add_claims(example_copy, tasks, {"cells": [HOLDS, FAILS]})
    records, _ = load_records(example_copy)
    (cells,) = [s for s in load_manifest(example_copy)["studies"] if s["name"] == "cells"]
    lvc = {}
    for rec in (records[rid] for rid in cells["run_ids"]):
        lvc.setdefault(rec["config"]["cell"], {})[rec["seed"]] = (
            rec["final"]["val_loss"] / rec["chance_loss"])
    held, failed = [r for r in verdicts(example_copy) if r["study"] == "cells"]
    assert [(o["seed"], o["value"]) for o in held["observed"]] == sorted(lvc["simple_rnn"].items())
    assert held["verdict"] == "holds" and min(lvc["simple_rnn"].values()) >= 1.0
    assert failed["target"] == pytest.approx(0.1 * statistics.median(lvc["simple_rnn"].values()))
    assert failed["verdict"] == "fails"


def runs_with(values: list, metric: str = "m") -> list[dict]:
    return [{"run_id": f"r{i}", "task": "adding", "seed": i, "label": "cell=gru",
             "config": {"task": "adding", "cell": "gru", "task_params": {"seq_len": 10}},
             "values": {metric: v}} for i, v in enumerate(values)]


@pytest.mark.parametrize("values, over, expected", [
    ([1.0, 3.0], "all", "fails"), ([1.0, 3.0], "any", "holds"), ([1.0, 3.0], "median", "fails"),
    ([1.0, 1.5], "all", "holds"), ([3.0, 4.0], "any", "fails"), ([1.0, 1.5, 9.0], "median", "holds"),
    ([1.0, None], "all", "inconclusive"), ([3.0, None], "all", "fails"),
    ([1.0, None], "any", "holds"), ([3.0, None], "any", "inconclusive"),
    ([1.0, None], "median", "inconclusive"), ([], "all", "inconclusive"),
])
def test_how_seeds_combine(values, over, expected):
    claim = {"id": "s#1", "text": "t", "source": "s", "tasks": ["adding"], "where": {}, "metric": "m",
             "op": "<", "value": 2.0, "than": None, "factor": 1.0, "over": over}
    assert claims.evaluate_claim(claim, runs_with(values))["verdict"] == expected


def test_than_keeps_the_where_values_it_does_not_override(example_copy, tasks):
    """``than`` is merged into ``where``: the reference of "clipped GRU vs unclipped" is the
    unclipped GRU, not every unclipped run."""
    claim = {"text": "Clipping leaves the GRU where it was", "source": "s",
             "where": {"cell": "gru", "clipnorm": 0.5}, "metric": "final_val_loss", "op": "<=",
             "than": {"clipnorm": 0.0}, "factor": 10.0}
    add_claims(example_copy, tasks, {"clipping": [claim]})
    (result,) = verdicts(example_copy)
    records, _ = load_records(example_copy)
    ref = result["reference"]["observed"]
    assert len(ref) == 2 and all(records[o["run_id"]]["config"]["cell"] == "gru" for o in ref)
    assert all(records[o["run_id"]]["config"]["clipnorm"] == 0.0 for o in ref)
    assert result["reference"]["median"] == pytest.approx(
        statistics.median(records[o["run_id"]]["final"]["val_loss"] for o in ref))


def test_a_task_parameter_selects_runs_of_its_own_task_only(example_copy, tasks):
    """``copy_memory.seq_len = 12`` must not pick adding runs whose own seq_len is 12."""
    manifest = json.loads((example_copy / "suite.json").read_text())
    ids = [r for s in manifest["studies"] if s["name"] in ("cells", "copy") for r in s["run_ids"]]
    manifest["studies"].append({"name": "both", "question": "", "tasks": ["adding", "copy_memory"],
                                "varying": ["adding.seq_len", "copy_memory.seq_len"], "run_ids": ids})
    (example_copy / "suite.json").write_text(json.dumps(manifest))
    claim = {"text": "t", "source": "s", "tasks": ["adding", "copy_memory"], "metric": "status",
             "op": "==", "value": "ok"}
    add_claims(example_copy, tasks, {"both": [{**claim, "where": {"copy_memory.seq_len": 12}},
                                              {**claim, "where": {"adding.seq_len": 12}}]})
    copy12, adding12 = verdicts(example_copy)
    assert copy12["observed"] == [] and copy12["reason"] == "no stored run matches 'where'"
    assert adding12["observed"] and {o["task"] for o in adding12["observed"]} == {"adding"}
    assert all(o["label"] == "adding.seq_len=12" for o in adding12["observed"])


def test_steps_not_reached_count_as_never_not_as_missing(example_copy, tasks):
    steps = {"text": "GRU reaches 10% of chance", "source": "s", "where": {"cell": "gru"},
             "metric": "steps_to_threshold", "op": "<=", "value": 40, "over": "any"}
    add_claims(example_copy, tasks, {"cells": [steps]})
    (result,) = verdicts(example_copy)
    assert result["verdict"] == "fails" and {o["text"] for o in result["observed"]} == {"not reached"}


def test_solved_success_rate_steps_and_ecdf(example_copy, tasks):
    """With a solved level of 0.2 on adding, recomputed here from the records' evaluations."""
    level = 0.2
    solved_claim = {"text": "Both tanh seeds solve it", "source": "s", "where": {"cell": "simple_rnn"},
                    "metric": "solved", "op": "==", "value": True}
    add_claims(example_copy, tasks, {"cells": [solved_claim]}, levels={"adding": level})
    records, _ = load_records(example_copy)
    (cells,) = [s for s in load_manifest(example_copy)["studies"] if s["name"] == "cells"]
    expected = {}
    for rec in (records[rid] for rid in cells["run_ids"]):
        if rec["config"]["cell"] != "simple_rnn":
            continue
        ok = rec["status"] == "ok" and rec["final"]["val_loss"] <= level
        first = next((e["step"] for e in rec["evals"] if e["val_loss"] <= level), None)
        assert claims.solved(rec, level) == (ok, first if ok else None)
        expected[rec["seed"]] = ok
    (result,) = verdicts(example_copy)
    assert result["verdict"] == ("holds" if all(expected.values()) else "fails")
    assert run_cli("report", str(example_copy)).returncode == 0
    page = (example_copy / "index.html").read_text()
    assert "steps to solved" in page  # the ECDF figure's caption
    stored = json.loads((example_copy / "claims.json").read_text())
    assert stored["counts"]["holds"] + stored["counts"]["fails"] == 1
    assert [c["id"] for c in stored["claims"]] == ["cells#1"]
    holds = stored["counts"]["holds"]
    assert f"{holds} of 1 claims hold" in page and f"Claims: {holds} of 1 hold." in page


def test_no_solved_level_is_inconclusive(example_copy, tasks):
    claim = {"text": "t", "source": "s", "metric": "solved", "op": "==", "value": True}
    add_claims(example_copy, tasks, {"cells": [claim]})
    manifest = json.loads((example_copy / "suite.json").read_text())
    del manifest["solved_levels"]  # results from before solved levels
    (example_copy / "suite.json").write_text(json.dumps(manifest))
    (result,) = verdicts(example_copy)
    assert result["verdict"] == "inconclusive" and "no solved level" in result["reason"]


SUITE = """
name = "c"
seeds = [0]
[defaults]  # tiny, should a broken check ever let it run
steps = 2
eval_every = 1
eval_size = 8
batch_size = 4
hidden = 4
probe_every = 0
[[study]]
name = "cells"
question = "Do gates beat a tanh RNN?"
tasks = ["adding"]
grid = { cell = ["simple_rnn", "gru"] }
[[study.claim]]
text = "the tanh RNN stays at chance"
source = "Arjovsky et al. 2016"
where = { cell = "simple_rnn", adding = { seq_len = 100 } }
metric = "loss_vs_chance"
op = ">="
value = 0.9
"""


@pytest.mark.parametrize("old, new, needle", [
    ('op = ">="', 'op = "=>"', "claim #1: unknown op '=>'"),
    ('source = "Arjovsky et al. 2016"', "", "claim #1: 'source' must be a non-empty string"),
    ('metric = "loss_vs_chance"', 'metric = "loss_vs_luck"', "claim #1: unknown metric 'loss_vs_luck'"),
    ("value = 0.9", 'value = 0.9\nthan = { cell = "gru" }', "claim #1: give exactly one of 'value' and 'than'"),
    ('where = { cell = "simple_rnn",', 'where = { colour = "red",', "claim #1 where: unknown key 'colour'"),
    ("value = 0.9", "value = 0.9\nfactor = 2", "claim #1: 'factor' needs 'than'"),
    ('metric = "loss_vs_chance"', 'metric = "status"', "claim #1: 'op' must be '==' or '!='"),
    ('op = ">="', 'op = ">="\nover = "most"', "claim #1: 'over' must be one of all, any, median"),
])
def test_a_malformed_claim_is_one_line_exit_2_and_nothing_written(tmp_path, old, new, needle, capsys):
    assert old in SUITE
    path = tmp_path / "bad.toml"
    path.write_text(SUITE.replace(old, new))
    out = tmp_path / "out"
    proc = run_main(capsys, "--suite", str(path), "--out", str(out))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {path} [[study]] 'cells' ") and needle in lines[0], lines[0]
    assert not out.exists()


def test_claims_and_solved_levels_reach_the_manifest(tmp_path, tasks):
    path = tmp_path / "s.toml"
    path.write_text(SUITE)
    manifest = manifest_of(load_suite(str(path), tasks), [])
    (claim,) = manifest["studies"][0]["claims"]
    assert claim["where"] == {"cell": "simple_rnn", "adding.seq_len": 100}
    assert (claim["id"], claim["over"], claim["tasks"], claim["than"]) == ("cells#1", "all", ["adding"], None)
    levels = manifest["solved_levels"]
    assert set(levels) == set(manifest["runs"]) and set(levels.values()) == {0.1 / 6}


def result(verdict: str, text: str = "c") -> dict:
    return {"verdict": verdict, "text": text, "metric": "m", "op": "<", "value": 1.0, "than": None,
            "factor": 1.0, "reference": None, "reason": "", "observed": [
                {"label": "cell=gru", "seed": 0, "text": "0.5"}]}


@pytest.mark.parametrize("verdicts_, start", [
    (["holds", "holds"], "Yes: 2 of 2 claims hold."),
    (["fails", "inconclusive"], "No: 0 of 2 claims hold."),
    (["holds", "fails"], "Partly: 1 of 2 claims hold."),
    (["holds", "inconclusive"], "Partly: 1 of 2 claims hold."),
    (["inconclusive"], "Not settled: 0 of 1 claims hold."),
    ([], "No claims to check; the data: On adding"),
])
def test_answers_in_words_follow_the_verdicts(verdicts_, start):
    text = answer([result(v, f"claim {i}") for i, v in enumerate(verdicts_)], "On adding, ...")
    assert text.startswith(start) and text.endswith("On adding, ...")
    if "fails" in verdicts_:
        i = verdicts_.index("fails")
        assert f"Fails: \u201cclaim {i}\u201d (m < 1; observed cell=gru seed 0: 0.5)." in text


def test_loss_intervals_stay_positive_on_the_log_scale():
    losses = [1.13e-3, 1.33e-3]  # two seeds: the t-interval of the mean goes below zero
    assert mean_ci(losses)[1] < 0
    centre, low, high, n = log_ci(losses)
    logs = [math.log(v) for v in losses]
    half = 12.706 * statistics.stdev(logs) / math.sqrt(2)
    assert centre == pytest.approx(math.exp(statistics.fmean(logs)))
    assert (low, high) == pytest.approx((centre * math.exp(-half), centre * math.exp(half)))
    assert 0 < low < centre < high and n == 2
    assert log_ci([0.0, 1.0])[1] == 0.0  # a zero: arithmetic mean, interval clipped at 0


def test_tasks_declare_sourced_solved_levels(tasks):
    adding, copy, lm = tasks["adding"], tasks["copy_memory"], tasks["char_lm"]
    assert solved_level(adding, {"seq_len": 100}) == pytest.approx(1 / 60)
    assert solved_level(copy, {"seq_len": 100}) == pytest.approx(0.1 * 10 * math.log(8) / 120)
    params = dict(lm.params)
    assert 0 < solved_level(lm, params) < lm.chance_loss(params)  # a bigram model beats unigram
    assert solved_level(lm, {**params, "corpus": "tfds:tiny_shakespeare"}) is None
    for task in (adding, copy, lm):
        assert re.search(r"\b(19|20)\d\d\b", task.solved_level.__doc__), "cite a source"


def test_steps_to_threshold_with_batch_statistics():
    from suite.claims import run_values

    evals = [{"step": 0, "val_loss": 1.0, "val_loss_batch_stats": 1.0},
             {"step": 100, "val_loss": 0.5, "val_loss_batch_stats": 0.05},
             {"step": 200, "val_loss": 0.05, "val_loss_batch_stats": 0.04}]
    rec = {"run_id": "r", "config": {"task_params": {}}, "status": "ok", "chance_loss": 1.0,
           "final": {"val_loss": 0.05}, "evals": evals}
    row = run_values(rec, None)
    assert (row["steps_to_threshold"], row["steps_to_threshold_batch_stats"]) == (200, 100)
    rec["evals"] = [{k: v for k, v in ev.items() if k != "val_loss_batch_stats"} for ev in evals]
    assert run_values(rec, None)["steps_to_threshold_batch_stats"] == 200  # no BatchNorm: the same
    rec["evals"] = [{**ev, "val_loss_batch_stats": 0.9} for ev in evals]
    assert run_values(rec, None)["steps_to_threshold_batch_stats"] == math.inf  # never reached
