"""Gradient-health probes: the temporal gradient profile, its rate and reach, and a diagnosis.

**Temporal profile.** ``||dL/dh_k||`` for every step k of the top recurrent
layer: the *total* derivative through the recurrence. The layer's cell is
wrapped in :class:`ProbeCell`, which adds a zero "probe" tensor to every new
state; the gradient of the loss with respect to the probe at step k is exactly
dL/dh_k. Norms are taken per example in float64 (float32 squares below ~1e-19
flush to zero) and averaged over a fixed probe batch (32 training examples
drawn from a seed derived from the run seed). The probe runs in inference mode
(``training=False``) so it never touches BatchNorm statistics.

The loss of the profile is the loss at the *last scored position*: the task
loss for last-step tasks (adding), the loss of the last time step for
per-step tasks (copy memory: the last copied symbol, whose input lies
``seq_len + 10`` steps back; char_lm: the last character of the window). The
distance of step k is ``d = T - 1 - k`` (0 for the last step).

For the LSTM the profile is the h-state one; ``profile_c`` holds
``||dL/dc_k||`` for an additive perturbation of the cell state c_k *after*
h_k was computed from it, i.e. the part of the gradient that travels through
the carry alone.

Every :data:`TRAJECTORY_EVERY`-th probe and the last one also carry the
kernel spectra, and the step-Jacobian spectra and gate saturation of
:mod:`suite.health.dynamics` (the expensive part, kept off the other probes).
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from suite.health.diagnosis import fit_rate, reach, spectral_numbers
from suite.health.dynamics import TrajectoryProbe
from suite.health.views import suite_view
from suite.model.cells import GATES

#: Kernel spectra, step Jacobians and saturation run on every n-th probe and at the end.
TRAJECTORY_EVERY = 5


def _state_sizes(cell) -> list[int]:
    size = cell.state_size
    return [size] if isinstance(size, int) else list(size)


class ProbeCell(keras.layers.Layer):
    """Wraps a built cell; input is ``concat([x_t, probe_t])`` and ``probe_t`` is
    added to every new state, so d loss / d probe_t = d loss / d state_t."""

    def __init__(self, cell, **kw):
        super().__init__(**kw)
        self.cell = cell
        self.state_size = cell.state_size
        self.output_size = cell.output_size
        self.sizes = _state_sizes(cell)

    def build(self, input_shape):
        self.features = input_shape[-1] - sum(self.sizes)

    def call(self, inputs, states, training=False):
        x = inputs[:, :self.features]
        offsets = np.cumsum([self.features] + self.sizes).tolist()
        probes = [inputs[:, a:b] for a, b in zip(offsets[:-1], offsets[1:])]
        _, new = self.cell(x, states, training=training)
        new = list(new) if isinstance(new, (list, tuple)) else [new]
        new = [s + p for s, p in zip(new, probes)]
        return new[0], new


class Probe:
    """Gradient-health probe of one recurrent layer on a fixed batch; call it with the step.

    Args:
        view: The probed layer in its model (:class:`suite.instruments.RecurrentView`;
            a suite :class:`~suite.models.RNNModel` is accepted and viewed at its top layer).
        x, y: The fixed probe batch.
    """

    def __init__(self, view, x, y):
        if not hasattr(view, "pre"):
            view = suite_view(view)
        self.view = view
        self.cell = view.cell
        self.units = view.units
        self.blocks = GATES[view.kind]
        self.sizes = _state_sizes(self.cell)
        self.rnn = keras.layers.RNN(ProbeCell(self.cell),
                                    return_sequences=view.layer.return_sequences)
        self.x = tf.constant(x)
        self.y = tf.constant(y)
        self.records: list[dict[str, Any]] = []

        def profile(x, y):
            z = view.pre(x)
            shape = tf.concat([tf.shape(z)[:2], [sum(self.sizes)]], 0)
            probe = tf.zeros(shape, z.dtype)
            with tf.GradientTape() as tape:
                tape.watch(probe)
                out = view.post(self.rnn(tf.concat([z, probe], -1), training=False))
                if view.per_step:
                    out, y = out[:, -1], y[:, -1]
                loss = tf.reduce_mean(view.loss(y, out))
            g = tf.cast(tape.gradient(loss, probe), tf.float64)
            u = self.units
            h = tf.reduce_mean(tf.norm(g[..., :u], axis=-1), 0)
            c = tf.reduce_mean(tf.norm(g[..., u:], axis=-1), 0) if len(self.sizes) > 1 else h[:0]
            return loss, h, c

        self._profile = tf.function(profile)
        self.trajectory = TrajectoryProbe(view, x)

    def __call__(self, step: int, trajectory: bool | None = None) -> None:
        """Records a probe at ``step``; the trajectory probe (Jacobians, saturation) runs
        on every :data:`TRAJECTORY_EVERY`-th call unless ``trajectory`` says otherwise."""
        if trajectory is None:
            trajectory = len(self.records) % TRAJECTORY_EVERY == 0
        loss, h, c = self._profile(self.x, self.y)
        by_distance = h.numpy()[::-1]
        rec: dict[str, Any] = {
            "step": int(step), "loss": float(loss),
            "profile": [float(v) for v in by_distance],
            "rho": fit_rate(by_distance), "reach": reach(by_distance),
        }
        if c.shape[0]:
            rec["profile_c"] = [float(v) for v in c.numpy()[::-1]]
        if trajectory:
            rec.update(self._spectra())
        self.records.append(rec)

    def _spectra(self) -> dict[str, Any]:
        return {"kernel": spectral_numbers(self.cell.recurrent_kernel.numpy(), self.blocks),
                **self.trajectory()}

    def finish(self, step: int) -> None:
        """Makes sure the last record is at ``step`` and has the trajectory numbers."""
        last = self.records[-1] if self.records else None
        if last is None or last["step"] != step:
            self(step, trajectory=True)
        elif "jacobian_sigma_mean" not in last:
            last.update(self._spectra())

    def results(self) -> list[dict[str, Any]]:
        return self.records


def make_probe(model, x, y) -> Probe:
    """Factory used by :func:`suite.training.train`."""
    return Probe(suite_view(model), x, y)


