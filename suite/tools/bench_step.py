"""The TensorFlow half of ``bench``: what the instruments cost per training step.

Imports TensorFlow and Keras at module level, so :mod:`suite.tools.bench`
imports this module only for the per-step measurement (its ``--suite`` and
``--report-records`` modes never load TensorFlow). The variants and the
method are described in :mod:`suite.tools.bench`.
"""
from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from suite.api import Task, sequence_length
from suite.axes import resolve
from suite.execution.worker import configure_threads
from suite.health.probe import make_probe
from suite.model.builder import build_model
from suite.model.cells import LAYERS
from suite.model.losses import keras_loss
from suite.model.run_loop import StepRecorder, make_optimizer
from suite.registry import discover

#: A variant: its model and the callbacks it trains with.
Variant = tuple[Any, list[Any]]


def _fit(model: Any, x: np.ndarray, y: np.ndarray, batch: int,
         callbacks: list) -> tuple[list[float], float]:
    """Trains one epoch over ``x``; returns the seconds of each step and the CPU seconds the
    process used meanwhile (all its threads)."""
    stamps: list[float] = []
    clock = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: stamps.append(time.perf_counter()))
    cpu, t0 = time.process_time(), time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0,
              callbacks=callbacks + [clock])
    return list(np.diff([t0] + stamps)), time.process_time() - cpu


class _TimedProbe:
    """The probed variant's probe, adding up the seconds spent inside it."""

    def __init__(self, probe: Any):
        self.probe, self.seconds = probe, 0.0

    def __call__(self, step: int) -> None:
        t = time.perf_counter()
        self.probe(step)
        self.seconds += time.perf_counter() - t


def _suite_model(cfg: dict[str, Any], task: Task, xla: bool) -> Any:
    """The suite's model for ``cfg``, compiled (with XLA if ``xla``), its optimizer built."""
    p = cfg["task_params"]
    model = build_model(cfg, task.input_spec(p), task.head(p), max_steps=sequence_length(task, p))
    model.compile(optimizer=make_optimizer(cfg), loss=keras_loss(task.head(p).loss), jit_compile=xla)
    model.optimizer.build(model.trainable_variables)
    if bool(model.jit_compile) != xla:
        raise RuntimeError(f"Keras compiled with jit_compile={model.jit_compile}, asked {xla}")
    return model


def _plain_model(cfg: dict[str, Any], task: Task, xla: bool) -> Any:
    """A ``keras.Sequential`` of the same cell and size with Keras' own ``train_step``."""
    p = cfg["task_params"]
    keras.utils.set_random_seed(0)
    plain = keras.Sequential([keras.Input((sequence_length(task, p), task.input_spec(p).features)),
                              LAYERS[cfg["cell"]](cfg["hidden"]), keras.layers.Dense(1)])
    plain.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=xla)
    return plain


def _variants(cfg: dict[str, Any], task: Task, out: dict[str, Any]) -> tuple[dict[str, Variant],
                                                                            dict[str, _TimedProbe]]:
    """The six variants (plain, instrumented, probed; each uncompiled and ``*_xla``) and the
    probed variants' probes.

    Records each probe's one-time tracing (XLA: compilation) in ``out["probe_first_call_s"]``
    and ``out["probe_xla_first_call_s"]``.
    """
    p = cfg["task_params"]
    chance = task.chance_loss(p)
    xp, yp = task.make_data("train", min(32, cfg["batch_size"]), 1, p)
    variants: dict[str, Variant] = {}
    probes: dict[str, _TimedProbe] = {}
    for suffix, xla in (("", False), ("_xla", True)):
        instrumented, probed = _suite_model(cfg, task, xla), _suite_model(cfg, task, xla)
        probe = _TimedProbe(make_probe(probed, xp, yp))
        t0 = time.perf_counter()
        probe.probe(0, trajectory=True)  # traces (compiles) both probe functions
        out[f"probe{suffix}_first_call_s"] = time.perf_counter() - t0
        probes[f"probed{suffix}"] = probe
        variants[f"plain{suffix}"] = (_plain_model(cfg, task, xla), [])
        variants[f"instrumented{suffix}"] = (instrumented, [StepRecorder(chance=chance)])
        variants[f"probed{suffix}"] = (probed, [StepRecorder(chance=chance, probe=probe,
                                                             probe_every=cfg["probe_every"])])
    return variants, probes


def _interleaved(variants: dict[str, Variant], x: np.ndarray, y: np.ndarray, batch: int,
                 warmup: int, steps: int, probe_every: int
                 ) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Seconds of each measured step per variant, and CPU seconds per variant, trained in
    rounds of one probe cycle.

    The variants take turns within each round (rotating who goes first), so the
    drift of a noisy machine hits all of them alike.
    """
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu = dict.fromkeys(variants, 0.0)
    rounds = max(1, steps // probe_every)
    per_round = steps // rounds
    names = list(variants)
    for r in range(rounds):
        lo = batch * (warmup + r * per_round)
        xs, ys = x[lo:lo + batch * per_round], y[lo:lo + batch * per_round]
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            model, cbs = variants[name]
            seconds, used = _fit(model, xs, ys, batch, cbs)
            times[name] += seconds
            cpu[name] += used
    return times, cpu


def _figures(out: dict[str, Any], times: dict[str, list[float]], cpu: dict[str, float],
             probes: dict[str, _TimedProbe]) -> dict[str, Any]:
    """Adds the medians, means, ratios, cores used, probe cost and compile time to ``out``
    and returns it.

    Uncompiled figures keep their names (``plain_ms``, ``overhead_ratio`` ...); compiled
    ones end in ``_xla``; ``xla_ratio_<variant>`` is compiled over uncompiled ms/step;
    ``<variant>_cores`` is the process's CPU time over the variant's wall time (1.0: one
    core kept busy; more: TensorFlow or XLA used threads beyond ``--threads``),
    ``<variant>_cpu_ms`` its CPU time per step (mean) and ``xla_cpu_ratio_<variant>``
    compiled over uncompiled CPU time per step: what compiling saves when every core is busy.
    """
    for name, seconds in times.items():
        out[f"{name}_median_ms"] = 1e3 * float(np.median(seconds))
        out[f"{name}_mean_ms"] = 1e3 * float(np.mean(seconds))
        out[f"{name}_cores"] = cpu[name] / float(np.sum(seconds))
        out[f"{name}_cpu_ms"] = 1e3 * cpu[name] / len(seconds)
    for sfx in ("", "_xla"):
        out[f"plain{sfx}_ms"] = out[f"plain{sfx}_median_ms"]
        out[f"instrumented{sfx}_ms"] = out[f"instrumented{sfx}_median_ms"]
        out[f"probed{sfx}_ms"] = out[f"probed{sfx}_mean_ms"]  # a mean: a median would hide the probes
        out[f"overhead_ratio{sfx}"] = out[f"instrumented{sfx}_ms"] / out[f"plain{sfx}_ms"]
        out[f"probe_overhead_ratio{sfx}"] = out[f"probed{sfx}_ms"] / out[f"plain{sfx}_mean_ms"]
        out[f"instrumented{sfx}_mean_ratio"] = (out[f"instrumented{sfx}_mean_ms"]
                                                / out[f"plain{sfx}_mean_ms"])
        probe = probes[f"probed{sfx}"]
        # the probes' own time over the rest of the probed run's time: immune to machine drift
        total = out[f"probed{sfx}_ms"] * len(times[f"probed{sfx}"]) / 1e3
        out[f"probe{sfx}_seconds"] = probe.seconds
        out[f"probe{sfx}_cost_fraction"] = probe.seconds / (total - probe.seconds)
        out[f"probes{sfx}_run"] = len(probe.probe.results()) - 1
    for name in ("plain", "instrumented", "probed"):
        out[f"xla_ratio_{name}"] = out[f"{name}_xla_ms"] / out[f"{name}_ms"]
        out[f"xla_cpu_ratio_{name}"] = out[f"{name}_xla_cpu_ms"] / out[f"{name}_cpu_ms"]
    # what compiling costs once per run: the compiled first step and probe over the traced ones
    out["compile_s"] = (out["instrumented_xla_first_step_s"] - out["instrumented_first_step_s"]
                        + out["probe_xla_first_call_s"] - out["probe_first_call_s"])
    return out


def measure(cell: str = "lstm", hidden: int = 128, batch: int = 64, seq_len: int = 100,
            steps: int = 500, warmup: int = 20, probe_every: int = 100,
            threads: int = 0) -> dict[str, Any]:
    """Runs the six variants and returns the figures (see :mod:`suite.tools.bench`).

    Args:
        cell: Recurrent cell (default ``"lstm"``).
        hidden: Units (default 128).
        batch: Batch size (default 64).
        seq_len: Adding-problem length T (default 100).
        steps: Measured steps per variant (default 500: one full trajectory-probe cycle).
        warmup: Steps before measuring (default 20; tracing excluded from medians).
        probe_every: Probe cadence of the probed variant (default: the suite default 100).
        threads: TensorFlow intra/inter-op threads (default 0: TensorFlow's default).
    """
    configure_threads(threads)
    tf_config.disable_op_determinism()  # Keras drops jit_compile under op determinism
    task = discover(entry_points=False)["adding"]
    cfg = resolve(task, cell=cell, hidden=hidden, batch_size=batch, probe_every=probe_every,
                  task_params={"seq_len": seq_len})
    p = cfg["task_params"]
    x, y = task.make_data("train", batch * (warmup + steps), 0, p)
    out: dict[str, Any] = {"cell": cell, "hidden": hidden, "batch": batch, "seq_len": seq_len,
                           "steps": steps, "warmup": warmup, "probe_every": probe_every,
                           "tensorflow": tf.__version__, "keras": keras.__version__}
    variants, probes = _variants(cfg, task, out)
    for name, (model, cbs) in variants.items():
        out[f"{name}_first_step_s"] = _fit(model, x[:batch * warmup], y[:batch * warmup], batch,
                                           cbs)[0][0]
    for probe in probes.values():
        probe.seconds = 0.0
    times, cpu = _interleaved(variants, x, y, batch, warmup, steps, probe_every)
    return _figures(out, times, cpu, probes)
