"""Run-time estimates for ``--dry-run`` and longest-first scheduling, from bench figures.

The model: one training step of a run costs

    fixed + (L / 100) * (floor + (ref_ms - fixed - floor) * (batch / 64) * (work / work_ref) ** exponent)
          * depth * (a factor for recurrent BatchNorm)

milliseconds (the constants are a :class:`StepModel`, one for compiled and one for
uncompiled runs: :data:`STEP_MODEL`), where ``ref_ms`` is the probed ms/step that ``bench`` measured for the
run's cell at the nearest measured hidden size (batch 64, adding T = 100, one
TensorFlow thread, as each worker has when there is one worker per core), compiled
with XLA when the run compiles (:func:`suite.model.xla.use_xla`) and uncompiled
otherwise; ``L`` is the number of steps the run unrolls (the task's
:func:`suite.api.sequence_length`, carried by :attr:`suite.suite_file.Suite.lengths`;
:data:`REFERENCE_LENGTH` when unknown); ``work`` is the multiply-adds of one time step
of one example, ``gates * hidden * (hidden + inputs)`` for the cell plus
``outputs * hidden + head_work`` for a head that scores every step (the task's
:class:`suite.api.Widths`, carried by :attr:`suite.suite_file.Suite.widths`), and
``work_ref`` the same for the bench's model at the measured size (2 inputs, one
output at the last step). A run adds :data:`START_S` (plus :data:`COMPILE_S` when
compiled) and, per evaluation/probe, :data:`STEPS_PER_EVAL` steps' worth of time,
which also absorbs what two workers sharing two cores cost each other.

The constants were fitted to the quick suite's 30 runs, run once compiled and once
uncompiled on the quiet 2-core development machine (3 December 2026; docs/performance.md,
"Estimates"); on a busier day runs take longer than estimated.

``ref_ms`` comes from ``reports/bench.json`` when ``bench`` has written one on this
machine, else from :data:`BUILTIN_BENCH` (measured there).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from suite.api import Widths
from suite.axes import GATES
from suite.env import REPORTS_DIR
from suite.model.xla import use_xla
from suite.store.io import atomic_write_json

#: Probed ms/step ``(uncompiled, compiled with XLA)`` by cell and hidden size, batch 64,
#: adding T = 100, one thread: ``bench --cell all --hidden 32 64 128 --threads 1 --steps 300``
#: (TF 2.21 CPU, the quiet 2-core AMD EPYC development machine, 3 December 2026).
BUILTIN_BENCH: dict[str, dict[int, tuple[float, float]]] = {
    "lstm": {32: (22.1, 11.0), 64: (30.4, 20.8), 128: (55.2, 49.9)},
    "gru": {32: (27.5, 10.0), 64: (35.2, 18.1), 128: (64.4, 39.9)},
    "simple_rnn": {32: (12.9, 7.3), 64: (12.2, 8.1), 128: (20.2, 15.4)},
}
#: Figures by cell and size: ``{cell: {hidden: (uncompiled ms, compiled ms)}}``.
Reference = dict[str, dict[int, tuple[float, float]]]
#: The widths of the bench's model (adding problem: 2 inputs, one output at the last step).
REFERENCE_WIDTHS = Widths(2, 1, False)


class StepModel(NamedTuple):
    """How a step's cost departs from the bench's: fitted separately for compiled and
    uncompiled runs (XLA handles a head at every step, and recurrent BatchNorm, differently).

    Attributes:
        exponent: How the cost grows with the multiply-adds of a time step (small
            matrices do not keep a core busy, so less than linearly).
        head_work: What a head scoring every step costs beyond its multiply-adds
            (softmax, loss and their gradients at every step), in multiply-adds per step.
        fixed_ms: Per-step cost that does not scale with the model (dispatch, callbacks).
        floor_ms: Per-step cost per :data:`REFERENCE_LENGTH` time steps that does not
            scale with batch or width (the ops an uncompiled step dispatches at every
            time step).
        batchnorm: Factor for recurrent BatchNorm.
    """

    exponent: float
    head_work: float
    fixed_ms: float
    floor_ms: float
    batchnorm: float


#: The step model of uncompiled and of compiled runs (fitted to the quick suite run both ways).
STEP_MODEL = {False: StepModel(0.65, 4096, 0.5, 6.0, 2.3), True: StepModel(0.75, 32768, 2.0, 0.0, 1.4)}
#: What compiling the step, evaluation and probes with XLA adds to a run (seconds; fitted).
COMPILE_S = 4.0
#: Process start and TensorFlow import (6-7 s measured, not in a record's ``wall_s``), model
#: build and tracing (about 3 s, fitted), per run (seconds).
START_S = 9.5
#: An evaluation plus a probe costs about this many training steps (two workers sharing
#: two cores included; fitted).
STEPS_PER_EVAL = 55
#: The unrolled length of the bench figures, also assumed for a run of unknown length.
REFERENCE_LENGTH = 100
#: Where ``bench`` stores its figures for the estimates.
BENCH_FILE = REPORTS_DIR / "bench.json"


def _stored(stored: dict[str, Any]) -> Reference:
    """The figures of a ``bench.json`` (entries ``cell/hidden``, or ``cell``: hidden 128).

    An entry without compiled figures (written before ``bench`` measured XLA) gets the
    built-in compiled-over-uncompiled ratio of the nearest size.
    """
    ref: Reference = {}
    for r in stored.values():
        cell, hidden = r["cell"], int(r.get("hidden", 128))
        if cell not in BUILTIN_BENCH:
            continue
        plain = float(r["probed_ms"])
        builtin = BUILTIN_BENCH[cell][_nearest(BUILTIN_BENCH[cell], hidden)]
        compiled = float(r.get("probed_xla_ms", plain * builtin[1] / builtin[0]))
        ref.setdefault(cell, {})[hidden] = (plain, compiled)
    return ref


def reference_ms(path: Path = BENCH_FILE) -> tuple[Reference, str]:
    """(probed ms/step by cell and size, uncompiled and compiled; where they come from).

    A cell or size the stored file does not cover keeps the built-in figures.
    """
    ref: Reference = {cell: dict(sizes) for cell, sizes in BUILTIN_BENCH.items()}
    try:
        stored = _stored(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ref, "built-in bench figures of the 2-core development machine"
    for cell, sizes in stored.items():
        ref[cell].update(sizes)
    return ref, f"bench figures in {path}"


def save_bench(results: list[dict[str, Any]], path: Path = BENCH_FILE) -> None:
    """Merges ``bench`` results into ``path`` for later estimates: by ``cell/hidden`` for every
    size, and by cell at hidden 128 (the reference of earlier versions)."""
    try:
        stored = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        stored = {}
    for r in results:
        stored[f"{r['cell']}/{r.get('hidden', 128)}"] = r
        if r.get("hidden", 128) == 128:
            stored[r["cell"]] = r
    atomic_write_json(Path(path), stored)


def _nearest(by_size: dict[int, Any], hidden: int) -> int:
    """The measured size nearest ``hidden`` (the smaller one on a tie)."""
    return min(by_size, key=lambda h: (abs(h - hidden), h))


def work(cell: str, hidden: int, widths: Widths | None, head_work: float) -> float:
    """Multiply-adds of one time step of one example (cell, plus a per-step head and its
    ``head_work``)."""
    inputs, outputs, per_step = widths or REFERENCE_WIDTHS
    cost = GATES.get(cell, 4) * hidden * (hidden + inputs)
    return cost + (outputs * hidden + head_work if per_step else 0)


def ms_per_step(cfg: dict[str, Any], length: int | None, ref: Reference,
                widths: Widths | None = None) -> float:
    """Estimated ms per training step of one run configuration.

    Args:
        cfg: The resolved run configuration (:func:`suite.axes.resolve`).
        length: Steps the run unrolls; ``None``: :data:`REFERENCE_LENGTH`.
        ref: Probed ms/step by cell and size (:func:`reference_ms`).
        widths: What the model reads and writes per step; ``None``: :data:`REFERENCE_WIDTHS`.
    """
    cell = cfg["cell"] if cfg["cell"] in ref else "lstm"
    size = _nearest(ref[cell], cfg["hidden"])
    compiled = use_xla(cfg)[0]
    model = STEP_MODEL[compiled]
    base = ref[cell][size][1 if compiled else 0]
    length = REFERENCE_LENGTH if length is None else length
    width = (work(cell, cfg["hidden"], widths, model.head_work)
             / work(cell, size, REFERENCE_WIDTHS, model.head_work)) ** model.exponent
    scaled = max(base - model.fixed_ms - model.floor_ms, 0.0) * (cfg["batch_size"] / 64) * width
    per_step = (length / REFERENCE_LENGTH) * (model.floor_ms + scaled)
    per_step *= cfg["depth"] * (model.batchnorm if cfg["batchnorm"] in ("recurrent", "recurrent_sum") else 1.0)
    return model.fixed_ms + per_step


def estimate_seconds(cfg: dict[str, Any], length: int | None, ref: Reference | None = None,
                     widths: Widths | None = None) -> float:
    """Estimated wall seconds of one run on one core.

    Args:
        cfg: The resolved run configuration (:func:`suite.axes.resolve`).
        length: Steps the run unrolls (``Suite.lengths[run_id]``); ``None``:
            :data:`REFERENCE_LENGTH`.
        ref: Probed ms/step by cell and size (default: :data:`BUILTIN_BENCH`).
        widths: ``Suite.widths[run_id]``; ``None``: :data:`REFERENCE_WIDTHS`.
    """
    ms = ms_per_step(cfg, length, ref or BUILTIN_BENCH, widths)
    evals = cfg["steps"] / max(1, min(cfg["eval_every"], cfg["probe_every"] or cfg["eval_every"]))
    start = START_S + (COMPILE_S if use_xla(cfg)[0] else 0.0)
    return start + (cfg["steps"] + STEPS_PER_EVAL * (evals + 1)) * ms / 1e3
