"""End to end through the command line: a tiny suite in real worker processes."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap

import pytest
from conftest import DATA, ROOT, run_cli

from suite.execution.spec import worker_spec
from suite.runs import SUMMARY_COLUMNS
from suite.store.schema import SCHEMA_VERSION, validate_record

TINY = str(DATA / "tiny.toml")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "out"
    proc = run_cli("--suite", TINY, "--out", str(out), "--workers", "2")
    return out, proc


def test_suite_runs_and_prints_the_report_path(tiny_run):
    out, proc = tiny_run
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == f"report: {out / 'index.html'}"
    assert (out / "index.html").stat().st_size > 1000


def test_records_and_summary(tiny_run):
    out, _ = tiny_run
    records = {p.stem: json.loads(p.read_text()) for p in (out / "runs").glob("*.json")}
    assert len(records) == 4
    statuses = sorted(r["status"] for r in records.values())
    assert statuses == ["diverged", "ok", "ok", "ok"]  # the diverged run did not stop the suite
    for rec in records.values():
        assert rec["schema_version"] == SCHEMA_VERSION and rec["config"]["seed"] == rec["seed"]
        assert validate_record(rec) == [], validate_record(rec)
        assert {"python", "tensorflow", "keras", "cpu", "git_commit"} <= set(rec["env"])
        assert rec["finished_at"].endswith("+00:00")
    with open(out / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and set(SUMMARY_COLUMNS) <= set(rows[0])
    assert {"rho", "reach", "diagnosis"} <= set(rows[0])
    diverged = [r for r in rows if r["status"] == "diverged"]
    assert diverged[0]["diverged_step"] and diverged[0]["diagnosis"] == "diverged"


def test_rerun_skips_finished_runs(tiny_run):
    out, _ = tiny_run
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    proc = run_cli("--suite", TINY, "--out", str(out), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "ran 0 run(s) (none); 4 already finished" in proc.stdout
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")} == before


def test_same_run_in_two_processes_is_identical(tiny_run, tmp_path):
    out, _ = tiny_run
    suite = json.loads((out / "suite.json").read_text())
    rid = next(r for r, c in suite["runs"].items() if c["task"] == "copy_memory")
    curves = []
    for i in range(2):
        spec = worker_spec(rid, suite["runs"][rid], [], 1, tmp_path / f"r{i}.json")
        (tmp_path / f"s{i}.json").write_text(json.dumps(spec))
        subprocess.run([sys.executable, "-m", "suite.execution.worker", str(tmp_path / f"s{i}.json")],
                       cwd=ROOT, check=True, capture_output=True)
        rec = json.loads((tmp_path / f"r{i}.json").read_text())
        curves.append((rec["curves"], rec["evals"], rec["probes"]))
    assert curves[0] == curves[1]
    stored = json.loads((out / "runs" / f"{rid}.json").read_text())
    assert stored["curves"] == curves[0][0]  # also equal to the run made with 2 workers


def test_a_worker_that_dies_is_recorded_as_failed(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "crasher.py").write_text(textwrap.dedent('''
        """Crasher (test plugin, 2026): like adding (chance 1/6) but dies in training."""
        import os
        import sys
        from suite.registry import BUILTIN_DIR, load_module_file

        _adding = load_module_file(BUILTIN_DIR / "adding.py")

        class Crasher(type(_adding)):
            name = "crasher"
            def make_data(self, split, size, seed, params):
                worker = getattr(sys.modules["__main__"].__spec__, "name", "") == "suite.execution.worker"
                if split == "train" and worker:  # in the worker, not in the suite's pre-flight
                    os._exit(9)
                return super().make_data(split, size, seed, params)

        TASK = Crasher()
    '''))
    (plugins / "oomer.py").write_text(textwrap.dedent('''
        """Oomer (test plugin, 2026): like adding (chance 1/6) but runs out of memory at step 6."""
        from suite.registry import BUILTIN_DIR, load_module_file

        _adding = load_module_file(BUILTIN_DIR / "adding.py")
        CALLS = []

        class Oomer(type(_adding)):
            name = "oomer"
            def make_data(self, split, size, seed, params):
                if split == "train":
                    CALLS.append(size)
                    if len(CALLS) == 3:  # the probe batch, the first chunk, then the second chunk
                        raise MemoryError("cannot allocate the second chunk")
                return super().make_data(split, size, seed, params)

        TASK = Oomer()
    '''))
    suite = tmp_path / "s.toml"
    suite.write_text(textwrap.dedent('''
        name = "crash"
        [defaults]
        steps = 10
        eval_every = 5
        probe_every = 5
        hidden = 4
        [[study]]
        name = "c"
        question = "does a dying worker get recorded?"
        tasks = ["crasher", "oomer", "adding"]
        grid = { cell = ["gru"] }
    '''))
    out = tmp_path / "out"
    proc = run_cli("--suite", str(suite), "--out", str(out), "--tasks-path", str(plugins),
                   "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
    by_task = {r["task"]: r for r in recs}
    assert by_task["crasher"]["status"] == "failed"
    assert "worker exited with code 9" in by_task["crasher"]["error"]
    oom = by_task["oomer"]
    assert oom["status"] == "failed" and oom["error"].startswith("out of memory: MemoryError")
    assert oom["failed_step"] == 6 and oom["steps_done"] == 5 and len(oom["curves"]["loss"]) == 5
    assert [e["step"] for e in oom["evals"]] == [0, 5] and oom["traceback"]
    assert by_task["adding"]["status"] == "ok"  # the suite went on
    page = (out / "index.html").read_text()
    assert "out of memory: MemoryError: cannot allocate the second chunk" in page


def test_sigterm_stops_cleanly_and_a_rerun_resumes(tmp_path):
    import signal
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_suite.py"), "--suite", TINY, "--out",
                             str(out), "--workers", "1"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / "runs").glob("*.json")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    text, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, text
    assert "run the same command again to resume" in text
    done = {p.name for p in (out / "runs").glob("*.json")}
    assert 1 <= len(done) < 4
    again = run_cli("--suite", TINY, "--out", str(out), "--workers", "1")
    assert again.returncode == 0
    assert f"{len(done)} already finished" in again.stdout
    assert len(list((out / "runs").glob("*.json"))) == 4


def test_verify_reruns_and_compares(tiny_run, tmp_path):
    import shutil

    out, _ = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    proc = run_cli("verify", str(copy), "--sample", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "2/2 identical"
    first = sorted((copy / "runs").glob("*.json"))[0]
    rec = json.loads(first.read_text())
    rec["curves"]["loss"][3] += 1e-7  # one changed number
    first.write_text(json.dumps(rec))
    proc = run_cli("verify", str(copy), "--sample", "2", "--workers", "2")  # two at once
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith(f"{first.stem}  DIFFERS at .curves.loss[3]")  # run-id order
    assert lines[1].endswith("  identical") and lines[-1] == "1/2 identical"


def _start(out, workers="1", *extra):
    return subprocess.Popen([sys.executable, str(ROOT / "run_suite.py"), "--suite", TINY, "--out",
                             str(out), "--workers", workers, *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout=120):
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_sigkill_of_the_suite_loses_nothing_and_leaves_no_worker(tmp_path):
    import os
    import signal

    out = tmp_path / "out"
    longer = ("--set", "steps=1500", "--set", "eval_every=500")  # runs of several seconds
    proc = _start(out, "2", *longer)
    assert _wait_for(lambda: len(list((out / "runs").glob("*.json"))) >= 1)
    assert _worker_pids(out)  # a worker is busy with the next run
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # the workers die with the suite process (no orphan keeps writing)
    assert _wait_for(lambda: not _worker_pids(out), timeout=3)
    for path in (out / "runs").glob("*.json"):
        rec = json.loads(path.read_text())  # every record present is complete
        assert rec["status"] in ("ok", "diverged") and rec["finished_at"]
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    again = run_cli("--suite", TINY, "--out", str(out), "--workers", "2", *longer)
    assert again.returncode == 0, again.stderr
    assert f"{len(kept)} already finished" in again.stdout
    after = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert len(after) == 4 and all(after[name] == t for name, t in kept.items())


def _worker_pids(out):
    import os

    mark = str(out / ".work").encode()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmd = fh.read().split(b"\0")
            except OSError:
                continue
            if b"suite.execution.worker" in cmd and any(c.startswith(mark) for c in cmd):
                pids.append(int(entry))
    return pids


def test_two_suite_processes_on_one_directory(tmp_path):
    out = tmp_path / "out"
    first = _start(out)
    assert _wait_for(lambda: (out / "suite.json").exists())
    second = _start(out)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 2
    assert err.strip().splitlines() == [
        f"error: {out}: another suite process is writing this directory; wait for it or "
        "choose another --out"]
    first_out, _ = first.communicate(timeout=300)
    assert first.returncode == 0
    assert len(list((out / "runs").glob("*.json"))) == 4
