"""The report, built from small committed example results (no training here)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from conftest import DATA, ROOT, run_cli
from suite.report import build_report
from suite.results import load_records

EXAMPLE = DATA / "example_results"


@pytest.fixture
def results(tmp_path):
    out = tmp_path / "res"
    shutil.copytree(EXAMPLE, out)
    return out


def manifest(out):
    return json.loads((out / "suite.json").read_text())


class Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.imgs, self.scripts = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])
        if tag == "script":
            self.scripts += 1

    def handle_data(self, data):
        if data.strip():
            self.cells.append(data.strip())


def test_report_sections_and_numbers(results):
    path = build_report(results, manifest(results))
    page = path.read_text()
    parsed = Text()
    parsed.feed(page)
    for study in manifest(results)["studies"]:
        assert f"Study: {study['name']}" in page and study["question"] in page
    records, _ = load_records(results)
    for rec in records.values():
        if rec["final"].get("val_loss") is not None:
            assert f"{rec['final']['val_loss']:.3g}" in parsed.cells
    assert any(r["status"] == "diverged" for r in records.values()) and "diverged" in parsed.cells
    assert parsed.imgs and all(src.startswith("data:image/png;base64,") for src in parsed.imgs)
    assert "http://" not in page and "https://" not in page  # nothing fetched from the network
    assert "Manifest" in page and "Suite file as run" in page


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
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;q&#39;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in page


def test_report_command_needs_no_tensorflow(results):
    code = (f"import sys; sys.argv = ['run_suite.py', 'report', {str(results)!r}]; "
            "from suite.cli import main; rc = main(); "
            "assert 'tensorflow' not in sys.modules, 'report imported tensorflow'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("index.html")
    assert (results / "summary.csv").exists()


def test_corrupt_and_foreign_files_are_skipped_with_a_warning(results):
    (results / "runs" / "broken.json").write_text("{not json")
    (results / "runs" / "notes.txt").write_text("hello")
    rid = next((results / "runs").glob("*.json")).stem
    future = json.loads((results / "runs" / f"{rid}.json").read_text())
    future["schema_version"] = 99
    (results / "runs" / "future.json").write_text(json.dumps(future))
    proc = run_cli("report", str(results))
    assert proc.returncode == 0, proc.stderr
    assert "corrupt record runs/broken.json" in proc.stderr
    assert "foreign file runs/notes.txt" in proc.stderr
    assert "unknown schema version 99" in proc.stderr
    page = (results / "index.html").read_text()
    assert "Warning: skipped corrupt record runs/broken.json" in page
