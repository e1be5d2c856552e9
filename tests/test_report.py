"""The report, built from small committed example results (no training here)."""
from __future__ import annotations

import json
import math
import shutil
import statistics
import subprocess
import sys
from html.parser import HTMLParser

import markupsafe
import pytest
from conftest import DATA, ROOT, run_cli

from suite.report.build import build_report
from suite.store.io import load_records

EXAMPLE = DATA / "example_results"


@pytest.fixture
def results(example_copy):
    return example_copy


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The example results with their report built once (for tests that only read)."""
    out = tmp_path_factory.mktemp("built") / "res"
    shutil.copytree(EXAMPLE, out)
    build_report(out, manifest(out))
    return out


def manifest(out):
    return json.loads((out / "suite.json").read_text())


class Text(HTMLParser):
    """Collects text, images, scripts and the cells of the leaderboard table."""

    def __init__(self):
        super().__init__()
        self.cells, self.imgs, self.scripts, self.links = [], [], 0, []
        self.board, self._in_board, self._row = [], False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.imgs.append(attrs["src"])
        if tag == "script":
            self.scripts += 1
        if tag == "a":
            self.links.append(attrs.get("href", ""))
        if tag == "table" and attrs.get("id") == "leaderboard-table":
            self._in_board = True
        if self._in_board and tag == "tr":
            self._row = []
        if self._in_board and tag == "td" and self._row is not None:
            self._row.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_board = False
        if self._in_board and tag == "tr" and self._row:
            self.board.append(self._row)
            self._row = None

    def handle_data(self, data):
        if data.strip():
            self.cells.append(data.strip())
        if self._in_board and self._row:
            self._row[-1] += data


def parse(page):
    parsed = Text()
    parsed.feed(page)
    return parsed


def test_report_sections_and_numbers(built):
    results = built
    page = (built / "index.html").read_text()
    parsed = parse(page)
    for heading in ("Overview", "Leaderboard", "Manifest", "Suite file as run"):
        assert heading in page
    for study in manifest(results)["studies"]:
        assert f"Study: {study['name']}" in page and str(markupsafe.escape(study["question"])) in page
    records, _ = load_records(results)
    for rec in records.values():
        if rec["final"].get("val_loss") is not None:
            assert f"{rec['final']['val_loss']:.3g}" in parsed.cells
    assert any(r["status"] == "diverged" for r in records.values()) and "diverged" in parsed.cells
    for rec in records.values():
        if rec["status"] == "diverged":  # a step, not a float from a pandas column with gaps
            assert f"diverged @{rec['diverged_step']}</td>" in page
    assert parsed.imgs and all(src.startswith("data:image/png;base64,") for src in parsed.imgs)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page  # nothing fetched from the network
    for kind in ("convergence", "gradient norm", "temporal profile", "profile over training",
                 "spectra and saturation", "factor effects"):
        assert f", {kind}" in page, kind


def test_leaderboard_equals_the_records(built):
    """Geometric mean and log-scale t-interval per (study, configuration), from the raw records."""
    results, m = built, manifest(built)
    page = (built / "index.html").read_text()
    records, _ = load_records(results)
    board = {(row[0].strip(), row[2].strip()): row for row in parse(page).board}
    checked = 0
    for study in m["studies"]:
        by_label = {}
        for rid in study["run_ids"]:
            rec = records[rid]
            label = ", ".join(f"{k}={_value(rec['config'], k)}" for k in study["varying"] or ["cell"])
            by_label.setdefault(label, []).append(rec)
        for label, recs in by_label.items():
            row = board[(study["name"], label)]
            assert row[3].strip() == str(len(recs))
            losses = [r["final"]["val_loss"] for r in recs if r["final"].get("val_loss") is not None]
            if not losses:
                assert row[4].strip().startswith("–")
                assert row[9].split("/")[0].strip() == str(sum(r["status"] == "diverged" for r in recs))
                continue
            mean = statistics.fmean(losses)
            logs = [math.log(v) for v in losses]  # the loss: geometric mean, log-scale interval
            assert row[4].split()[0] == f"{math.exp(statistics.fmean(logs)):.3g}"
            if len(losses) > 1:
                half = T975[len(logs) - 1] * statistics.stdev(logs) / math.sqrt(len(logs))
                low, high = (math.exp(statistics.fmean(logs) + s) for s in (-half, half))
                assert f"[{low:.3g}, {high:.3g}]" in row[4] and low > 0
            assert row[6].strip() == f"{mean / recs[0]['chance_loss']:.3g}"
            checked += 1
    assert checked >= 8


T975 = {1: 12.706, 2: 4.303, 3: 3.182}


def _value(cfg, key):
    value = cfg[key]
    return f"{value:g}" if isinstance(value, float) else value


def test_an_edited_rerun_shows_as_separate_rows_and_figure_lines(results):
    """Rerunning the suite with --set steps=... into the same directory: one row per configuration."""
    from suite.ids import config_id, run_id

    m = manifest(results)
    records, _ = load_records(results)
    cells = next(s for s in m["studies"] if s["name"] == "cells")
    for rid in list(cells["run_ids"]):
        rec = json.loads(json.dumps(records[rid]))
        rec["config"]["steps"] = 300
        rec["run_id"] = run_id(rec["config"], rec["task_version"])
        rec["config_id"] = config_id(rec["config"], rec["task_version"])
        records[rec["run_id"]] = rec
        m["runs"][rec["run_id"]] = rec["config"]
        cells["run_ids"].append(rec["run_id"])
    page = build_report(results, m, loaded=(records, [])).read_text()
    rows = [r for r in parse(page).board if r[0].strip() == "cells"]
    labels = sorted(r[2].strip() for r in rows)
    old = records[cells["run_ids"][0]]["config"]["steps"]
    assert labels == sorted(f"cell={c}, steps={s}" for c in ("gru", "simple_rnn") for s in (old, 300))
    assert all(r[3].strip() == "2" for r in rows)  # two seeds each, not four
    assert "adding (T=12) · steps=300" in page  # the outcome matrix keeps them apart too


def test_every_run_has_a_detail_page(built):
    results = built
    page = (built / "index.html").read_text()
    records, _ = load_records(results)
    links = set(parse(page).links)
    for rid, rec in records.items():
        assert f"detail/{rid}.html" in links
        detail = (results / "detail" / f"{rid}.html").read_text()
        assert rid in detail and "<svg" in detail and f"../runs/{rid}.json" in detail
        if rec["final"].get("val_loss") is not None:
            assert f"{rec['final']['val_loss']:.5g}" in detail
        if rec["status"] == "diverged":
            assert f"at step {rec['diverged_step']}" in detail


def test_outcome_matrix_covers_the_grid(built):
    m = manifest(built)
    records, _ = load_records(built)
    from suite.report.aggregate import leaderboard, outcome_matrix, run_table

    runs = run_table(records, m)
    board = leaderboard(runs)
    clipping = next(s for s in m["studies"] if s["name"] == "clipping")
    matrix = outcome_matrix(board, clipping, runs)
    assert matrix["column_axis"] == "clipnorm" and matrix["columns"] == ["0", "0.5"]
    assert len(matrix["rows"]) == 2 and all(len(r["cells"]) == 2 for r in matrix["rows"])
    assert all(c["text"] != "–" for r in matrix["rows"] for c in r["cells"])


def test_user_strings_are_escaped(results):
    m = manifest(results)
    m["studies"][0]["question"] = "<script>alert('q')</script>"
    m["name"] = "<b>x</b>"
    (results / "suite.json").write_text(json.dumps(m))
    rid = m["studies"][0]["run_ids"][0]
    rec_path = results / "runs" / f"{rid}.json"
    rec = json.loads(rec_path.read_text())
    rec["task"] = rec["config"]["task"] = "<script>alert('t')</script>"
    rec_path.write_text(json.dumps(rec))
    page = build_report(results, m).read_text()
    assert "<script>alert" not in page and "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(&#39;q&#39;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in page
    detail = (results / "detail" / f"{rid}.html").read_text()
    assert "<script>alert" not in detail and "&lt;script&gt;alert(&#39;t&#39;)" in detail


def test_report_command_needs_no_tensorflow(results):
    code = (f"import sys; sys.argv = ['run_suite.py', 'report', {str(results)!r}]; "
            "from suite.cli import main; rc = main(); "
            "assert 'tensorflow' not in sys.modules, 'report imported tensorflow'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("index.html")
    from suite.axes import AXES

    header = (results / "summary.csv").read_text().splitlines()[0].split(",")
    assert set(AXES) <= set(header)  # every axis a column, also those older records lack


def test_corrupt_and_foreign_files_are_skipped_with_a_warning(results):
    (results / "runs" / "broken.json").write_text("{not json")
    (results / "runs" / "notes.txt").write_text("hello")
    rid = next((results / "runs").glob("*.json")).stem
    future = json.loads((results / "runs" / f"{rid}.json").read_text())
    future["schema_version"] = 99
    (results / "runs" / "future.json").write_text(json.dumps(future))
    (results / "runs" / "other.json").write_text(json.dumps({"schema_version": 1, "hello": 1}))
    proc = run_cli("report", str(results))
    assert proc.returncode == 0, proc.stderr
    assert "corrupt record runs/broken.json" in proc.stderr
    assert "foreign file runs/notes.txt" in proc.stderr
    assert "unknown schema version 99" in proc.stderr
    assert "runs/other.json: not a run record (missing run_id" in proc.stderr
    page = (results / "index.html").read_text()
    assert "Warning: skipped corrupt record runs/broken.json" in page


def test_tensorboard_export_holds_every_scalar(results):
    proc = run_cli("report", str(results), "--tensorboard")
    assert proc.returncode == 0, proc.stderr
    tf = pytest.importorskip("tensorflow")
    records, _ = load_records(results)
    rid, rec = next((k, r) for k, r in records.items() if r["status"] == "ok")
    files = list((results / "tensorboard").glob(f"*/*_{rid}/events.out.tfevents.*"))
    assert len(files) == 1 and rec["task"] == files[0].parent.parent.name
    seen = {}
    for event in tf.compat.v1.train.summary_iterator(str(files[0])):
        for v in event.summary.value:
            seen.setdefault(v.tag, {})[event.step] = v.simple_value
    assert seen["train/grad_norm"][5] == pytest.approx(rec["curves"]["grad_norm"][4], rel=1e-6)
    assert len(seen["train/batch_loss"]) == len(rec["curves"]["loss"])
    assert seen["val/loss"][rec["evals"][-1]["step"]] == pytest.approx(rec["evals"][-1]["val_loss"])
    assert seen["health/rho"][rec["probes"][-1]["step"]] == pytest.approx(rec["probes"][-1]["rho"])
    run_dirs = list((results / "tensorboard").glob("*/*"))
    assert len(run_dirs) == len(records)


def test_synthetic_results_at_scale_render_with_capped_figures(tmp_path):
    """The generator behind ``bench --report-records`` makes records the report accepts."""
    from suite.tools import synth

    m = synth.make(tmp_path, 100)  # 20 configurations: 6 + 14 in the factorial study
    records, warnings = load_records(tmp_path)
    assert len(records) == 100 and warnings == []
    page = build_report(tmp_path, m).read_text()
    assert "Showing the 6 best and 6 worst of" in page  # the factorial study has > 12 configs
    assert len(list((tmp_path / "detail").glob("*.html"))) == 100


def test_run_pages_and_figures_made_by_worker_processes_are_the_same(results, monkeypatch):
    from suite.report import pages as pages_module

    build_report(results, manifest(results))
    pages = {p.name: p.read_text() for p in (results / "detail").iterdir()}
    index = (results / "index.html").read_text()
    for p in (results / "detail").iterdir():
        p.unlink()
    monkeypatch.setattr(pages_module, "PAGES_PER_WORKER", 1)
    monkeypatch.setattr(pages_module.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(pages_module, "_tensorflow_loaded", lambda: False)
    calls = []
    real_pool = pages_module.multiprocessing.get_context("fork").Pool
    monkeypatch.setattr(pages_module.multiprocessing, "get_context",
                        lambda method: type("Ctx", (), {"Pool": staticmethod(
                            lambda n: calls.append(n) or real_pool(n))}))
    build_report(results, manifest(results))
    assert calls == [2]
    assert {p.name: p.read_text() for p in (results / "detail").iterdir()} == pages
    assert (results / "index.html").read_text() == index  # figures drawn by the workers too
    assert pages_module._JOB == {}


def test_worker_processes_only_when_they_pay_and_never_after_tensorflow(monkeypatch):
    from suite.report import pages

    monkeypatch.setattr(pages.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(pages, "_tensorflow_loaded", lambda: False)
    assert pages._workers(499, 7) == 0           # few records, few figures: here
    assert pages._workers(500, 0) == 2           # 2 x PAGES_PER_WORKER records
    assert pages._workers(10, 8) == 2            # 2 x FIGURE_JOBS_PER_WORKER figure jobs
    monkeypatch.setattr(pages.os, "cpu_count", lambda: 1)
    assert pages._workers(10_000, 100) == 0      # one core
    monkeypatch.setattr(pages.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(pages, "_tensorflow_loaded", lambda: True)
    assert pages._workers(10_000, 100) == 0      # a fork would inherit TensorFlow's threads


def test_manifest_names_gpu_runs_that_could_not_use_cudnn(results):
    m = manifest(results)
    paths = sorted((results / "runs").glob("*.json"))
    for path, kernel in zip(paths, [{"device": "GPU", "cudnn": True, "why_not": ""},
                                    {"device": "GPU", "cudnn": False,
                                     "why_not": "SimpleRNN has no cuDNN kernel in Keras"}]):
        rec = json.loads(path.read_text())
        rec["kernel"] = kernel
        path.write_text(json.dumps(rec))
    page = build_report(results, m).read_text()
    assert "1 run(s) on GPU, cuDNN" in page and "1 run(s) on GPU, generic kernel" in page
    assert f"<code>{paths[1].stem}</code>" in page.split("could not use cuDNN")[1]
    assert "SimpleRNN has no cuDNN kernel in Keras" in page
