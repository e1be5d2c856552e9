"""The suite's trainer: Keras' ``train_step`` plus pre-clip gradient norms.

Keras callbacks never see gradients, so the gradient instruments live in the
training step. :class:`GradientNormsMixin` keeps Keras' own ``train_step``
contract (``keras.utils.unpack_x_y_sample_weight``, ``compute_loss`` with the
sample weights, the optimizer's loss scaling, the loss tracker and
``compute_metrics``, so compiled metrics update) and adds, every step:
``batch_loss``, ``grad_norm`` (the global L2 norm of all gradients),
``gn/<group>`` (the norm per layer group) and ``clipped``.

Keras optimizers clip inside ``optimizer.apply``, so these norms are
*pre-clip*. ``clipped`` is 1.0 when the optimizer's clipping changed this
step's gradients, decided from the gradients themselves with Keras' own
(strict) comparisons: ``clipnorm`` when some variable's gradient norm exceeds
it (each variable is clipped to its own norm), ``global_clipnorm`` when the
global norm exceeds it (all gradients are rescaled together, as in Pascanu et
al. 2013), ``clipvalue`` when some gradient entry exceeds it in absolute
value. Variables without a gradient (``None``: frozen by the loss, unused) are
left out of every norm and flag, as Keras' optimizer skips them. A sparse
gradient (``tf.IndexedSlices``, e.g. of an ``Embedding``: one row per token
occurrence) enters the norms as the true gradient, repeated rows summed; the
``clipped`` flag compares what Keras' clipping compares, the rows as given.

The suite's :class:`~suite.model.builder.RNNModel` inherits the mixin (as
``keras.Model`` inherits Keras' trainer); :class:`suite.instruments.Instrumented`
wraps any Keras model with it.
"""
from __future__ import annotations

import warnings
from typing import Any

import keras
import tensorflow as tf


def _dense(grad):
    """A gradient as a dense tensor (``tf.IndexedSlices``: duplicate rows summed)."""
    if isinstance(grad, tf.IndexedSlices):
        rows, where = tf.unique(grad.indices)
        return tf.math.unsorted_segment_sum(grad.values, where, tf.shape(rows)[0])
    return grad


def _as_keras_clips(grad):
    """What Keras' clipping measures: the rows of ``tf.IndexedSlices`` as given (repeats unsummed)."""
    return grad.values if isinstance(grad, tf.IndexedSlices) else grad


def global_norm(grads: list) -> tf.Tensor:
    """Global L2 norm of the gradients that are not None (0.0 when there are none)."""
    present = [_dense(g) for g in grads if g is not None]
    return tf.linalg.global_norm(present) if present else tf.constant(0.0)


def clip_settings(optimizer) -> dict[str, float]:
    """The optimizer's positive clip thresholds, by Keras name (an empty dict: no clipping).

    A ``keras.optimizers.LossScaleOptimizer`` clips with its inner optimizer's settings.
    """
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    out = {}
    for name in ("clipnorm", "global_clipnorm", "clipvalue"):
        value = getattr(optimizer, name, None)
        if value is not None and value > 0:
            out[name] = float(value)
    return out


def clip_fired(grads: list, optimizer, grad_norm: tf.Tensor | None = None) -> tf.Tensor:
    """Whether the optimizer's clipping changes these (unscaled) gradients, as a bool tensor.

    Args:
        grads: One gradient (or None) per trainable variable.
        optimizer: The Keras optimizer that applies them.
        grad_norm: Their :func:`global_norm` if already computed (default None: computed;
            not used when a gradient is sparse).
    """
    clip = clip_settings(optimizer)
    present = [_as_keras_clips(g) for g in grads if g is not None]
    if not present or not clip:
        return tf.constant(False)
    if "clipnorm" in clip:  # Keras' precedence: clipnorm, global_clipnorm, clipvalue
        return tf.reduce_any(tf.stack([tf.norm(g) > clip["clipnorm"] for g in present]))
    if "global_clipnorm" in clip:
        sparse = any(isinstance(g, tf.IndexedSlices) for g in grads)
        norm = tf.linalg.global_norm(present) if sparse or grad_norm is None else grad_norm
        return norm > clip["global_clipnorm"]
    return tf.reduce_any(tf.stack([tf.reduce_max(tf.abs(g)) > clip["clipvalue"] for g in present]))


def _loss_scale(optimizer):
    """The factor the optimizer's ``scale_loss`` multiplies the loss by (None: none)."""
    if hasattr(optimizer, "dynamic_scale"):  # keras.optimizers.LossScaleOptimizer
        return optimizer.dynamic_scale if optimizer.built else optimizer.initial_scale
    return getattr(optimizer, "loss_scale_factor", None)


class GradientNormsMixin:
    """Mix into a ``keras.Model`` (before it) to log gradient norms in ``train_step``.

    The step is Keras' own (sample weights, loss scaling, loss tracker,
    compiled metrics; single device, no ``tf.distribute`` strategy), and its
    logs are Keras' metrics plus ``batch_loss`` (this batch's loss),
    ``grad_norm`` (global, pre-clip), ``gn/<group>`` per group of
    :meth:`gradient_groups` and ``clipped`` (1.0 if clipping changed the
    gradients); see the module docstring for the rules.
    """

    def gradient_groups(self) -> dict[str, Any]:
        """Name -> layer whose gradient norm is logged (default: every trainable layer)."""
        return {layer.name: layer for layer in self.layers if layer.trainable_variables}

    def train_step(self, data):
        """One optimizer step on ``data`` = ``x``, ``(x, y)`` or ``(x, y, sample_weight)``."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            scaled = self.optimizer.scale_loss(loss)
        self._track_loss(x, loss)
        variables = self.trainable_variables
        if variables:
            grads = tape.gradient(scaled, variables)
            logs = self.gradient_logs(loss, grads, variables)
            self.optimizer.apply(grads, variables)  # Keras clips inside apply
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
            logs = self.gradient_logs(loss, [], [])
        metrics = self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        return {**metrics, **logs}

    def _track_loss(self, x, loss) -> None:
        """Updates Keras' running-mean ``loss`` metric, weighted by the batch size as Keras does."""
        tracker = getattr(self, "_loss_tracker", None)
        if tracker is None:
            tracker = next((m for m in self.metrics if m.name == "loss"), None)
        if tracker is not None:
            first = next(t for t in tf.nest.flatten(x) if t is not None)
            tracker.update_state(loss, sample_weight=tf.shape(first)[0])

    def gradient_logs(self, loss, grads: list, variables: list) -> dict[str, tf.Tensor]:
        """``batch_loss``, ``grad_norm``, ``gn/<group>`` and ``clipped`` of one step.

        Args:
            loss: The (unscaled) batch loss.
            grads: The gradients of the *scaled* loss, one (or None) per variable;
                they are unscaled here before any norm is taken.
            variables: The trainable variables, in the order of ``grads``.
        """
        scale = _loss_scale(self.optimizer)
        if scale is not None:
            grads = [None if g is None else g / tf.cast(scale, g.dtype) for g in grads]
        logs = {"batch_loss": loss, "grad_norm": global_norm(grads)}
        index = {id(v): i for i, v in enumerate(variables)}
        for name, layer in self.gradient_groups().items():
            logs[f"gn/{name}"] = global_norm(
                [grads[index[id(v)]] for v in layer.trainable_variables if id(v) in index])
        logs["clipped"] = tf.cast(clip_fired(grads, self.optimizer, logs["grad_norm"]), "float32")
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

    Compile and fit the wrapper as the model itself (losses, metrics, sample
    weights, clip settings: Keras' contract); its weights are the inner model's.

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
