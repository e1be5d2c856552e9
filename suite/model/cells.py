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
the head); ``recurrent`` (inside the cell, Cooijmans et al. 2016: separate BN
of the input and recurrent pre-activations, and of the LSTM cell state, gamma
initialised to 0.1; statistics are shared over time steps, not per step).
"""
from __future__ import annotations

import math
from typing import Any

import keras
from keras import layers, ops

from suite.api import hash_str

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
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


class BNCell(layers.Layer):
    """Recurrent-BatchNorm cell (Cooijmans et al. 2016) for simple_rnn, lstm and gru.

    Pre-activations are ``BN(x Wx) + BN(h Wh) + b`` (BN without offset, gamma
    0.1); the LSTM also normalises the cell state before its output tanh. The
    GRU follows Keras' ``reset_after`` form (reset gate applied to the
    normalised recurrent candidate term).

    Args:
        kind: ``simple_rnn``, ``lstm`` or ``gru``.
        units: Hidden units.
        activation: Candidate/output activation (SimpleRNN only; gated cells use tanh).
        kernel_initializer, recurrent_initializer: Keras initializers.
        gamma: Initial BN scale (default 0.1).
    """

    def __init__(self, kind: str, units: int, activation: str = "tanh",
                 kernel_initializer=None, recurrent_initializer=None, gamma: float = 0.1, **kw):
        super().__init__(**kw)
        self.kind, self.units, self.gamma = kind, units, gamma
        self.activation = keras.activations.get(activation if kind == "simple_rnn" else "tanh")
        self.k_init, self.r_init = kernel_initializer, recurrent_initializer
        self.state_size = [units, units] if kind == "lstm" else units
        self.output_size = units
        g = GATES[kind]
        gi = keras.initializers.Constant(gamma)
        self.bn_x = layers.BatchNormalization(center=False, gamma_initializer=gi, name="bn_x")
        self.bn_h = layers.BatchNormalization(center=False, gamma_initializer=gi, name="bn_h")
        self.bn_c = (layers.BatchNormalization(gamma_initializer=gi, name="bn_c")
                     if kind == "lstm" else None)
        self._width = g * units

    def build(self, input_shape):
        u, w = self.units, self._width
        self.kernel = self.add_weight((input_shape[-1], w), self.k_init, name="kernel")
        self.recurrent_kernel = self.add_weight((u, w), self.r_init, name="recurrent_kernel")
        bias = [0.0] * w
        if self.kind == "lstm":  # unit forget bias, as Keras' LSTM
            bias[u:2 * u] = [1.0] * u
        self.bias = self.add_weight((w,), keras.initializers.Constant(bias), name="bias")
        self.bn_x.build((None, w))
        self.bn_h.build((None, w))
        if self.bn_c is not None:
            self.bn_c.build((None, u))

    def call(self, inputs, states, training=False):
        h = states[0] if isinstance(states, (list, tuple)) else states
        zx = self.bn_x(ops.matmul(inputs, self.kernel), training=training)
        zh = self.bn_h(ops.matmul(h, self.recurrent_kernel), training=training)
        if self.kind == "simple_rnn":
            h = self.activation(zx + zh + self.bias)
            return h, [h]
        if self.kind == "lstm":
            c = states[1]
            i, f, g, o = ops.split(zx + zh + self.bias, 4, axis=-1)
            c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
            h = ops.sigmoid(o) * ops.tanh(self.bn_c(c, training=training))
            return h, [h, c]
        xz, xr, xh = ops.split(zx + self.bias, 3, axis=-1)
        hz, hr, hh = ops.split(zh, 3, axis=-1)
        z = ops.sigmoid(xz + hz)
        r = ops.sigmoid(xr + hr)
        cand = ops.tanh(xh + r * hh)
        h_new = z * h + (1.0 - z) * cand
        return h_new, [h_new]
