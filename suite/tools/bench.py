"""``python run_suite.py bench``: what the instruments cost, in ms per training step.

In one process, on the same model and data (default LSTM, hidden 128, batch 64,
adding problem at T = 100), three variants train for the same steps:

* ``plain``: a ``keras.Sequential`` with Keras' own ``train_step``, ``model.fit``;
* ``instrumented``: the suite's model with the gradient-norm ``train_step``
  and the per-step recorder (what every suite run pays);
* ``probed``: the same plus the gradient-health probes at the default cadence
  (``probe_every`` 100; the trajectory probe on every fifth probe).

The variants train in interleaved rounds of one probe cycle each (so the
drift of a noisy machine hits all of them alike). Per-step costs are medians
over the measured steps; the probed variant is a mean over whole probe
cycles, because a median would hide the probes (means of all three are in
the JSON too). The ratios compare with ``plain``; the first-step
(tracing) times are reported separately, as is the probe's one-time tracing.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np


def _fit(model, x, y, batch: int, callbacks: list) -> list[float]:
    """Trains one epoch over ``x`` and returns the seconds of each step."""
    import keras

    stamps: list[float] = []
    clock = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: stamps.append(time.perf_counter()))
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0,
              callbacks=callbacks + [clock])
    return list(np.diff([t0] + stamps))


def measure(cell: str = "lstm", hidden: int = 128, batch: int = 64, seq_len: int = 100,
            steps: int = 500, warmup: int = 20, probe_every: int = 100,
            threads: int = 0) -> dict[str, Any]:
    """Runs the three variants and returns the figures (see module docstring).

    Args:
        cell, hidden, batch, seq_len: The model and data (defaults: LSTM, 128, 64, 100).
        steps: Measured steps per variant (default 500: one full trajectory-probe cycle).
        warmup: Steps before measuring (tracing excluded from medians).
        probe_every: Probe cadence of the probed variant (default: the suite default 100).
        threads: TensorFlow intra/inter-op threads (0: TensorFlow's default).
    """
    from suite.execution.worker import configure_threads

    configure_threads(threads)
    import keras
    import tensorflow as tf

    from suite.config import AXES
    from suite.health.probe import make_probe
    from suite.model.builder import build_model
    from suite.model.cells import LAYERS
    from suite.model.losses import keras_loss
    from suite.model.training import StepRecorder, make_optimizer
    from suite.registry import discover

    task = discover(entry_points=False)["adding"]
    cfg = {k: a.default for k, a in AXES.items()}
    cfg.update(task="adding", task_params={"seq_len": seq_len}, seed=0, cell=cell, hidden=hidden,
               batch_size=batch, probe_every=probe_every)
    p = cfg["task_params"]
    x, y = task.make_data("train", batch * (warmup + steps), 0, p)
    xw, yw = x[:batch * warmup], y[:batch * warmup]
    out: dict[str, Any] = {"cell": cell, "hidden": hidden, "batch": batch, "seq_len": seq_len,
                           "steps": steps, "warmup": warmup, "probe_every": probe_every,
                           "tensorflow": tf.__version__, "keras": keras.__version__}

    keras.utils.set_random_seed(0)
    plain = keras.Sequential([keras.Input((seq_len, 2)), LAYERS[cell](hidden), keras.layers.Dense(1)])
    plain.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")

    def suite_model():
        model = build_model(cfg, task.input_spec(p), task.head(p))
        model.compile(optimizer=make_optimizer(cfg), loss=keras_loss("mse"))
        model.optimizer.build(model.trainable_variables)
        return model

    instrumented, probed = suite_model(), suite_model()
    xp, yp = task.make_data("train", min(32, batch), 1, p)
    probe = make_probe(probed, xp, yp)
    t0 = time.perf_counter()
    probe(0, trajectory=True)  # traces both probe functions
    out["probe_first_call_s"] = time.perf_counter() - t0
    probe_seconds = [0.0]

    def timed_probe(step: int) -> None:
        t = time.perf_counter()
        probe(step)
        probe_seconds[0] += time.perf_counter() - t

    variants = {"plain": (plain, []),
                "instrumented": (instrumented, [StepRecorder(chance=task.chance_loss(p))]),
                "probed": (probed, [StepRecorder(chance=task.chance_loss(p), probe=timed_probe,
                                                 probe_every=probe_every)])}
    for name, (model, cbs) in variants.items():
        out[f"{name}_first_step_s"] = _fit(model, xw, yw, batch, cbs)[0]
    probe_seconds[0] = 0.0
    # interleaved rounds of one probe cycle each, so drift of a noisy machine hits all alike
    times: dict[str, list[float]] = {name: [] for name in variants}
    rounds = max(1, steps // probe_every)
    per_round = steps // rounds
    for r in range(rounds):
        lo = batch * (warmup + r * per_round)
        xs, ys = x[lo:lo + batch * per_round], y[lo:lo + batch * per_round]
        order = list(variants)[r % 3:] + list(variants)[:r % 3]
        for name in order:
            model, cbs = variants[name]
            times[name] += _fit(model, xs, ys, batch, cbs)
    for name in variants:
        out[f"{name}_median_ms"] = 1e3 * float(np.median(times[name]))
        out[f"{name}_mean_ms"] = 1e3 * float(np.mean(times[name]))
    out.update(plain_ms=out["plain_median_ms"], instrumented_ms=out["instrumented_median_ms"],
               probed_ms=out["probed_mean_ms"], probes_run=len(probe.results()) - 1)
    out["overhead_ratio"] = out["instrumented_ms"] / out["plain_ms"]
    out["probe_overhead_ratio"] = out["probed_ms"] / out["plain_mean_ms"]
    out["instrumented_mean_ratio"] = out["instrumented_mean_ms"] / out["plain_mean_ms"]
    # the probes' own time over the rest of the probed run's time: immune to machine drift
    total = out["probed_ms"] * len(times["probed"]) / 1e3
    out["probe_seconds"] = probe_seconds[0]
    out["probe_cost_fraction"] = probe_seconds[0] / (total - probe_seconds[0])
    return out


def report_scale(n_runs: int) -> dict[str, Any]:
    """Seconds for ``run_suite.py report`` on ``n_runs`` synthetic records (fresh process)."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from suite.env import ROOT
    from suite.tools import synth

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
    import contextlib
    import sys
    import tempfile
    from pathlib import Path

    from suite.config import Suite, load_suite, parse_assignments
    from suite.execution.runner import run_local, threads_per_worker
    from suite.registry import discover

    full = load_suite(suite_name, discover(), overrides=parse_assignments(overrides, "--set"))
    ids = list(full.runs)[:n_runs]
    sub = Suite(name=full.name, source=full.source, text=full.text,
                runs={r: full.runs[r] for r in ids}, studies=[])
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


def main(argv: list[str]) -> int:
    """``run_suite.py bench`` entry point."""
    ap = argparse.ArgumentParser(prog="run_suite.py bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--cell", default="lstm", choices=["simple_rnn", "lstm", "gru", "all"])
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=100)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--probe-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0, help="TF threads (default: TF's choice)")
    ap.add_argument("--report-records", type=int, nargs="+", metavar="N",
                    help="instead: time `report` on N synthetic run records (e.g. 1000 10000)")
    ap.add_argument("--suite", help="instead: runs per hour of this suite's first --runs runs with "
                    "each of --workers-list")
    ap.add_argument("--runs", type=int, default=4, help="runs for --suite (default 4)")
    ap.add_argument("--workers-list", type=int, nargs="+", default=None, metavar="N",
                    help="worker counts for --suite (default: 1 and one per core)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override for --suite runs, e.g. steps=300")
    args = ap.parse_args(argv)
    if args.suite:
        import os

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
    cells = ["lstm", "simple_rnn", "gru"] if args.cell == "all" else [args.cell]
    results = [measure(c, args.hidden, args.batch, args.seq_len, args.steps,
                       probe_every=args.probe_every, threads=args.threads) for c in cells]
    if (args.hidden, args.batch, args.seq_len, args.probe_every, args.threads) == (128, 64, 100, 100, 1):
        from suite.execution.estimate import BENCH_FILE, save_bench

        save_bench(results)  # the reference configuration: --dry-run estimates use these
        print(f"(saved to {BENCH_FILE} for --dry-run estimates)", file=sys.stderr)
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=1))
        return 0
    for r in results:
        print(f"{r['cell']}: hidden {r['hidden']}, batch {r['batch']}, T={r['seq_len']}, "
              f"{r['steps']} steps")
        print(f"  plain         {r['plain_ms']:7.2f} ms/step (first step {r['plain_first_step_s']:.2f} s)")
        print(f"  instrumented  {r['instrumented_ms']:7.2f} ms/step  ratio {r['overhead_ratio']:.3f} "
              f"(first step {r['instrumented_first_step_s']:.2f} s)")
        print(f"  probed        {r['probed_ms']:7.2f} ms/step  ratio {r['probe_overhead_ratio']:.3f}, "
              f"time inside probes {100 * r['probe_cost_fraction']:.1f}% of training "
              f"({r['probes_run']} probes; one-time tracing {r['probe_first_call_s']:.2f} s)")
    return 0
