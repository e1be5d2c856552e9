"""``bench``: the JSON keys issue #5 names, runs/hour per worker count, report timing.
Tiny sizes: these check that the benchmarks run and report, not the figures themselves."""
from __future__ import annotations

import json

from conftest import DATA, run_cli


def test_bench_json_has_the_named_keys():
    proc = run_cli("bench", "--json", "--steps", "20", "--hidden", "8", "12", "--seq-len", "10",
                   "--batch", "8", "--probe-every", "10")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["hidden"] for r in results] == [8, 12]  # one result per size
    for res in results:
        for key in ("plain_ms", "instrumented_ms", "probed_ms", "overhead_ratio", "probe_overhead_ratio",
                    "plain_xla_ms", "instrumented_xla_ms", "probed_xla_ms", "overhead_ratio_xla",
                    "probe_overhead_ratio_xla", "xla_ratio_plain", "xla_ratio_instrumented",
                    "xla_ratio_probed", "plain_cores", "instrumented_xla_cores", "probed_xla_cores",
                    "instrumented_cpu_ms", "xla_cpu_ratio_instrumented"):
            assert res[key] > 0, key
        assert res["plain_cores"] < 8  # CPU seconds over wall seconds: a few cores at most
        assert res["overhead_ratio"] == res["instrumented_ms"] / res["plain_ms"]
        assert res["overhead_ratio_xla"] == res["instrumented_xla_ms"] / res["plain_xla_ms"]
        assert res["xla_ratio_probed"] == res["probed_xla_ms"] / res["probed_ms"]
        assert res["xla_cpu_ratio_plain"] == res["plain_xla_cpu_ms"] / res["plain_cpu_ms"]
        assert "compile_s" in res and res["instrumented_xla_first_step_s"] > 0
        assert res["cell"] == "lstm" and res["probes_run"] >= 1 and res["probes_xla_run"] >= 1


def test_bench_suite_reports_runs_per_hour_per_worker_count():
    proc = run_cli("bench", "--suite", str(DATA / "tiny.toml"), "--runs", "2",
                   "--workers-list", "1", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert [r["workers"] for r in res["results"]] == [1, 2] and res["runs"] == 2
    assert all(r["runs"] == 2 and r["runs_per_hour"] > 0 for r in res["results"])
    assert res["results"][0]["speedup"] == 1.0


def test_bench_report_records_times_the_report():
    proc = run_cli("bench", "--report-records", "20", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["report_records"] == 20 and res["report_s"] > 0 and res["index_mb"] > 0


def test_suite_and_report_modes_never_load_tensorflow():
    """Only the per-step measurement (suite.tools.bench_step) imports TensorFlow."""
    import subprocess
    import sys

    from conftest import ROOT

    code = f"""
import sys
from pathlib import Path
from suite.tools import bench

class Outcome:
    ran = 1
bench.run_local = lambda suite, out, workers, paths: Outcome()  # no training: the driver's imports only
bench.suite_throughput({str(DATA / "tiny.toml")!r}, 1, [1], [])
bench.report_scale(3)
loaded = sorted(m for m in ("tensorflow", "keras", "suite.tools.bench_step") if m in sys.modules)
assert not loaded, loaded
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
