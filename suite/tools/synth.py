"""Synthetic result sets for measuring the report at scale (no training).

``make(DIR, n_runs)`` writes a manifest and ``n_runs`` records shaped like
real ones (2000 steps of curves, 21 evaluations and probes with 100-step
profiles, about 5% diverged and 1% failed runs) for a suite patterned after
``suites/full.toml``: a ``cells`` study (3 cells x adding, copy memory) and a
``factorial`` study (cell x 8 initializers x 4 BatchNorm modes x 2 clipnorms
on three tasks). Seeds: 5, or more when ``n_runs`` needs them. Used by
``run_suite.py bench --report-records N``.
"""
from __future__ import annotations

import functools
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np

from suite.api import Task, sequence_length
from suite.axes import resolve
from suite.registry import discover
from suite.store.io import atomic_write_json, record_path
from suite.store.schema import SCHEMA_VERSION, RunRecord, run_record

CELLS = ("simple_rnn", "lstm", "gru")
INITS = ("default", "glorot_uniform", "identity", "orthogonal:0.5", "orthogonal:2.0",
         "normal:0.5", "normal:1.0", "normal:2.0")
BN = ("none", "input", "output", "recurrent")
CHANCE = {"adding": 1 / 6, "copy_memory": 10 * math.log(8) / 120, "char_lm": 4.68}
STEPS, EVERY, T = 2000, 100, 100


def _configs() -> list[tuple[str, str, dict[str, Any]]]:
    """(study, task, axes) for every configuration, cells study first."""
    out = [("cells", task, {"cell": c}) for task in ("adding", "copy_memory") for c in CELLS]
    for task in ("adding", "copy_memory", "char_lm"):
        for c, init, bn, clip in itertools.product(CELLS, INITS, BN, (0.0, 1.0)):
            out.append(("factorial", task, {"cell": c, "recurrent_initializer": init,
                                            "batchnorm": bn, "clipnorm": clip}))
    return out


@functools.cache
def _task(name: str) -> Task:
    """A built-in task by name (discovered once per process)."""
    return discover(entry_points=False)[name]


def _config(task: str, axes: dict[str, Any], seed: int) -> dict[str, Any]:
    """The resolved configuration (:func:`suite.axes.resolve`) of one synthetic run.

    Like the full suite's: 2000 steps, hidden 128, evaluations and probes every
    100 steps on 1024 examples, ``seq_len`` 100; ``axes`` on top.
    """
    return resolve(_task(task), seed=seed, steps=STEPS, hidden=128, eval_every=EVERY,
                   probe_every=EVERY, eval_size=1024, task_params={"seq_len": T}, **axes)


def _record(rid: str, task: str, cfg: dict[str, Any], seed: int, rng: np.random.Generator,
            ) -> RunRecord:
    """One synthetic record (:class:`suite.store.schema.RunRecord`) of configuration ``cfg``."""
    chance = CHANCE[task]
    final = chance * float(np.exp(rng.uniform(np.log(1e-3), np.log(1.05))))
    status = rng.choice(["ok", "diverged", "failed"], p=[0.94, 0.05, 0.01])
    steps = STEPS if status == "ok" else int(rng.integers(1, STEPS))
    t = np.arange(1, steps + 1)
    loss = chance * (final / chance) ** (t / STEPS) * np.exp(rng.normal(0, 0.1, steps))
    grad = np.exp(rng.normal(0, 0.5, steps)) * (1 + 0.5 * np.sin(t / 50))
    rho = float(rng.uniform(0.7, 1.05))
    evals = [{"step": s, "val_loss": float(chance * (final / chance) ** (s / STEPS)),
              "acc": float(rng.uniform(0, 1))} for s in range(0, steps + 1, EVERY)]
    probes = []
    for i, s in enumerate(range(0, steps + 1, EVERY)):
        p = {"step": s, "loss": float(loss[min(s, steps - 1)]), "rho": rho, "reach": int(rng.integers(1, T)),
             "profile": list(np.power(rho, np.arange(T)) * 0.01)}
        if i % 5 == 0:
            p.update(kernel={"sigma_max": float(1 + s / STEPS)}, jacobian_sigma_mean=rho,
                     jacobian_sigma_max=rho * 1.1, saturation={"candidate": float(rng.uniform(0, 0.2))})
        probes.append(p)
    ok = status == "ok"
    config = _config(task, cfg, seed)
    return run_record(
        rid, config, status=str(status), started_at="2026-11-21T23:59:00+00:00",
        finished_at="2026-11-22T00:00:00+00:00", task_version="1",
        sequence_length=sequence_length(_task(task), config["task_params"]),
        steps_done=steps, chance_loss=chance,
        curves={"loss": loss.tolist(), "grad_norm": grad.tolist(),
                "clipped": (grad > 1.0).astype(float).tolist() if cfg.get("clipnorm") else [0.0] * steps,
                "gn/rnn_0": (grad * 0.9).tolist(), "gn/head": (grad * 0.3).tolist()},
        evals=evals, probes=probes,
        final={"val_loss": final if ok else None, "metric": "acc",
               "metric_value": evals[-1]["acc"] if ok else None, "max_grad_norm": float(grad.max()),
               "clip_rate": 0.0, "eval_step": steps},
        diverged_step=steps if status == "diverged" else None,
        error="synthetic failure" if status == "failed" else None,
        health={"reason": "synthetic", "summary": {"rho": rho, "reach": probes[-1]["reach"],
                                                   "diagnosis": "healthy" if ok else str(status)}},
        env={"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1", "cpu": "synthetic",
             "devices": ["CPU"], "git_commit": "synthetic"},
        timing={"wall_s": 60.0},
    )


def make(out: Path, n_runs: int, seed: int = 0) -> dict[str, Any]:
    """Writes ``out/suite.json`` and ``n_runs`` synthetic records; returns the manifest."""
    rng = np.random.default_rng(seed)
    configs = _configs()
    seeds = max(5, math.ceil(n_runs / len(configs)))
    chosen = configs[: math.ceil(n_runs / seeds)]
    manifest: dict[str, Any] = {"name": f"synthetic-{n_runs}", "schema_version": SCHEMA_VERSION,
                                "source": "suite.synth", "suite_text": "# synthetic", "runs": {},
                                "studies": [], "tasks_paths": []}
    studies: dict[str, dict[str, Any]] = {}
    count = 0
    for i, (study, task, axes) in enumerate(chosen):
        st = studies.setdefault(study, {"name": study, "question": f"Synthetic {study} study",
                                        "tasks": [], "varying": list(axes), "run_ids": []})
        if task not in st["tasks"]:
            st["tasks"].append(task)
        for s in range(seeds):
            if count == n_runs:
                break
            rid = f"{i:06d}{s:06d}"
            rec = _record(rid, task, axes, s, rng)
            atomic_write_json(record_path(out, rid), rec)
            manifest["runs"][rid] = rec["config"]
            st["run_ids"].append(rid)
            count += 1
    manifest["studies"] = list(studies.values())
    atomic_write_json(Path(out) / "suite.json", manifest)
    return manifest
