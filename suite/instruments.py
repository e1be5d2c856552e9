"""Gradient-health instruments for any Keras RNN model, inside or outside a suite.

Three pieces:

* :class:`GradientNormsMixin`: a ``train_step`` that logs, every step, the
  batch loss, the global gradient norm *before clipping*, the norm per layer
  and whether the optimizer's ``clipnorm`` / ``global_clipnorm`` fired. The
  suite's own model uses it; :class:`Instrumented` wraps any Keras model with it.
* :class:`RecurrentView`: how to run one recurrent layer of a model in
  isolation (the part before it, the layer, the part after it, the loss), which
  the probes in :mod:`suite.health` and :mod:`suite.dynamics` need.
  :func:`view_of` builds it for a Sequential or functional model.
* :class:`GradientHealth`: a callback that records the per-step numbers and
  runs the probes (temporal profile, rho, reach, spectra, saturation) every
  ``every`` steps, with :meth:`GradientHealth.summary` for the diagnosis.

Example (README "Gradient health on your own model")::

    model = Instrumented(my_keras_model)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0), loss="mse")
    health = GradientHealth(layer=my_lstm_layer, x=x[:32], y=y[:32], loss="mse", every=100)
    model.fit(x, y, batch_size=64, callbacks=[health])
    print(health.summary())
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable

import keras
import tensorflow as tf


class GradientNormsMixin:
    """Mix into a ``keras.Model`` (before it) to log gradient norms in ``train_step``.

    Logs: ``batch_loss``, ``grad_norm`` (global, pre-clip), ``gn/<group>`` per
    group of :meth:`gradient_groups`, ``clipped`` (1.0 if clipping fired).
    """

    def gradient_groups(self) -> dict[str, Any]:
        """Name -> layer whose gradient norm is logged (default: every trainable layer)."""
        return {layer.name: layer for layer in self.layers if layer.trainable_variables}

    def train_step(self, data):
        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables)
        logs = {"batch_loss": loss, "grad_norm": tf.linalg.global_norm(grads)}
        index = {id(v): i for i, v in enumerate(variables)}
        for name, layer in self.gradient_groups().items():
            logs[f"gn/{name}"] = tf.linalg.global_norm(
                [grads[index[id(v)]] for v in layer.trainable_variables])
        clipnorm = getattr(self.optimizer, "clipnorm", None) or 0.0
        global_clipnorm = getattr(self.optimizer, "global_clipnorm", None) or 0.0
        if global_clipnorm > 0:
            clipped = logs["grad_norm"] > global_clipnorm
        elif clipnorm > 0:
            clipped = tf.reduce_any(tf.stack([tf.norm(g) > clipnorm for g in grads]))
        else:
            clipped = tf.constant(False)
        logs["clipped"] = tf.cast(clipped, "float32")
        self.optimizer.apply(grads, variables)  # Keras clips inside apply
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
        return logs


def append_step_logs(curves: dict[str, list[float]], logs: dict[str, Any]) -> dict[str, float]:
    """Appends one step's logs of :class:`GradientNormsMixin` to per-step ``curves``.

    ``batch_loss`` is stored as ``loss``; Keras' running-mean ``loss`` is dropped.

    Returns:
        This step's values as floats.
    """
    values = {("loss" if k == "batch_loss" else k): float(v) for k, v in (logs or {}).items()
              if k != "loss"}
    for key, value in values.items():
        curves.setdefault(key, []).append(value)
    return values


class Instrumented(GradientNormsMixin, keras.Model):
    """Wraps a built Keras model so that ``fit`` logs pre-clip gradient norms.

    Args:
        inner: Any Keras model (Sequential, functional or subclassed).
    """

    def __init__(self, inner: keras.Model, **kw):
        super().__init__(**kw)
        self.inner = inner

    def call(self, x, training=False):
        return self.inner(x, training=training)

    def gradient_groups(self) -> dict[str, Any]:
        return {layer.name: layer for layer in self.inner.layers if layer.trainable_variables}


def cell_kind(cell) -> str:
    """``simple_rnn``, ``lstm`` or ``gru`` for a Keras cell (or the suite's BNCell)."""
    from suite.models import BNCell

    if isinstance(cell, BNCell):
        return cell.kind
    for kind, cls in (("lstm", keras.layers.LSTMCell), ("gru", keras.layers.GRUCell),
                      ("simple_rnn", keras.layers.SimpleRNNCell)):
        if isinstance(cell, cls):
            return kind
    raise ValueError(f"gradient-health probes support SimpleRNN, LSTM and GRU cells, "
                     f"not {type(cell).__name__}")


@dataclasses.dataclass
class RecurrentView:
    """One recurrent layer of a model, runnable in isolation (inference mode).

    Attributes:
        pre: ``x -> inputs of the layer`` (everything before it).
        layer: The Keras RNN layer (``SimpleRNN``, ``LSTM``, ``GRU`` or ``RNN(cell)``).
        post: ``layer outputs -> model predictions`` (everything after it).
        loss: ``(y_true, y_pred) -> losses`` (reduced by mean).
        per_step: Whether predictions are per time step (the profile then uses
            the last step's loss).
    """

    pre: Callable
    layer: Any
    post: Callable
    loss: Callable
    per_step: bool

    @property
    def cell(self):
        return self.layer.cell

    @property
    def kind(self) -> str:
        return cell_kind(self.layer.cell)

    @property
    def activation(self) -> str:
        act = getattr(self.layer.cell, "activation", None)
        return getattr(act, "__name__", "tanh") if self.kind == "simple_rnn" else "tanh"

    @property
    def units(self) -> int:
        return int(self.layer.cell.units)


def view_of(model: keras.Model, layer, loss: str | Callable,
            per_step: bool | None = None) -> RecurrentView:
    """Builds a :class:`RecurrentView` of ``layer`` inside a Sequential or functional model.

    Args:
        model: The (built) model containing ``layer``; an :class:`Instrumented`
            wrapper is unwrapped.
        layer: The recurrent layer to probe (called once in the model).
        loss: A Keras loss name or callable ``(y_true, y_pred)``.
        per_step: Whether the model predicts per step; default: ``layer.return_sequences``.
    """
    if isinstance(model, Instrumented):
        model = model.inner
    loss_fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    if per_step is None:
        per_step = bool(layer.return_sequences)
    if isinstance(model, keras.Sequential):
        layers = list(model.layers)
        idx = layers.index(layer)

        def pre(x):
            for lay in layers[:idx]:
                x = lay(x, training=False)
            return x

        def post(h):
            for lay in layers[idx + 1:]:
                h = lay(h, training=False)
            return h

        return RecurrentView(pre, layer, post, loss_fn, per_step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = keras.Model(model.inputs, layer.input)
        after = keras.Model(layer.output, model.outputs[0] if len(model.outputs) == 1 else model.outputs)
    return RecurrentView(lambda x: before(x, training=False), layer,
                         lambda h: after(h, training=False), loss_fn, per_step)


class GradientHealth(keras.callbacks.Callback):
    """Records per-step gradient numbers and runs gradient-health probes during ``fit``.

    Use with a model whose ``train_step`` logs gradient norms (:class:`Instrumented`
    or the suite's model); with any other model only the probes run.

    Args:
        layer: The recurrent layer to probe.
        x, y: A fixed probe batch (e.g. 32 training examples).
        loss: Loss name or callable for the profile.
        every: Probe cadence in optimizer steps (default 100; also at the start and end).
        per_step: See :func:`view_of`.

    Attributes:
        curves: Per-step lists: ``loss``, ``grad_norm``, ``gn/<layer>``, ``clipped``.
        probes: One dict per probe (``step``, ``profile``, ``rho``, ``reach``,
            ``kernel``, and on some probes ``jacobian_sigma_*`` and ``saturation``).
    """

    def __init__(self, layer, x, y, loss: str | Callable, every: int = 100,
                 per_step: bool | None = None):
        super().__init__()
        self.layer, self.x, self.y, self.loss = layer, x, y, loss
        self.every, self.per_step = every, per_step
        self.curves: dict[str, list[float]] = {}
        self._probe = None
        self._step = 0

    @property
    def probes(self) -> list[dict[str, Any]]:
        return self._probe.results() if self._probe is not None else []

    def on_train_begin(self, logs=None):
        if self._probe is None:
            from suite.health import Probe

            self._probe = Probe(view_of(self.model, self.layer, self.loss, self.per_step),
                                self.x, self.y)
            self._probe(0)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        append_step_logs(self.curves, logs)
        if self.every and self._step % self.every == 0:
            self._probe(self._step)

    def on_train_end(self, logs=None):
        self._probe.finish(self._step)

    def summary(self) -> dict[str, Any]:
        """rho, reach, spectra, saturation and the diagnosis with its reason."""
        import math

        from suite.health import summarise

        losses = self.curves.get("loss", [])
        bad = next((i + 1 for i, v in enumerate(losses) if not math.isfinite(v)), None)
        result = {"status": "diverged" if bad else "ok", "probes": self.probes,
                  "error": f"non-finite loss at step {bad}" if bad else None}
        out = summarise(result)
        return {**out["summary"], "reason": out["reason"]}
