"""One run's training loop: data chunks, evaluation, probes, divergence.

The per-step gradient instruments live in the model's trainer
(:mod:`suite.model.train_step`); :class:`StepRecorder` collects what it logs.

A run stops as *diverged* at the first step whose loss or gradient norm is
NaN/Inf, or whose loss exceeds :data:`DIVERGE_FACTOR` times the larger of the
first step's loss and the chance loss.

Validation is always in inference mode (``training=False``): BatchNorm uses its
moving statistics, which is what a deployed model would do.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Mapping

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from suite.api import Head, InputSpec, Task, sequence_length
from suite.model.builder import RNNModel, build_model
from suite.model.cells import batchnorm_variables, derive_seed, preserved
from suite.model.losses import elementwise_loss, keras_loss, numpy_loss, position_means
from suite.model.train_step import append_step_logs
from suite.model.xla import use_xla

#: A loss above this multiple of max(first loss, chance loss) counts as diverged.
DIVERGE_FACTOR = 1e4


def make_optimizer(config: Mapping[str, Any]) -> keras.optimizers.Optimizer:
    """Adam / RMSprop / SGD with ``learning_rate`` and the clip setting (0 = off): ``clipnorm``,
    ``global_clipnorm`` or ``clipvalue`` (each gradient entry clipped to [-v, v]), as Keras."""
    kw: dict[str, Any] = {"learning_rate": config["learning_rate"]}
    for key in ("clipnorm", "global_clipnorm", "clipvalue"):
        if config.get(key, 0.0) > 0:
            kw[key] = config[key]
    cls = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
           "sgd": keras.optimizers.SGD}[config["optimizer"]]
    return cls(**kw)


class StepRecorder(keras.callbacks.Callback):
    """Collects per-step scalars, detects divergence, and calls the probe hook.

    Args:
        chance: The task's chance loss (for the divergence bound).
        probe: Optional ``probe(step)`` called after steps that are multiples
            of ``probe_every`` (the gradient-health instruments hook in here).
        probe_every: Probe cadence in steps (0: never).
    """

    def __init__(self, chance: float, probe: Callable[[int], None] | None = None,
                 probe_every: int = 0):
        super().__init__()
        self.chance, self.probe, self.probe_every = chance, probe, probe_every
        self.curves: dict[str, list[float]] = {}
        self.step_times: list[float] = []
        self.diverged_step: int | None = None
        self.diverged_reason = ""
        self.first_loss: float | None = None
        self._t = time.perf_counter()

    @property
    def steps(self) -> int:
        return len(self.curves.get("loss", []))

    def on_train_batch_begin(self, batch, logs=None):
        self._t = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.step_times.append(time.perf_counter() - self._t)
        values = append_step_logs(self.curves, logs)
        step = self.steps
        loss, gnorm = values["loss"], values["grad_norm"]
        if self.first_loss is None:
            self.first_loss = loss
        bound = DIVERGE_FACTOR * max(self.first_loss, self.chance)
        if not (math.isfinite(loss) and math.isfinite(gnorm)):
            self.diverged_reason = f"non-finite {'loss' if not math.isfinite(loss) else 'gradient'}"
        elif loss > bound:
            self.diverged_reason = f"loss {loss:.3g} above the divergence bound {bound:.3g}"
        if self.diverged_reason:
            self.diverged_step = step
            self.model.stop_training = True
        elif self.probe is not None and self.probe_every and step % self.probe_every == 0:
            self.probe(step)


def _configure_determinism(seed: int, xla: bool = False) -> None:
    """Seeds Python, NumPy and TensorFlow; TensorFlow's op determinism unless ``xla``.

    Keras silently drops ``jit_compile`` while op determinism is on, so a
    compiled run turns it off (XLA on CPU is bit-reproducible across processes
    by itself: ``tests/test_xla.py``); every other measure stays.
    """
    keras.utils.set_random_seed(seed)
    if xla:
        tf_config.disable_op_determinism()
    else:
        tf.config.experimental.enable_op_determinism()


class RunFailed(Exception):
    """An exception inside training, with what the run had recorded until then.

    Attributes:
        error: The original exception.
        partial: ``steps_done``, ``failed_step`` (the step that raised),
            ``curves``, ``evals``, ``probes`` and ``chance_loss`` so far.
    """

    def __init__(self, error: BaseException, partial: dict[str, Any]):
        super().__init__(str(error))
        self.error, self.partial = error, partial


#: Examples per forward pass of an evaluation (also the batch whose statistics a
#: BatchNorm model normalises with in the batch-statistics evaluation).
EVAL_BATCH = 256


class _Evaluator:
    """Validation on a fixed set; one row per call in ``rows``.

    ``val_loss`` is in inference mode (BatchNorm with its moving statistics,
    as a deployed model runs). A model with BatchNorm is also evaluated with
    batch statistics (``val_loss_batch_stats``: each batch of
    :data:`EVAL_BATCH` examples normalised by its own statistics, as in
    training), its moving statistics left untouched. For a per-step head,
    ``by_position`` holds the last evaluation's mean loss at each position of
    the window (:func:`loss_by_position`; None otherwise).
    """

    def __init__(self, model: RNNModel, task: Task, head: Head, params: Mapping[str, Any],
                 data: tuple[np.ndarray, np.ndarray]):
        self.model, self.task, self.head, self.params = model, task, head, params
        self.x, self.y = data
        self.rows: list[dict[str, Any]] = []
        self.by_position: list[float | None] | None = None
        self.bn_variables = batchnorm_variables(model)
        self._forward = tf.function(lambda x: model(x, training=True),
                                    jit_compile=bool(model.jit_compile))

    def _batch_stats_loss(self) -> float:
        """The validation loss with BatchNorm in training mode, moving statistics preserved."""
        with preserved(self.bn_variables):
            y_pred = np.concatenate([
                self._forward(tf.constant(self.x[i:i + EVAL_BATCH])).numpy()
                for i in range(0, len(self.x), EVAL_BATCH)])
        return numpy_loss(self.head.loss, self.y, y_pred)

    def __call__(self, step: int) -> None:
        y_pred = self.model.predict(self.x, batch_size=EVAL_BATCH, verbose=0)
        per = elementwise_loss(self.head.loss, self.y, y_pred)  # once for the mean and positions
        loss = float(per.mean())
        if self.head.per_step:
            self.by_position = [v if math.isfinite(v) else None for v in position_means(per)]
        row = {"step": step, "val_loss": loss if math.isfinite(loss) else None}
        if self.bn_variables:
            batch_loss = self._batch_stats_loss()
            row["val_loss_batch_stats"] = batch_loss if math.isfinite(batch_loss) else None
        for key, value in self.task.metrics(self.y, y_pred, self.params).items():
            row[key] = value if math.isfinite(value) else None
        self.rows.append(row)


def _compiled_model(config: Mapping[str, Any], task: Task) -> tuple[RNNModel, Head]:
    """Seeds everything, builds and compiles the model and its optimizer (with XLA when
    :func:`suite.model.xla.use_xla` says so)."""
    xla, _ = use_xla(config)
    _configure_determinism(int(config["seed"]), xla)
    params = config["task_params"]
    inputs: InputSpec = task.input_spec(params)
    head: Head = task.head(params)
    model = build_model(config, inputs, head, max_steps=sequence_length(task, params))
    model.compile(optimizer=make_optimizer(config), loss=keras_loss(head.loss), jit_compile=xla)
    if bool(model.jit_compile) != xla:
        raise RuntimeError(f"Keras compiled with jit_compile={model.jit_compile}, asked {xla}")
    model.optimizer.build(model.trainable_variables)
    return model, head


def _fit_chunks(model: RNNModel, task: Task, config: Mapping[str, Any], data_seed: int,
                recorder: StepRecorder, evaluate: _Evaluator) -> None:
    """Trains in chunks of ``eval_every`` steps, evaluating after each, until the step
    budget is spent or the run diverges. Chunk k's data comes from its own derived seed."""
    steps, every, batch = config["steps"], config["eval_every"], config["batch_size"]
    chunk = 0
    while recorder.steps < steps and recorder.diverged_step is None:
        n = min(every, steps - recorder.steps)
        x, y = task.make_data("train", n * batch, derive_seed(data_seed, "train", str(chunk)),
                              config["task_params"])
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[recorder])
        chunk += 1
        if recorder.diverged_step is None:
            evaluate(recorder.steps)


def train(config: Mapping[str, Any], task: Task,
          make_probe: Callable[[RNNModel, Any, Any], Any] | None = None,
          ) -> dict[str, Any]:
    """Trains one run and returns its result (curves, evaluations, status).

    Training data comes in chunks of ``eval_every`` steps, each chunk generated
    from a seed derived from the run seed and the chunk index, so the data
    seen at a given step is the same for every model with that seed.

    Args:
        config: Resolved run configuration.
        task: The task object.
        make_probe: Optional factory ``(model, x_probe, y_probe) -> probe``;
            ``probe(step)`` is called at step 0 and every ``probe_every``
            steps, ``probe.finish(step)`` at the end of a run that did not
            diverge, and ``probe.results()`` is stored as ``probes``.
            Default None: no probes.

    Returns:
        A dict with ``status`` (ok / diverged), ``curves``, ``evals``,
        ``diverged_step``, ``error`` and ``timing``.

    Raises:
        RunFailed: an exception inside training, with what was recorded until then.
    """
    t_start = time.perf_counter()
    seed, params = int(config["seed"]), config["task_params"]
    model, head = _compiled_model(config, task)
    chance = float(task.chance_loss(params))
    data_seed = derive_seed(seed, "data")
    evaluate = _Evaluator(model, task, head, params,
                          task.make_data("validation", config["eval_size"], data_seed, params))
    probe = None
    if make_probe is not None and config["probe_every"] > 0:
        x_probe, y_probe = task.make_data("train", min(32, config["batch_size"]),
                                          derive_seed(seed, "probe"), params)
        probe = make_probe(model, x_probe, y_probe)
    recorder = StepRecorder(chance, probe, config["probe_every"])
    t_train = time.perf_counter()
    try:
        evaluate(0)
        if probe is not None:
            probe(0)
        _fit_chunks(model, task, config, data_seed, recorder, evaluate)
        if probe is not None and recorder.diverged_step is None:
            probe.finish(recorder.steps)
    except Exception as err:
        raise RunFailed(err, {
            "steps_done": recorder.steps, "failed_step": recorder.steps + 1, "chance_loss": chance,
            "curves": recorder.curves, "evals": evaluate.rows,
            "probes": probe.results() if probe is not None else []}) from err
    times = recorder.step_times
    return {
        "status": "diverged" if recorder.diverged_step is not None else "ok",
        "error": recorder.diverged_reason or None,
        "diverged_step": recorder.diverged_step,
        "steps_done": recorder.steps,
        "chance_loss": chance,
        "curves": recorder.curves,
        "evals": evaluate.rows,
        "loss_by_position": evaluate.by_position,
        "probes": probe.results() if probe is not None else [],
        "timing": {"first_step_s": times[0] if times else None,
                   "ms_per_step": 1e3 * float(np.median(times[1:])) if len(times) > 1 else None,
                   "train_s": time.perf_counter() - t_train, "total_s": time.perf_counter() - t_start},
        "model": {"parameters": int(sum(np.prod(v.shape) for v in model.trainable_variables))},
        "xla": xla_record(config, model),
    }


def xla_record(config: Mapping[str, Any], model: keras.Model) -> dict[str, Any]:
    """What a run record says about compilation: the ``xla`` setting, whether the step,
    evaluation and probes were compiled with XLA, why, and whether TensorFlow's op
    determinism was on."""
    _, why = use_xla(config)
    return {"setting": config.get("xla", "auto"), "compiled": bool(model.jit_compile), "why": why,
            "op_determinism": bool(tf_config.is_op_determinism_enabled())}
