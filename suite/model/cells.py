"""Cells and initializers of the suite's models: presets per gate block, the recurrent-BN cell.

Every initializer gets an explicit seed (:func:`derive_seed` of the run seed),
so weights never depend on Python's global ``random`` state.

Initializer presets (``recurrent_initializer`` / ``kernel_initializer``):
  * ``default``: Keras' own choice (orthogonal recurrent, Glorot-uniform input).
  * ``glorot_uniform``: Glorot-uniform on the whole kernel.
  * ``orthogonal[:g]``: each gate block orthogonal, times gain g (default 1).
  * ``identity[:g]``: each gate block g * I (IRNN, Le et al. 2015, with relu).
  * ``normal:g``: i.i.d. N(0, (g / sqrt(fan_in))^2); for a square block the
    spectral radius is about g, so a sweep over g crosses the
    vanishing/exploding boundary.
  * ``zeros``: all zeros (for controlled experiments).

BatchNorm modes: ``none``; ``input`` (over the features before the first
recurrent layer); ``output`` (on the last recurrent layer's outputs, before
the head); two placements inside the cell (:class:`BNCell`), both with gamma
initialised to the run axis ``bn_gamma`` and statistics per time step:

* ``recurrent``: separate BN of the input and recurrent pre-activations (and of
  the LSTM cell state), ``BN(W_x x_t) + BN(W_h h_{t-1}) + b``: the BN-LSTM of
  Cooijmans et al. 2016, section 3, eq. 6-8.
* ``recurrent_sum`` (SimpleRNN only): one BN over the summed pre-activation,
  ``h_t = act(BN(W_h h_{t-1} + W_x x_t; gamma, beta))``, beta (initialised to 0)
  in place of a bias: the batch-normalised tanh RNN of Cooijmans et al. 2016,
  section 4 and figure 1a (``stepfn`` of ``sequential_mnist.py`` in their
  repository cooijmanstim/recurrent-batch-normalization).
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator

import keras
import numpy as np
from keras import layers, ops

from suite.api import hash_str
from suite.axes import GATES

LAYERS = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}


def derive_seed(seed: int, *names: str) -> int:
    """A 31-bit seed for one named use (e.g. ``"rnn_0/recurrent"``) of a run seed."""
    return hash_str(f"{int(seed)}/" + "/".join(names))


def parse_preset(preset: str) -> tuple[str, float]:
    """Splits ``"orthogonal:2.0"`` into ``("orthogonal", 2.0)``; gain defaults to 1."""
    name, _, gain = preset.partition(":")
    return name, float(gain) if gain else 1.0


class BlockInitializer(keras.initializers.Initializer):
    """A preset applied per gate block of a ``(fan_in, gates * units)`` kernel.

    Args:
        preset: See module docstring.
        seed: Explicit seed (block i uses ``seed + i``).
        blocks: Gate blocks along the last axis (1 for SimpleRNN, 4 LSTM, 3 GRU).
        recurrent: Whether ``default`` means orthogonal (True) or Glorot (False).
    """

    def __init__(self, preset: str, seed: int, blocks: int = 1, recurrent: bool = True):
        self.preset, self.seed, self.blocks, self.recurrent = preset, int(seed), blocks, recurrent

    def __call__(self, shape, dtype=None):
        name, gain = parse_preset(self.preset)
        if name == "default":
            init = (keras.initializers.Orthogonal(seed=self.seed) if self.recurrent
                    else keras.initializers.GlorotUniform(seed=self.seed))
            return init(shape, dtype=dtype)
        if name == "glorot_uniform":
            return keras.initializers.GlorotUniform(seed=self.seed)(shape, dtype=dtype)
        if name == "zeros":
            return ops.zeros(shape, dtype=dtype)
        rows, cols = shape
        width = cols // self.blocks
        parts = []
        for i in range(self.blocks):
            if name == "orthogonal":
                part = keras.initializers.Orthogonal(gain=gain, seed=self.seed + i)((rows, width), dtype)
            elif name == "identity":
                part = gain * ops.eye(rows, width, dtype=dtype)
            elif name == "normal":
                part = keras.initializers.RandomNormal(0.0, gain / math.sqrt(rows),
                                                       seed=self.seed + i)((rows, width), dtype)
            else:
                raise ValueError(f"unknown initializer preset {self.preset!r}")
            parts.append(part)
        return ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def get_config(self) -> dict[str, Any]:
        return {"preset": self.preset, "seed": self.seed, "blocks": self.blocks,
                "recurrent": self.recurrent}


class StepBN(layers.Layer):
    """BatchNorm with separate population statistics per time step (Cooijmans et al. 2016).

    Called as ``bn(x, t, training)`` for the features ``x`` (``(batch, width)``)
    of time step ``t`` (a scalar integer tensor). In training mode it
    normalises with the batch's mean and (biased) variance and updates row
    ``t`` of ``moving_mean``/``moving_variance`` once, as Keras'
    ``BatchNormalization`` does (``moving = momentum * moving + (1 - momentum) *
    batch``); steps ``t >= steps`` update nothing. In inference mode it uses
    row ``min(t, steps - 1)``: beyond the longest training length, the last
    step's statistics. ``update=False`` normalises with the batch statistics
    without updating.

    Args:
        steps: Rows of statistics (the longest training length T_max).
        gamma: Initial scale.
        center: Whether there is a learned offset beta (initialised to 0).
        momentum: Moving-average momentum (default 0.99, Keras' default).
        epsilon: Added to the variance (default 1e-3, Keras' default).
    """

    def __init__(self, steps: int, gamma: float, center: bool, momentum: float = 0.99,
                 epsilon: float = 1e-3, **kw):
        super().__init__(**kw)
        self.steps, self.gamma_init, self.center = int(steps), float(gamma), center
        self.momentum, self.epsilon = momentum, epsilon

    def build(self, input_shape):
        w = input_shape[-1]
        self.gamma = self.add_weight((w,), keras.initializers.Constant(self.gamma_init), name="gamma")
        self.beta = self.add_weight((w,), "zeros", name="beta") if self.center else None
        self.moving_mean = self.add_weight((self.steps, w), "zeros", name="moving_mean",
                                           trainable=False)
        self.moving_variance = self.add_weight((self.steps, w), "ones", name="moving_variance",
                                               trainable=False)

    def moments(self, x):
        """The batch mean and biased variance of ``x`` over its first axis."""
        return ops.moments(x, axes=[0])

    def population(self, t):
        """Moving mean and variance of step(s) ``t`` (clipped to the last row)."""
        row = ops.minimum(ops.cast(t, "int32"), self.steps - 1)
        return ops.take(self.moving_mean, row, axis=0), ops.take(self.moving_variance, row, axis=0)

    def normalize(self, x, mean, variance):
        """``gamma * (x - mean) / sqrt(variance + epsilon) [+ beta]`` (mean/variance broadcast)."""
        inv = ops.rsqrt(variance + self.epsilon) * self.gamma
        return x * inv + (self.beta - mean * inv if self.center else -mean * inv)

    def update(self, t, mean, variance):
        """Moves row ``t`` of the population statistics towards ``mean``/``variance``."""
        hit = ops.expand_dims(ops.equal(ops.arange(self.steps), ops.cast(t, "int32")), -1)
        for var, value in ((self.moving_mean, mean), (self.moving_variance, variance)):
            var.assign(ops.where(hit, var * self.momentum + value * (1.0 - self.momentum), var))

    def call(self, x, t, training=False, update=True):
        if training:
            mean, variance = self.moments(x)
            if update:
                self.update(t, mean, variance)
        else:
            mean, variance = self.population(t)
        return self.normalize(x, mean, variance)


class BNCell(layers.Layer):
    """Recurrent-BatchNorm cell (Cooijmans et al. 2016) for simple_rnn, lstm and gru.

    With ``placement="separate"`` (the run axis ``batchnorm = "recurrent"``)
    pre-activations are ``BN(x Wx; gamma_x) + BN(h Wh; gamma_h) + b`` (BN
    without offset); with ``placement="sum"`` (``batchnorm = "recurrent_sum"``,
    SimpleRNN only) they are ``BN(x Wx + h Wh; gamma, beta)``, one BN layer
    ``bn`` with offset and no bias. The LSTM's output is ``sigmoid(o) * tanh(BN(c; gamma_c,
    beta_c))``. Every gamma starts at ``gamma`` (the run axis ``bn_gamma``),
    beta at 0. Statistics are kept per time step (:class:`StepBN`); the step
    index is carried as a last state of size 1 (a counter starting at 0 in
    Keras' zero initial state), which is not part of the hidden state:
    :attr:`hidden_sizes` lists the hidden states the probes look at. The GRU
    follows Keras' ``reset_after`` form (reset gate applied to the normalised
    recurrent candidate term).

    Args:
        kind: ``simple_rnn``, ``lstm`` or ``gru``.
        units: Hidden units.
        activation: Candidate/output activation (SimpleRNN only; gated cells use tanh).
        kernel_initializer, recurrent_initializer: Keras initializers.
        gamma: Initial BN scale (default 0.1, the paper's choice).
        steps: Rows of per-step statistics, the longest training length T_max
            (default 100); later steps use the last row.
        placement: ``"separate"`` (default) or ``"sum"`` (SimpleRNN only).
    """

    def __init__(self, kind: str, units: int, activation: str = "tanh",
                 kernel_initializer=None, recurrent_initializer=None, gamma: float = 0.1,
                 steps: int = 100, placement: str = "separate", **kw):
        super().__init__(**kw)
        if placement not in ("separate", "sum") or (placement == "sum" and kind != "simple_rnn"):
            raise ValueError(f"BN placement {placement!r} is not available for {kind}")
        self.kind, self.units, self.gamma, self.steps = kind, units, gamma, int(steps)
        self.placement = placement
        self.activation = keras.activations.get(activation if kind == "simple_rnn" else "tanh")
        self.k_init, self.r_init = kernel_initializer, recurrent_initializer
        self.hidden_sizes = [units, units] if kind == "lstm" else [units]
        self.state_size = [*self.hidden_sizes, 1]
        self.output_size = units
        separate = placement == "separate"
        self.bn_x = StepBN(self.steps, gamma, center=False, name="bn_x") if separate else None
        self.bn_h = StepBN(self.steps, gamma, center=False, name="bn_h") if separate else None
        self.bn_c = StepBN(self.steps, gamma, center=True, name="bn_c") if kind == "lstm" else None
        self.bn = None if separate else StepBN(self.steps, gamma, center=True, name="bn")
        self._width = GATES[kind] * units
        #: Set by :class:`StepRNN`: the next call is Keras' shape-inference call.
        self.skip_next_update = False

    @property
    def norms(self) -> list[StepBN]:
        """The cell's BatchNorm layers: ``bn_x``, ``bn_h`` and (LSTM) ``bn_c``; or ``bn``."""
        return [bn for bn in (self.bn_x, self.bn_h, self.bn_c, self.bn) if bn is not None]

    def build(self, input_shape):
        u, w = self.units, self._width
        self.kernel = self.add_weight((input_shape[-1], w), self.k_init, name="kernel")
        self.recurrent_kernel = self.add_weight((u, w), self.r_init, name="recurrent_kernel")
        if self.placement == "sum":  # beta of the one BN is the bias
            self.bias = None
            self.bn.build((None, w))
            return
        bias = [0.0] * w
        if self.kind == "lstm":  # unit forget bias, as Keras' LSTM
            bias[u:2 * u] = [1.0] * u
        self.bias = self.add_weight((w,), keras.initializers.Constant(bias), name="bias")
        self.bn_x.build((None, w))
        self.bn_h.build((None, w))
        if self.bn_c is not None:
            self.bn_c.build((None, u))

    def normalized_terms(self, inputs, h, norm):
        """``(input term, recurrent term, bias)`` whose sum is the pre-activation, with
        ``norm(bn, value)`` as the normalisation: ``(BN(x Wx), BN(h Wh), b)``, or for the
        ``sum`` placement ``(BN(x Wx + h Wh), 0, 0)``."""
        zx, zh = ops.matmul(inputs, self.kernel), ops.matmul(h, self.recurrent_kernel)
        if self.placement == "sum":
            return norm(self.bn, zx + zh), 0.0, 0.0
        return norm(self.bn_x, zx), norm(self.bn_h, zh), self.bias

    def call(self, inputs, states, training=False):
        counter = states[-1]
        t = ops.cast(counter[0, 0], "int32")
        update = bool(training) and not self.skip_next_update
        self.skip_next_update = False
        h, new = self.transition(inputs, list(states[:-1]),
                                 lambda bn, v: bn(v, t, training=training, update=update))
        return h, [*new, counter + 1.0]

    def transition(self, inputs, hidden, norm):
        """One step on the hidden states with ``norm(bn, value)`` as the normalisation.

        Args:
            inputs: ``(batch, features)``.
            hidden: The hidden states (``[h]``, or ``[h, c]`` for the LSTM), no counter.
            norm: Applies the BN layer ``bn`` (one of :attr:`norms`) to ``value``.

        Returns:
            ``(output, new hidden states)``.
        """
        h = hidden[0]
        zx, zh, bias = self.normalized_terms(inputs, h, norm)
        if self.kind == "simple_rnn":
            h = self.activation(zx + zh + bias)
            return h, [h]
        if self.kind == "lstm":
            i, f, g, o = ops.split(zx + zh + bias, 4, axis=-1)
            c = ops.sigmoid(f) * hidden[1] + ops.sigmoid(i) * ops.tanh(g)
            h = ops.sigmoid(o) * ops.tanh(norm(self.bn_c, c))
            return h, [h, c]
        xz, xr, xh = ops.split(zx + bias, 3, axis=-1)
        hz, hr, hh = ops.split(zh, 3, axis=-1)
        z = ops.sigmoid(xz + hz)
        r = ops.sigmoid(xr + hr)
        cand = ops.tanh(xh + r * hh)
        h_new = z * h + (1.0 - z) * cand
        return h_new, [h_new]

    def batch_statistics(self, inputs, hidden) -> tuple[dict[str, tuple], list]:
        """This step's batch statistics, as training computes them, without updating anything.

        Returns:
            ``({bn name: (mean, variance)}, new hidden states)``.
        """
        stats: dict[str, tuple] = {}

        def norm(bn, v):
            stats[bn.name] = bn.moments(v)
            return bn.normalize(v, *stats[bn.name])

        return stats, self.transition(inputs, hidden, norm)[1]

    def population_statistics(self, t) -> dict[str, tuple]:
        """The moving statistics of step(s) ``t`` (clipped to T_max - 1), by BN name."""
        return {bn.name: bn.population(t) for bn in self.norms}

    def step_with(self, inputs, hidden, stats: dict[str, tuple]):
        """One step normalising with the given statistics (held fixed: no gradient flows
        through them, nothing is updated). Returns ``(output, new hidden states)``."""
        return self.transition(inputs, hidden, lambda bn, v: bn.normalize(v, *stats[bn.name]))


class StepRNN(layers.RNN):
    """``keras.layers.RNN`` for a :class:`BNCell`: statistics updated once per batch and step.

    Keras' TensorFlow loop calls the cell once at time 0 before its
    ``while_loop``, only to learn the output's shape; in training mode that
    call would update step 0's statistics a second time. This layer tells the
    cell to skip the update in that first call (``tests/test_batchnorm.py``
    checks that every step's statistics move exactly once per batch).
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        self.cell.skip_next_update = bool(training) and not self.unroll
        return super().inner_loop(sequences, initial_state, mask, training=training)


def batchnorm_variables(root: keras.layers.Layer) -> list:
    """The moving statistics of every BatchNorm layer under ``root`` (a model or a layer):
    Keras ``BatchNormalization`` and the recurrent :class:`StepBN`; empty without BatchNorm."""
    return [v for lay in root._flatten_layers()
            if isinstance(lay, (keras.layers.BatchNormalization, StepBN))
            for v in lay.non_trainable_variables]


@contextlib.contextmanager
def preserved(variables: list) -> Iterator[None]:
    """Restores ``variables`` to their values on entry (exact copies) on exit.

    A forward pass with ``training=True`` (BatchNorm with batch statistics)
    updates the moving statistics; probes and batch-statistics evaluations run
    inside this so that training continues exactly as if they had not run.
    """
    saved = [np.array(v.numpy(), copy=True) for v in variables]
    try:
        yield
    finally:
        for var, value in zip(variables, saved):
            var.assign(value)
