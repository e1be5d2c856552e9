"""Run-time estimates for ``--dry-run`` and longest-first scheduling, from bench figures.

The model: one training step of a run costs

    FIXED_MS + (ref_ms[cell] - FIXED_MS) * (L / 100) * (batch / 64) * (hidden / 128) ** 0.8
             * depth * (1.6 for recurrent BatchNorm)

milliseconds uncompiled, times the XLA ratio (compiled over uncompiled probed
ms/step for the cell at the nearest measured hidden size, :data:`BUILTIN_XLA_RATIO`)
when the run compiles (:func:`suite.model.xla.use_xla`), where ``L`` is the number
of steps the run unrolls (the task's
:func:`suite.api.sequence_length`, carried by :attr:`suite.suite_file.Suite.lengths`;
:data:`REFERENCE_LENGTH` when unknown) and ``ref_ms`` is the per-step cost of
the probed variant of ``bench`` (hidden 128, batch 64, T = 100, one
TensorFlow thread, as each worker has when there is one worker per core). A run adds a start-up cost
(plus :data:`COMPILE_S` when compiled) and, per evaluation/probe,
about 40 steps' worth of time. The exponents and constants were fitted to the
quick suite's 31 runs on the 2-core development machine; expect ±30% per run.

``ref_ms`` comes from ``reports/bench.json`` when ``bench`` has written one
on this machine, else from :data:`BUILTIN_MS` (measured there).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from suite.env import REPORTS_DIR
from suite.model.xla import use_xla
from suite.store.io import atomic_write_json

#: Probed ms/step at hidden 128, batch 64, T 100, 1 thread (bench --cell all --threads 1,
#: TF 2.21 CPU, 2-core AMD EPYC development machine).
BUILTIN_MS = {"lstm": 36.2, "simple_rnn": 11.8, "gru": 45.0}
#: Probed ms/step compiled with XLA over uncompiled, by cell and hidden size (``xla_ratio_probed``
#: of ``bench --cell all --hidden 32 64 128 --threads 1 --steps 200`` on the 2-core development
#: machine under load; docs/performance.md, "Compiled steps").
BUILTIN_XLA_RATIO = {"lstm": {32: 0.60, 64: 0.48, 128: 0.65},
                     "simple_rnn": {32: 0.59, 64: 0.45, 128: 0.79},
                     "gru": {32: 0.19, 64: 0.38, 128: 0.54}}
#: What compiling the step, evaluation and probes with XLA adds to a run's start (seconds;
#: about 2.5 s of CPU on a quiet machine, 8-20 s of wall time measured under load).
COMPILE_S = 5.0
#: Per-step cost that does not scale with the model (dispatch, callbacks), ms.
FIXED_MS = 6.0
#: Process start, TensorFlow import, model build and tracing, per run (seconds).
START_S = 10.0
#: An evaluation plus a probe costs about this many training steps.
STEPS_PER_EVAL = 40
#: The unrolled length of the bench figures, also assumed for a run of unknown length.
REFERENCE_LENGTH = 100
#: Where ``bench`` stores its figures for the estimates.
BENCH_FILE = REPORTS_DIR / "bench.json"


def reference_ms(path: Path = BENCH_FILE) -> tuple[dict[str, float], str]:
    """(probed ms/step per cell, where the figures come from)."""
    ref = dict(BUILTIN_MS)
    try:
        stored = json.loads(Path(path).read_text())
        ref.update({cell: float(r["probed_ms"]) for cell, r in stored.items()
                    if cell in ref and r.get("hidden", 128) == 128})
        return ref, f"bench figures in {path}"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ref, "built-in bench figures of the 2-core development machine"


def save_bench(results: list[dict[str, Any]], path: Path = BENCH_FILE) -> None:
    """Merges ``bench`` results into ``path`` for later estimates: by cell at hidden 128
    (the reference), by ``cell/hidden`` for every size."""
    try:
        stored = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        stored = {}
    for r in results:
        stored[f"{r['cell']}/{r.get('hidden', 128)}"] = r
        if r.get("hidden", 128) == 128:
            stored[r["cell"]] = r
    atomic_write_json(Path(path), stored)


def ms_per_step(cfg: dict[str, Any], length: int | None, ref: dict[str, float]) -> float:
    """Estimated ms per training step of one run configuration.

    Args:
        cfg: The resolved run configuration (:func:`suite.axes.resolve`).
        length: Steps the run unrolls; ``None``: :data:`REFERENCE_LENGTH`.
        ref: Probed ms/step per cell at the reference configuration (:func:`reference_ms`).
    """
    length = REFERENCE_LENGTH if length is None else length
    scale = (length / REFERENCE_LENGTH) * (cfg["batch_size"] / 64) * (cfg["hidden"] / 128) ** 0.8
    scale *= cfg["depth"] * (1.6 if cfg["batchnorm"] in ("recurrent", "recurrent_sum") else 1.0)
    ms = FIXED_MS + (ref[cfg["cell"]] - FIXED_MS) * scale
    return ms * xla_ratio(cfg) if use_xla(cfg)[0] else ms


def xla_ratio(cfg: dict[str, Any]) -> float:
    """Compiled over uncompiled ms/step for the run's cell at the nearest measured hidden size."""
    by_size = BUILTIN_XLA_RATIO[cfg["cell"]]
    return by_size[min(by_size, key=lambda h: (abs(h - cfg["hidden"]), h))]


def estimate_seconds(cfg: dict[str, Any], length: int | None,
                     ref: dict[str, float] | None = None) -> float:
    """Estimated wall seconds of one run on one core.

    Args:
        cfg: The resolved run configuration (:func:`suite.axes.resolve`).
        length: Steps the run unrolls (``Suite.lengths[run_id]``); ``None``:
            :data:`REFERENCE_LENGTH`.
        ref: Probed ms/step per cell (default: :data:`BUILTIN_MS`).
    """
    ms = ms_per_step(cfg, length, ref or BUILTIN_MS)
    evals = cfg["steps"] / max(1, min(cfg["eval_every"], cfg["probe_every"] or cfg["eval_every"]))
    return START_S + (COMPILE_S if use_xla(cfg)[0] else 0.0) + (cfg["steps"] + STEPS_PER_EVAL * (evals + 1)) * ms / 1e3
