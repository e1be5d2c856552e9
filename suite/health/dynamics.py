"""Recurrent dynamics along trajectories: step-Jacobian spectra and unit saturation.

Both are measured on a few examples of the probe batch, running the top
recurrent layer's cell step by step; for BatchNorm models with the batch
statistics that training uses (see :class:`TrajectoryProbe`), otherwise in
inference mode:

* **Step Jacobian** J_t = d s_t / d s_{t-1} of the full state s (h for
  SimpleRNN and GRU, the concatenation (h, c) for the LSTM), by one
  ``tape.batch_jacobian`` over every (example, step) pair of the trajectory;
  its largest singular value is ``sqrt(max eig(J^T J))`` (``eigvalsh``; power
  iteration underestimated it in our measurements). Reported: mean and max
  over the steps and examples. The product of these Jacobians is what
  carries the gradient back in time: :mod:`suite.health.lyapunov` turns them
  into the product bound, the product norm and the largest Lyapunov exponent
  (not for a recurrent-BatchNorm cell probed with batch statistics: see
  :data:`BN_PRODUCTS_SKIPPED`).
* **Saturation**: the fraction of units whose nonlinearity's derivative is
  below :data:`SATURATION_THRESHOLD` (0.05), per gate: tanh'(a) = 1 - tanh(a)^2
  (|tanh a| > 0.975), sigmoid'(a) = s(1 - s) (s < 0.053 or s > 0.947); for
  another element-wise activation of the cell (``activation`` /
  ``recurrent_activation``) its derivative by autodiff. For a
  relu SimpleRNN the reported number is the fraction of dead units (a <= 0,
  derivative 0); a linear SimpleRNN has none. Gate names follow Keras: LSTM
  ``input``, ``forget``, ``candidate``, ``output`` (by default
  sigmoid/tanh/sigmoid) and ``cell_tanh`` (the activation of the cell state,
  ``cell_<activation>`` for another); GRU ``update``, ``reset``,
  ``candidate``, with ``reset_after`` True (Keras' default: the reset gate
  scales ``h U_h + b``) or False (it scales ``h`` before ``U_h``). For the recurrent-BatchNorm cell the pre-activations include
  its normalisation with the statistics of their time step.
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from suite.health.lyapunov import norm_distances, product_numbers
from suite.health.views import activation_name
from suite.model.cells import BNCell

#: A unit counts as saturated when its derivative is below this.
SATURATION_THRESHOLD = 0.05
#: Why a recurrent-BN cell probed with batch statistics has no Jacobian products.
BN_PRODUCTS_SKIPPED = ("recurrent BatchNorm with batch statistics: every step couples the probe "
                       "examples through the batch mean and variance, so the per-example step "
                       "Jacobian (statistics held fixed) is not the factor the measured gradient "
                       "crosses, and its products would not describe it")


def _sat_tanh(a):
    return tf.cast(1.0 - tf.square(tf.tanh(a)) < SATURATION_THRESHOLD, tf.float32)


def _sat_sigmoid(a):
    s = tf.sigmoid(a)
    return tf.cast(s * (1.0 - s) < SATURATION_THRESHOLD, tf.float32)


def _dead_relu(a):
    return tf.cast(a <= 0.0, tf.float32)


def _saturated(fn, a):
    """1 where the derivative of the element-wise activation ``fn`` at ``a`` is below
    :data:`SATURATION_THRESHOLD` (closed forms for tanh, sigmoid and relu, else autodiff)."""
    name = activation_name(fn)
    if name in ("tanh", "sigmoid", "relu"):
        return {"tanh": _sat_tanh, "sigmoid": _sat_sigmoid, "relu": _dead_relu}[name](a)
    with tf.GradientTape() as tape:
        tape.watch(a)
        y = fn(a)
    return tf.cast(tf.abs(tape.gradient(y, a)) < SATURATION_THRESHOLD, tf.float32)


def _activations(cell) -> tuple[Any, Any]:
    """``(activation, recurrent_activation)`` the cell runs (the BN cell: tanh and sigmoid)."""
    act = getattr(cell, "activation", None) or keras.activations.tanh
    rec = getattr(cell, "recurrent_activation", None) or keras.activations.sigmoid
    return act, rec


def _terms(cell, kind: str, x, h, stats):
    """``(input term + input bias, recurrent term + recurrent bias)`` of the pre-activations.

    A GRU with ``reset_after=False`` gets only the update and reset columns of the
    recurrent term here (its candidate's recurrent term needs the reset gate).
    """
    if isinstance(cell, BNCell):
        stats = stats if stats is not None else cell.population_statistics(0)
        zx, zh, bias_x = cell.normalized_terms(x, h, lambda bn, v: bn.normalize(v, *stats[bn.name]))
        return zx + bias_x, zh
    bias = getattr(cell, "bias", None) if getattr(cell, "use_bias", True) else None
    bias_x, bias_h = (0.0, 0.0) if bias is None else (bias, 0.0)
    if bias is not None and len(bias.shape) == 2:  # GRU reset_after: input and recurrent bias
        bias_x, bias_h = bias[0], bias[1]
    zx = ops.matmul(x, cell.kernel) + bias_x
    if kind == "gru" and not getattr(cell, "reset_after", True):
        return zx, ops.matmul(h, cell.recurrent_kernel[:, :2 * h.shape[-1]])
    return zx, ops.matmul(h, cell.recurrent_kernel) + bias_h


def gate_preactivations(cell, kind: str, activation: str, x, states,
                        stats: dict[str, tuple] | None = None) -> dict[str, Any]:
    """Saturation indicator (0/1 per unit) of every gate of one cell step, as Keras runs it.

    The pre-activations and nonlinearities are the cell's own: its ``activation``
    and ``recurrent_activation`` (element-wise; :func:`suite.health.views.check_probeable`
    refuses others), a GRU with ``reset_after`` True or False, with or without bias.
    The LSTM's ``cell_<activation>`` gate is the activation of the cell state
    (``cell_tanh`` by default).

    Args:
        cell: A Keras ``SimpleRNNCell``, ``LSTMCell``, ``GRUCell`` or :class:`suite.model.cells.BNCell`.
        kind: ``simple_rnn``, ``lstm`` or ``gru``.
        activation: The SimpleRNN activation (``tanh``, ``relu``, ``linear``, ...).
        x: Inputs of this step, ``(B, F)``.
        states: The previous hidden states (list; no step counter).
        stats: BNCell only: the statistics to normalise with, ``{bn name: (mean,
            variance)}``, per row or shared (default: the moving statistics of step 0).
    """
    h = states[0]
    u = h.shape[-1]
    zx, zh = _terms(cell, kind, x, h, stats)
    act, rec = _activations(cell)
    if kind == "simple_rnn":
        if activation == "linear":
            return {}
        return {activation if activation != "relu" else "relu_dead": _saturated(act, zx + zh)}
    if kind == "lstm":
        z = zx + zh
        i, f, g, o = (z[:, k * u:(k + 1) * u] for k in range(4))
        c = rec(f) * states[1] + rec(i) * act(g)
        if isinstance(cell, BNCell):
            stats = stats if stats is not None else cell.population_statistics(0)
            c = cell.bn_c.normalize(c, *stats["bn_c"])
        return {"input": _saturated(rec, i), "forget": _saturated(rec, f),
                "candidate": _saturated(act, g), "output": _saturated(rec, o),
                f"cell_{activation_name(act)}": _saturated(act, c)}
    a_update = zx[:, :u] + zh[:, :u]
    a_reset = zx[:, u:2 * u] + zh[:, u:2 * u]
    if isinstance(cell, BNCell) or getattr(cell, "reset_after", True):
        a_cand = zx[:, 2 * u:] + rec(a_reset) * zh[:, 2 * u:]
    else:  # reset_after=False: the reset gate scales h before the recurrent kernel
        a_cand = zx[:, 2 * u:] + ops.matmul(rec(a_reset) * h, cell.recurrent_kernel[:, 2 * u:])
    return {"update": _saturated(rec, a_update), "reset": _saturated(rec, a_reset),
            "candidate": _saturated(act, a_cand)}


# --- recurrent BatchNorm: per-step statistics packed into one vector per step ---------------

def pack_statistics(cell: BNCell, stats: dict[str, tuple]):
    """``{bn name: (mean, variance)}`` of a :class:`BNCell` as one tensor (last axis)."""
    return tf.concat([tf.concat(stats[bn.name], -1) for bn in cell.norms], -1)


def unpack_statistics(cell: BNCell, packed) -> dict[str, tuple]:
    """Inverse of :func:`pack_statistics`."""
    widths = [int(bn.gamma.shape[0]) for bn in cell.norms]
    parts = tf.split(packed, [w for w in widths for _ in (0, 1)], axis=-1)
    return {bn.name: (parts[2 * i], parts[2 * i + 1]) for i, bn in enumerate(cell.norms)}


def _bn_trajectory(view, cell: BNCell, sizes: list[int], examples: int, batch_statistics: bool):
    """``x -> (states (T, E, P), inputs (T, E, F), statistics (T, W))`` of a :class:`BNCell`.

    With batch statistics the whole probe batch runs (the statistics of step t
    are those of its examples at step t, as in training) and the first
    ``examples`` are kept; otherwise the moving statistics of each step.
    Nothing is updated.
    """
    def run(x):
        z = view.pre(x, training=batch_statistics)
        if not batch_statistics:
            z = z[:examples]
        steps = tf.shape(z)[1]
        s = tf.zeros((tf.shape(z)[0], sum(sizes)), z.dtype)
        before = tf.TensorArray(z.dtype, size=steps)
        packed = tf.TensorArray(z.dtype, size=steps)
        for t in tf.range(steps):
            before = before.write(t, s[:examples])
            hidden = tf.split(s, sizes, axis=-1) if len(sizes) > 1 else [s]
            if batch_statistics:
                stats, new = cell.batch_statistics(z[:, t], hidden)
            else:
                stats = cell.population_statistics(t)
                new = cell.step_with(z[:, t], hidden, stats)[1]
            packed = packed.write(t, pack_statistics(cell, stats))
            s = tf.concat(new, -1)
        return before.stack(), tf.transpose(z[:examples], (1, 0, 2)), packed.stack()

    return run


def _plain_trajectory(view, step, sizes: list[int], examples: int, batch_statistics: bool):
    """``x -> (states, inputs, empty statistics)`` for a cell without BatchNorm."""
    def run(x):
        z = view.pre(x, training=True)[:examples] if batch_statistics else view.pre(x)
        batch, steps = tf.shape(z)[0], tf.shape(z)[1]
        s = tf.zeros((batch, sum(sizes)), z.dtype)
        before = tf.TensorArray(z.dtype, size=steps)
        for t in tf.range(steps):
            before = before.write(t, s)
            s = step(z[:, t], s, None)
        return before.stack(), tf.transpose(z, (1, 0, 2)), tf.zeros((steps, 0), z.dtype)

    return run


class TrajectoryProbe:
    """Step-Jacobian sigma_max and saturation of a recurrent layer on a few examples.

    The layer's cell is run step by step over the probe examples to record the
    trajectory of states; then the Jacobians of every step (or of at most
    ``max_steps`` evenly spaced steps) are computed in one vectorised
    ``batch_jacobian`` call over (example, step) pairs, and saturation is
    measured at every step. With the Jacobians of every step the record also
    gets :func:`suite.health.lyapunov.product_numbers` (``lyapunov_1``,
    ``lyapunov_spectrum``, ``product_bound``, ``product_norm``), except for a
    recurrent-BN cell with batch statistics, which gets ``products_skipped``
    (:data:`BN_PRODUCTS_SKIPPED`) instead.

    With ``batch_statistics`` (BatchNorm models) the layers before the probed
    one run in training mode on the whole probe batch, and a recurrent-BN cell
    normalises step t with the batch statistics of step t, as in training.
    The Jacobian holds those statistics fixed: it is the per-example
    d s_t / d s_{t-1}, without the cross-example terms through the batch
    mean and variance (of order 1/batch). Without it a recurrent-BN cell uses
    the moving statistics of each step (inference mode). Nothing is updated.

    Args:
        view: The probed layer (:class:`suite.instruments.RecurrentView`).
        x: Probe inputs; the first ``examples`` (default 4) are followed.
        examples: How many examples to follow.
        max_steps: Most time steps whose Jacobian is computed (default None: every
            step; with fewer than the sequence length there are no products).
        batch_statistics: Batch statistics as in training (default False).
    """

    def __init__(self, view, x, examples: int = 4, max_steps: int | None = None,
                 batch_statistics: bool = False):
        cell, kind, activation = view.cell, view.kind, view.activation
        size = cell.state_size
        sizes = getattr(cell, "hidden_sizes", None) or ([size] if isinstance(size, int) else list(size))
        bn = isinstance(cell, BNCell)
        self.products_skipped = BN_PRODUCTS_SKIPPED if bn and batch_statistics else None
        self.x = tf.constant(x if batch_statistics else x[:examples])
        self.names = list(gate_preactivations(cell, kind, activation,
                                              tf.zeros((1, cell.kernel.shape[0])),
                                              [tf.zeros((1, n)) for n in sizes]))

        def split(s):
            return tf.split(s, sizes, axis=-1) if len(sizes) > 1 else [s]

        def step(x_t, s, packed):
            if bn:
                return tf.concat(cell.step_with(x_t, split(s), unpack_statistics(cell, packed))[1], -1)
            _, new = cell(x_t, split(s), training=False)
            new = list(new) if isinstance(new, (list, tuple)) else [new]
            return tf.concat(new, -1)

        trajectory = (_bn_trajectory(view, cell, sizes, examples, batch_statistics) if bn
                      else _plain_trajectory(view, step, sizes, examples, batch_statistics))

        def run(x):
            states, inputs, packed = trajectory(x)               # s_{t-1}: (T, B, P); (T, B, F)
            steps, batch, feats = tf.shape(inputs)[0], tf.shape(inputs)[1], tf.shape(inputs)[2]
            stride = 1 if max_steps is None else tf.maximum(1, (steps + max_steps - 1) // max_steps)
            idx = tf.range(0, steps, stride)
            s_prev = tf.reshape(tf.gather(states, idx), (-1, sum(sizes)))
            x_t = tf.reshape(tf.gather(inputs, idx), (-1, feats))
            rows = tf.repeat(tf.gather(packed, idx), batch, axis=0)
            with tf.GradientTape() as tape:
                tape.watch(s_prev)
                s_new = step(x_t, s_prev, rows)
            jac = tape.batch_jacobian(s_new, s_prev)            # (steps * batch, P, P)
            # float32: the largest eigenvalue has a relative error ~1e-7 (half the time of float64)
            eig = tf.linalg.eigvalsh(tf.matmul(jac, jac, transpose_a=True))[:, -1]
            sigma = tf.reshape(tf.sqrt(tf.maximum(eig, 0.0)), (tf.shape(idx)[0], batch))
            if not self.names:
                return idx, sigma, tf.zeros((0,)), jac
            stats = unpack_statistics(cell, tf.repeat(packed, batch, axis=0)) if bn else None
            gates = gate_preactivations(cell, kind, activation, tf.reshape(inputs, (-1, feats)),
                                        split(tf.reshape(states, (-1, sum(sizes)))), stats)
            return idx, sigma, tf.stack([tf.reduce_mean(gates[n]) for n in self.names]), jac

        self._run = tf.function(run)

    def __call__(self) -> dict[str, Any]:
        idx, sigma, sat, jac = self._run(self.x)
        sig, steps = sigma.numpy(), idx.numpy()
        out: dict[str, Any] = {
            "jacobian_sigma_mean": float(sig.mean()), "jacobian_sigma_max": float(sig.max()),
            "jacobian_steps": [int(i) for i in steps],
            "jacobian_sigma_by_step": [float(v) for v in sig.mean(axis=1)],
            "saturation": {n: float(v) for n, v in zip(self.names, sat.numpy())}}
        if self.products_skipped:
            out["products_skipped"] = self.products_skipped
        elif len(steps) >= 2 and np.array_equal(steps, np.arange(len(steps))):
            per_step = jac.numpy().reshape(len(steps), sig.shape[1], *jac.shape[1:])
            out.update(product_numbers(np.swapaxes(per_step, 0, 1), sig.T, norm_distances(len(steps)),
                                       dtype=np.float32))
        return out
