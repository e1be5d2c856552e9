"""Run-time estimates for ``--dry-run`` and longest-first scheduling, from bench figures.

The model: one training step of a run costs

    FIXED_MS + (ref_ms[cell] - FIXED_MS) * (L / 100) * (batch / 64) * (hidden / 128) ** 0.8
             * depth * (1.6 for recurrent BatchNorm)

milliseconds, where ``L`` is the number of steps the run unrolls (the task's
:func:`suite.api.sequence_length`, carried by :attr:`suite.config.Suite.lengths`;
:data:`REFERENCE_LENGTH` when unknown) and ``ref_ms`` is the per-step cost of
the probed variant of ``bench`` (hidden 128, batch 64, T = 100, one
TensorFlow thread, as each worker has when there is one worker per core). A run adds a start-up cost and, per evaluation/probe,
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
from suite.results import atomic_write_json

#: Probed ms/step at hidden 128, batch 64, T 100, 1 thread (bench --cell all --threads 1,
#: TF 2.21 CPU, 2-core AMD EPYC development machine).
BUILTIN_MS = {"lstm": 36.2, "simple_rnn": 11.8, "gru": 45.0}
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
        ref.update({cell: float(r["probed_ms"]) for cell, r in stored.items() if cell in ref})
        return ref, f"bench figures in {path}"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ref, "built-in bench figures of the 2-core development machine"


def save_bench(results: list[dict[str, Any]], path: Path = BENCH_FILE) -> None:
    """Merges ``bench`` results (one per cell) into ``path`` for later estimates."""
    try:
        stored = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        stored = {}
    for r in results:
        stored[r["cell"]] = r
    atomic_write_json(Path(path), stored)


def ms_per_step(cfg: dict[str, Any], length: int | None, ref: dict[str, float]) -> float:
    """Estimated ms per training step of one run configuration.

    Args:
        cfg: The resolved run configuration (:func:`suite.config.resolve`).
        length: Steps the run unrolls; ``None``: :data:`REFERENCE_LENGTH`.
        ref: Probed ms/step per cell at the reference configuration (:func:`reference_ms`).
    """
    length = REFERENCE_LENGTH if length is None else length
    scale = (length / REFERENCE_LENGTH) * (cfg["batch_size"] / 64) * (cfg["hidden"] / 128) ** 0.8
    scale *= cfg["depth"] * (1.6 if cfg["batchnorm"] in ("recurrent", "recurrent_sum") else 1.0)
    return FIXED_MS + (ref[cfg["cell"]] - FIXED_MS) * scale


def estimate_seconds(cfg: dict[str, Any], length: int | None,
                     ref: dict[str, float] | None = None) -> float:
    """Estimated wall seconds of one run on one core.

    Args:
        cfg: The resolved run configuration (:func:`suite.config.resolve`).
        length: Steps the run unrolls (``Suite.lengths[run_id]``); ``None``:
            :data:`REFERENCE_LENGTH`.
        ref: Probed ms/step per cell (default: :data:`BUILTIN_MS`).
    """
    ms = ms_per_step(cfg, length, ref or BUILTIN_MS)
    evals = cfg["steps"] / max(1, min(cfg["eval_every"], cfg["probe_every"] or cfg["eval_every"]))
    return START_S + (cfg["steps"] + STEPS_PER_EVAL * (evals + 1)) * ms / 1e3
