"""``python run_suite.py bench``: what the instruments cost, in ms per training step.

In one process, on the same model and data (default LSTM, hidden 128, batch 64,
adding problem at T = 100), three variants train for the same steps, each
uncompiled and compiled with XLA (``jit_compile=True``; the ``*_xla`` figures):

* ``plain``: a ``keras.Sequential`` with Keras' own ``train_step``, ``model.fit``;
* ``instrumented``: the suite's model with the gradient-norm ``train_step``
  and the per-step recorder (what every suite run pays);
* ``probed``: the same plus the gradient-health probes at the default cadence
  (``probe_every`` 100; the trajectory probe on every fifth probe).

The variants train in interleaved rounds of one probe cycle each (so the
drift of a noisy machine hits all of them alike). Per-step costs are medians
over the measured steps; the probed variant is a mean over whole probe
cycles, because a median would hide the probes (means of all variants are in
the JSON too). The overhead ratios compare with ``plain`` of the same kind
(uncompiled or compiled); ``xla_ratio_<variant>`` is compiled over uncompiled;
the first-step (tracing, compiling) times are reported separately, as is the
probes' one-time tracing, and ``compile_s`` is what XLA adds to them once per run.
``<variant>_cores`` is the CPU time the process used over the variant's wall time:
1.0 means one busy core, more means that the step kept more threads busy than
``--threads`` suggests (docs/performance.md, "Compiled steps").
``--hidden`` takes several sizes. The process runs without TensorFlow's op
determinism (Keras drops ``jit_compile`` under it).

The measurement itself lives in :mod:`suite.tools.bench_step`, the only
module of ``bench`` that imports TensorFlow; this module imports it in one
place (``main``), so that ``--suite`` and ``--report-records`` never load
TensorFlow.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from suite.env import ROOT
from suite.execution.estimate import BENCH_FILE, save_bench
from suite.execution.runner import run_local, threads_per_worker
from suite.registry import discover
from suite.suite_file import Suite, load_suite, parse_assignments
from suite.tools import synth


def report_scale(n_runs: int) -> dict[str, Any]:
    """Seconds for ``run_suite.py report`` on ``n_runs`` synthetic records (fresh process)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        synth.make(Path(tmp), n_runs)
        made = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "run_suite.py"), "report", tmp], check=True,
                       capture_output=True)
        took = time.perf_counter() - t0
        size = (Path(tmp) / "index.html").stat().st_size
        detail = sum(p.stat().st_size for p in (Path(tmp) / "detail").iterdir())
    return {"report_records": n_runs, "report_s": took, "generate_s": made,
            "index_mb": size / 2**20, "detail_mb": detail / 2**20}


def suite_throughput(suite_name: str, n_runs: int, worker_counts: list[int],
                     overrides: list[str]) -> dict[str, Any]:
    """Runs the first ``n_runs`` runs of a suite with each worker count; runs per hour.

    Every worker count trains the same runs from scratch in a temporary
    directory, with the thread setting the suite uses (cores / workers per run).
    """
    full = load_suite(suite_name, discover(), overrides=parse_assignments(overrides, "--set"))
    ids = list(full.runs)[:n_runs]
    sub = Suite(name=full.name, source=full.source, text=full.text,
                runs={r: full.runs[r] for r in ids}, studies=[],
                lengths={r: full.lengths.get(r) for r in ids},
                widths={r: full.widths.get(r) for r in ids})
    rows = []
    for workers in worker_counts:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(sys.stderr):  # progress lines stay off --json output
                outcome = run_local(sub, Path(tmp), workers, [])
            wall = time.perf_counter() - t0
        rows.append({"workers": workers, "threads_per_worker": threads_per_worker(workers),
                     "wall_s": wall, "runs": outcome.ran, "runs_per_hour": 3600 * outcome.ran / wall})
    base = rows[0]["runs_per_hour"]
    for r in rows:
        r["speedup"] = r["runs_per_hour"] / base
    return {"suite": full.name, "runs": len(ids), "set": overrides, "results": rows}


def main(args: argparse.Namespace) -> int:
    """``run_suite.py bench`` with its parsed arguments (:func:`suite.usage.parser`)."""
    if args.suite:
        counts = args.workers_list or sorted({1, os.cpu_count() or 1})
        res = suite_throughput(args.suite, args.runs, counts, args.set)
        if args.json:
            print(json.dumps(res, indent=1))
            return 0
        print(f"suite {res['suite']}: first {res['runs']} runs" + (f", --set {' '.join(res['set'])}"
                                                                  if res["set"] else ""))
        for r in res["results"]:
            print(f"  {r['workers']} worker(s) x {r['threads_per_worker']} thread(s): "
                  f"{r['wall_s']:.0f} s wall, {r['runs_per_hour']:.0f} runs/hour, "
                  f"speedup {r['speedup']:.2f}")
        return 0
    if args.report_records:
        rows = [report_scale(n) for n in args.report_records]
        if args.json:
            print(json.dumps(rows[0] if len(rows) == 1 else rows, indent=1))
        for r in rows if not args.json else []:
            print(f"report on {r['report_records']} records: {r['report_s']:.1f} s "
                  f"(index.html {r['index_mb']:.1f} MB, run pages {r['detail_mb']:.0f} MB; "
                  f"generating the records took {r['generate_s']:.1f} s)")
        return 0
    # deferred: the only TensorFlow import of bench (the modes above never load TensorFlow)
    from suite.tools.bench_step import measure

    cells = ["lstm", "simple_rnn", "gru"] if args.cell == "all" else [args.cell]
    sizes = args.hidden if isinstance(args.hidden, list) else [args.hidden]
    results = [measure(c, h, args.batch, args.seq_len, args.steps, probe_every=args.probe_every,
                       threads=args.threads) for h in sizes for c in cells]
    if (args.batch, args.seq_len, args.probe_every, args.threads) == (64, 100, 100, 1):
        save_bench(results)  # the reference configuration: --dry-run estimates use these
        print(f"(saved to {BENCH_FILE} for --dry-run estimates)", file=sys.stderr)
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=1))
    else:
        _print_step_costs(results)
    return 0


def _print_step_costs(results: list[dict[str, Any]]) -> None:
    """Prints the figures of :func:`suite.tools.bench_step.measure`: one block per cell and size,
    then a table of the compiled over uncompiled ratios."""
    for r in results:
        print(f"{r['cell']}: hidden {r['hidden']}, batch {r['batch']}, T={r['seq_len']}, "
              f"{r['steps']} steps; ms/step uncompiled | XLA | XLA/uncompiled")
        for name in ("plain", "instrumented", "probed"):
            print(f"  {name:13s} {r[name + '_ms']:7.2f} | {r[name + '_xla_ms']:7.2f} | "
                  f"{r['xla_ratio_' + name]:.2f}")
        print(f"  overhead over plain: instrumented {r['overhead_ratio']:.3f} | "
              f"{r['overhead_ratio_xla']:.3f}, probed {r['probe_overhead_ratio']:.3f} | "
              f"{r['probe_overhead_ratio_xla']:.3f}; time inside probes "
              f"{100 * r['probe_cost_fraction']:.1f}% | {100 * r['probe_xla_cost_fraction']:.1f}%")
        print(f"  cores busy (CPU time / wall time): instrumented {r['instrumented_cores']:.2f} | "
              f"{r['instrumented_xla_cores']:.2f}; CPU ms/step {r['instrumented_cpu_ms']:.2f} | "
              f"{r['instrumented_xla_cpu_ms']:.2f} | {r['xla_cpu_ratio_instrumented']:.2f}")
        print(f"  first step {r['instrumented_first_step_s']:.2f} s | "
              f"{r['instrumented_xla_first_step_s']:.2f} s, first probe {r['probe_first_call_s']:.2f} s | "
              f"{r['probe_xla_first_call_s']:.2f} s: XLA compile costs {r['compile_s']:.1f} s per run")
    if len(results) > 1:
        print("\nXLA / uncompiled ms/step (plain, instrumented, probed):")
        print("| cell | hidden | plain | instrumented | probed | instrumented, CPU time | "
              "cores busy, uncompiled / XLA | compile s |")
        print("|---|---|---|---|---|---|---|---|")
        for r in results:
            print(f"| {r['cell']} | {r['hidden']} | {r['xla_ratio_plain']:.2f} | "
                  f"{r['xla_ratio_instrumented']:.2f} | {r['xla_ratio_probed']:.2f} | "
                  f"{r['xla_cpu_ratio_instrumented']:.2f} | {r['instrumented_cores']:.2f} / "
                  f"{r['instrumented_xla_cores']:.2f} | {r['compile_s']:.1f} |")
