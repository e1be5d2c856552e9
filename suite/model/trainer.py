"""The suite's trainer: a ``train_step`` that logs pre-clip gradient norms.

Keras callbacks never see gradients, so the gradient instruments live in the
training step. Keras optimizers clip inside ``optimizer.apply``, so the norms
logged here are *pre-clip*: ``grad_norm`` is the global L2 norm of all
gradients, ``gn/<group>`` the norm per layer group, and ``clipped`` says
whether clipping changed this step's update (``clipnorm`` clips each variable
to its own norm; ``global_clipnorm`` rescales all gradients together, as in
Pascanu et al. 2013). The suite's :class:`~suite.model.builder.RNNModel`
inherits it (as ``keras.Model`` inherits Keras' trainer);
:class:`suite.instruments.Instrumented` wraps any Keras model with it.
"""
from __future__ import annotations

from typing import Any

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
