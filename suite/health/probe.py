"""Gradient-health probes: the temporal gradient profile, its rate and reach, and a diagnosis.

**Temporal profile.** ``||dL/dh_k||`` for every step k of the top recurrent
layer: the *total* derivative through the recurrence. The layer's cell is
wrapped in :class:`ProbeCell`, which adds a zero "probe" tensor to every new
state; the gradient of the loss with respect to the probe at step k is exactly
dL/dh_k. Norms are taken per example in float64 (float32 squares below ~1e-19
flush to zero) and averaged over a fixed probe batch (32 training examples
drawn from a seed derived from the run seed). The spread over examples is
kept as the 10/50/90% quantiles of the per-example rho and reach
(``rho_quantiles``, ``reach_quantiles``; :func:`suite.health.diagnosis.spread`).

**Mode.** A model without BatchNorm is probed in inference mode
(``training=False``; it makes no difference). A BatchNorm model (input,
output or recurrent placement) is probed with *batch statistics*
(``training=True``), the gradient training follows: the profile is the exact
gradient of the probe batch's mean loss, so dL/dh_k includes the
cross-example paths through the batch mean and variance. The BatchNorm
moving statistics are saved before and restored after every probe, so a
probed run trains bit-identically to an unprobed one. For these models the
record also has ``probe_mode: "batch"`` and the inference-mode
(moving-statistics) numbers ``loss_inference``, ``profile_inference``,
``rho_inference`` and ``reach_inference``.

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
:mod:`suite.health.dynamics` with the Jacobian products and Lyapunov exponents of
:mod:`suite.health.lyapunov` (the expensive part, kept off the other probes).
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from suite.health.diagnosis import fit_rate, reach, spectral_numbers, spread
from suite.health.dynamics import TrajectoryProbe
from suite.health.views import suite_view
from suite.model.cells import GATES, BNCell, preserved
from suite.model.cells import batchnorm_variables as model_batchnorm_variables

#: Kernel spectra, step Jacobians and saturation run on every n-th probe and at the end.
TRAJECTORY_EVERY = 5


def _state_sizes(cell) -> list[int]:
    """Sizes of the hidden states (a :class:`BNCell`'s step counter is not one)."""
    if isinstance(cell, BNCell):
        return list(cell.hidden_sizes)
    size = cell.state_size
    return [size] if isinstance(size, int) else list(size)


def batchnorm_variables(view) -> list:
    """The moving statistics of every BatchNorm layer of the viewed model (or of the
    probed layer when the view has no model); empty for a model without BatchNorm."""
    return model_batchnorm_variables(view.model if getattr(view, "model", None) is not None
                                     else view.layer)


class ProbeCell(keras.layers.Layer):
    """Wraps a built cell; input is ``concat([x_t, probe_t])`` and ``probe_t`` is
    added to every new hidden state, so d loss / d probe_t = d loss / d state_t
    (further states, such as a :class:`BNCell`'s step counter, pass unchanged)."""

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
        new = [s + p for s, p in zip(new, probes)] + new[len(probes):]
        return new[0], new


class Probe:
    """Gradient-health probe of one recurrent layer on a fixed batch; call it with the step.

    Args:
        view: The probed layer in its model (:class:`suite.instruments.RecurrentView`;
            a suite :class:`~suite.models.RNNModel` is accepted and viewed at its top layer).
        x, y: The fixed probe batch.
        jit_compile: Whether the profile is compiled with XLA (default None: as the
            viewed model's ``jit_compile``, so a compiled run's probes are compiled too).
    """

    def __init__(self, view, x, y, jit_compile: bool | None = None):
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
        #: BatchNorm moving statistics (saved and restored around every probe).
        self.bn_variables = batchnorm_variables(view)
        #: Whether the probe uses batch statistics (a BatchNorm model) or inference mode.
        self.batch_statistics = bool(self.bn_variables)

        def profile(x, y, training):
            z = view.pre(x, training=training)
            shape = tf.concat([tf.shape(z)[:2], [sum(self.sizes)]], 0)
            probe = tf.zeros(shape, z.dtype)
            with tf.GradientTape() as tape:
                tape.watch(probe)
                out = view.post(self.rnn(tf.concat([z, probe], -1), training=training),
                                training=training)
                if view.per_step:
                    out, y = out[:, -1], y[:, -1]
                loss = tf.reduce_mean(view.loss(y, out))
            g = tf.cast(tape.gradient(loss, probe), tf.float64)
            u = self.units
            h = tf.norm(g[..., :u], axis=-1)  # (examples, T): the per-example profiles
            c = tf.reduce_mean(tf.norm(g[..., u:], axis=-1), 0) if len(self.sizes) > 1 else h[0, :0]
            return loss, h, c

        if jit_compile is None:
            jit_compile = bool(getattr(view.model, "jit_compile", False))
        #: Whether the profile is compiled with XLA.
        self.jit_compile = jit_compile
        self._profile = tf.function(profile, jit_compile=jit_compile)
        self.trajectory = TrajectoryProbe(view, x, batch_statistics=self.batch_statistics)

    def _measure(self, training: bool) -> tuple[float, np.ndarray, np.ndarray]:
        """``(loss, per-example profiles (examples, T) by distance, LSTM profile_c by distance
        or empty)`` in one mode; the BatchNorm moving statistics are left exactly as they were."""
        with preserved(self.bn_variables):
            loss, h, c = self._profile(self.x, self.y, training)
        return float(loss), h.numpy()[:, ::-1], c.numpy()[::-1]

    def __call__(self, step: int, trajectory: bool | None = None) -> None:
        """Records a probe at ``step``; the trajectory probe (Jacobians, saturation) runs
        on every :data:`TRAJECTORY_EVERY`-th call unless ``trajectory`` says otherwise."""
        if trajectory is None:
            trajectory = len(self.records) % TRAJECTORY_EVERY == 0
        loss, examples, c = self._measure(self.batch_statistics)
        by_distance = examples.mean(0)
        rec: dict[str, Any] = {
            "step": int(step), "loss": loss,
            "profile": [float(v) for v in by_distance],
            "rho": fit_rate(by_distance), "reach": reach(by_distance), **spread(examples),
        }
        if c.shape[0]:
            rec["profile_c"] = [float(v) for v in c]
        if self.batch_statistics:
            rec.update(self._inference_numbers())
        if trajectory:
            rec.update(self._spectra())
        self.records.append(rec)

    def _inference_numbers(self) -> dict[str, Any]:
        """A BatchNorm model's profile in inference mode (moving statistics), labelled."""
        loss, examples, _ = self._measure(False)
        by_distance = examples.mean(0)
        return {"probe_mode": "batch", "loss_inference": loss,
                "profile_inference": [float(v) for v in by_distance],
                "rho_inference": fit_rate(by_distance), "reach_inference": reach(by_distance)}

    def _spectra(self) -> dict[str, Any]:
        """The kernel's spectrum and the trajectory numbers; only a reason where the cell's
        weights are not finite (a diverged model: its Jacobians would be NaN)."""
        if not all(np.isfinite(w.numpy()).all() for w in self.cell.weights):
            return {"trajectory_skipped": "non-finite weights (the model diverged)"}
        with preserved(self.bn_variables):
            dynamics = self.trajectory()
        return {"kernel": spectral_numbers(self.cell.recurrent_kernel.numpy(), self.blocks),
                **dynamics}

    def finish(self, step: int) -> None:
        """Makes sure the last record is at ``step`` and has the trajectory numbers."""
        last = self.records[-1] if self.records else None
        if last is None or last["step"] != step:
            self(step, trajectory=True)
        elif "jacobian_sigma_mean" not in last and "trajectory_skipped" not in last:
            last.update(self._spectra())

    def results(self) -> list[dict[str, Any]]:
        return self.records


def make_probe(model, x, y) -> Probe:
    """Factory used by :func:`suite.training.train`."""
    return Probe(suite_view(model), x, y)


