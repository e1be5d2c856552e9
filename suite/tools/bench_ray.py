"""``python3 -m suite.tools.bench_ray``: what running under Ray costs per run, against local runs.

Many tiny runs (default 100 runs of 5 steps: almost all of a run's time is
starting it) go through the command a user types, in a fresh process each:

* ``local --workers 1`` and ``local --workers 2``: the local executor;
* ``ray 1 node`` and ``ray 2 nodes``: ``--executor ray --address ...`` on a real
  cluster started here (:class:`suite.tools.ray_cluster.LocalCluster`: a head
  without CPUs and one or two worker nodes of 1 CPU, token authentication).

From the records it prints, per configuration: runs per hour over the busy
span (first run started to last run ended) and over the whole command
(start-up and report included); the *gap* of each run, the time its slot
(a local worker, a 1-CPU node) did not train before the run started (the
previous run's end, or the submission for a slot's first run, to the start
of training: process start, imports, Ray's scheduling); and the seconds
training took. A run's start is its end minus its ``timing.wall_s``; its
end is ``env.ray.run_ended`` under Ray and the record file's time for local
runs (the worker writes it as it ends). Under Ray, the gap splits into
Ray's part (previous end to ``env.ray.task_started``: scheduling, a fresh
worker process, ``import ray``) and the imports of the run (TensorFlow).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from suite.env import ROOT
from suite.tools.ray_cluster import LocalCluster

SUITE = """name = "bench-ray"
seeds = {seeds}

[defaults]
steps = {steps}
eval_every = {steps}
probe_every = {steps}
eval_size = 32
batch_size = 8
hidden = 8
cell = "gru"

[tasks.adding]
seq_len = 10

[[study]]
name = "dispatch"
question = "What does starting a run cost?"
tasks = ["adding"]
"""


def write_suite(path: Path, runs: int, steps: int) -> Path:
    """A suite of ``runs`` tiny runs (seeds 0 to runs - 1) of ``steps`` steps."""
    path.write_text(SUITE.format(seeds=list(range(runs)), steps=steps))
    return path


def _run_command(suite: Path, out: Path, extra: list[str], env: dict[str, str] | None) -> float:
    """Runs the suite with ``run_suite.py``; returns when it started (Unix time)."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, str(ROOT / "run_suite.py"), "--suite", str(suite),
                           "--out", str(out), *extra], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"run_suite.py {' '.join(extra)} failed:\n{proc.stdout[-2000:]}"
                           f"\n{proc.stderr[-2000:]}")
    return t0


def _spans(out: Path) -> list[dict[str, Any]]:
    """Per run: ``slot`` (Ray node or None), ``start``, ``end``, ``submitted``, ``entered``."""
    rows = []
    for path in (out / "runs").glob("*.json"):
        rec = json.loads(path.read_text())
        if rec["status"] == "failed":
            raise RuntimeError(f"{path}: run failed: {rec.get('error')}")
        ray = rec.get("env", {}).get("ray")
        end = ray["run_ended"] if ray else path.stat().st_mtime
        rows.append({"slot": ray["node_id"] if ray else None, "start": end - rec["timing"]["wall_s"],
                     "end": end, "submitted": ray["submitted"] if ray else None,
                     "entered": ray["task_started"] if ray else None})
    return sorted(rows, key=lambda r: r["start"])


def gaps(rows: list[dict[str, Any]], slots: int, t0: float) -> list[dict[str, float]]:
    """Each run's gap: the time its slot did not train before it started.

    Ray runs carry their slot (the node); local runs are assigned greedily to
    the slot that freed last before they started (a local worker starts only
    when another one ends). A slot's first run counts from its submission
    (Ray) or from the command's start ``t0`` (local).
    """
    free: dict[Any, float] = {}  # slot -> end of its last run
    out = []
    for i, row in enumerate(rows):
        slot = row["slot"]
        if slot is None:
            ready = [s for s, end in free.items() if end <= row["start"]]
            slot = max(ready, key=free.get) if ready and len(free) >= slots else f"local{i}"
        before = free.get(slot, row["submitted"] if row["submitted"] is not None else t0)
        ray_part = row["entered"] - before if row["entered"] is not None else None
        out.append({"gap": row["start"] - before, "ray": ray_part, "train": row["end"] - row["start"]})
        free[slot] = row["end"]
    return out


def summarise(label: str, out: Path, slots: int, t0: float, wall: float) -> dict[str, Any]:
    """The figures of one configuration (see the module docstring)."""
    rows = _spans(out)
    each = gaps(rows, slots, t0)
    busy = max(r["end"] for r in rows) - min(r["start"] for r in rows)
    ray_parts = [g["ray"] for g in each if g["ray"] is not None]
    pct = statistics.quantiles([g["gap"] for g in each], n=10)
    return {"config": label, "slots": slots, "runs": len(rows),
            "runs_per_hour_busy": 3600 * len(rows) / busy, "runs_per_hour_command": 3600 * len(rows) / wall,
            "gap_median_s": statistics.median(g["gap"] for g in each), "gap_p90_s": pct[-1],
            "ray_part_median_s": statistics.median(ray_parts) if ray_parts else None,
            "train_median_s": statistics.median(g["train"] for g in each), "command_s": wall}


def measure_local(suite: Path, workers: int, tmp: Path) -> dict[str, Any]:
    """The suite with the local executor and ``workers`` workers."""
    out = tmp / f"local{workers}"
    t0 = _run_command(suite, out, ["--workers", str(workers)], None)
    return summarise(f"local --workers {workers}", out, workers, t0, time.time() - t0)


def measure_ray(suite: Path, nodes: int, tmp: Path) -> dict[str, Any]:
    """The suite on a fresh cluster of ``nodes`` 1-CPU worker nodes, joined by address."""
    out = tmp / f"ray{nodes}"
    cluster = LocalCluster(workers=nodes, cpus=1).start()
    try:
        t0 = _run_command(suite, out, ["--executor", "ray", "--address", cluster.address],
                          cluster.driver_env())
        wall = time.time() - t0
    finally:
        left = cluster.stop()
        if left:
            print(f"warning: processes of the bench's Ray cluster survived: {left}", file=sys.stderr)
    return summarise(f"ray {nodes} node{'s' if nodes > 1 else ''}", out, nodes, t0, wall)


def table(rows: list[dict[str, Any]]) -> str:
    """The figures as a fixed-width table."""
    head = (f"{'configuration':18s} {'runs':>4s} {'runs/h busy':>11s} {'runs/h cmd':>10s} "
            f"{'gap med s':>9s} {'gap p90 s':>9s} {'ray part s':>10s} {'train s':>7s}")
    lines = [head]
    for r in rows:
        ray = f"{r['ray_part_median_s']:10.2f}" if r["ray_part_median_s"] is not None else f"{'-':>10s}"
        lines.append(f"{r['config']:18s} {r['runs']:4d} {r['runs_per_hour_busy']:11.0f} "
                     f"{r['runs_per_hour_command']:10.0f} {r['gap_median_s']:9.2f} {r['gap_p90_s']:9.2f} "
                     f"{ray} {r['train_median_s']:7.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs the measurements and prints the table (and ``--json``)."""
    p = argparse.ArgumentParser(prog="python3 -m suite.tools.bench_ray", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=100, help="tiny runs per configuration (default 100)")
    p.add_argument("--steps", type=int, default=5, help="training steps per run (default 5)")
    p.add_argument("--local", type=int, nargs="*", default=[1, 2], metavar="W",
                   help="local worker counts (default 1 2)")
    p.add_argument("--nodes", type=int, nargs="*", default=[1, 2], metavar="N",
                   help="Ray worker node counts (default 1 2)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        suite = write_suite(Path(tmp) / "bench.toml", args.runs, args.steps)
        for workers in args.local:
            rows.append(measure_local(suite, workers, Path(tmp)))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        for nodes in args.nodes:
            rows.append(measure_ray(suite, nodes, Path(tmp)))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
