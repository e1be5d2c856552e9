"""``compare DIR_A DIR_B`` on two copies of the example results, one of them altered."""
from __future__ import annotations

import html
import json
import shutil

from conftest import DATA, run_cli, run_main

from suite.report.compare import relative_change


def _edit(path, fn):
    rec = json.loads(path.read_text())
    fn(rec)
    path.write_text(json.dumps(rec))


def test_compare_finds_changed_missing_and_identical_runs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(DATA / "example_results", a)
    shutil.copytree(DATA / "example_results", b)
    runs = sorted(p for p in (b / "runs").glob("*.json")
                  if json.loads(p.read_text())["status"] == "ok")
    moved, diverged, dropped = runs[0], runs[1], runs[2]

    def worse(rec):
        rec["final"]["val_loss"] *= 1.5
        rec["curves"]["loss"][-1] += 1.0

    def blew_up(rec):
        rec["status"], rec["diverged_step"], rec["final"]["val_loss"] = "diverged", 7, None

    def new_tf(rec):
        rec["env"]["tensorflow"] = "9.9.9"

    _edit(moved, worse)
    _edit(diverged, blew_up)
    dropped.unlink()
    for p in (b / "runs").glob("*.json"):
        _edit(p, new_tf)
    proc = run_cli("compare", str(a), str(b), "--out", str(tmp_path / "cmp.html"))
    assert proc.returncode == 0, proc.stderr
    n = sum(1 for _ in (a / "runs").glob("*.json")) - 1
    # the status edit leaves the curves alone, so only the loss edit breaks bit-identity
    assert f"{n} runs in both: {n - 1} bit-identical, 2 changed outcome; 1 only in A, 0 only in B" \
        in proc.stdout
    page = (tmp_path / "cmp.html").read_text()
    assert "loss +50.0%" in page and "status ok -&gt; diverged" in page
    assert "9.9.9" in page and "2.21.0" in page  # the environment difference is shown
    only_a = page.split("Only in A")[1]
    assert dropped.stem in only_a
    from suite.report.compare import varying_keys
    from suite.runs import title
    from suite.store.io import load_records
    recs = load_records(a)[0]
    rec = recs[dropped.stem]
    assert html.escape(title(rec["config"], rec["sequence_length"], varying_keys(list(recs.values())))) \
        in only_a  # titled like --dry-run: task, length, cell, ...


def test_compare_refuses_a_directory_without_results(tmp_path, capsys):
    proc = run_main(capsys, "compare", str(tmp_path), str(DATA / "example_results"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "no suite.json" in proc.stderr and "Traceback" not in proc.stderr


def test_relative_change():
    assert relative_change(2.0, 3.0) == 0.5
    assert relative_change(None, 1.0) is None and relative_change(0.0, 1.0) is None
