"""Gate saturation as Keras runs the cell: gate attribution, GRU reset_after, other activations.

Oracles are independent of :mod:`suite.health.dynamics`: pre-activations set by
distinct per-gate biases (zero kernels), or the candidate recovered from the
cell's own output.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from suite.health.dynamics import SATURATION_THRESHOLD, TrajectoryProbe, gate_preactivations
from suite.health.views import view_of

U, F = 4, 3


def built(layer):
    layer.build((None, 5, F))
    return layer.cell


def zero_kernels(cell):
    cell.kernel.assign(np.zeros(cell.kernel.shape, "float32"))
    cell.recurrent_kernel.assign(np.zeros(cell.recurrent_kernel.shape, "float32"))


def fractions(cell, kind, activation="tanh", states=None, seed=0):
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(6, F)), tf.float32)
    states = states or [tf.constant(rng.normal(size=(6, U)) * 0.5, tf.float32)
                        for _ in range(2 if kind == "lstm" else 1)]
    gates = gate_preactivations(cell, kind, activation, x, states)
    return {k: float(tf.reduce_mean(v)) for k, v in gates.items()}


# per gate block of 4 units: how many are deep in saturation (|a| = 6); the rest have a = 0
DEEP = {0: [0, 0, 0, 0], 1: [6, 0, 0, 0], 2: [6, -6, 0, 0], 4: [6, 6, -6, 6]}


def block(n):
    return np.array(DEEP[n], "float32")


def test_lstm_gates_are_attributed_to_their_own_bias_slices():
    """Keras' LSTM order is i, f, c, o: distinct fractions per gate catch swapped slices."""
    cell = built(keras.layers.LSTM(U))
    zero_kernels(cell)
    cell.bias.assign(np.concatenate([block(0), block(4), block(2), block(1)]))
    sat = fractions(cell, "lstm")
    assert {k: sat[k] for k in ("input", "forget", "candidate", "output")} == \
        {"input": 0.0, "forget": 1.0, "candidate": 0.5, "output": 0.25}


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_gates_are_attributed_to_their_own_bias_slices(reset_after):
    """Keras' GRU order is z (update), r (reset), h (candidate)."""
    cell = built(keras.layers.GRU(U, reset_after=reset_after))
    zero_kernels(cell)
    bias = np.concatenate([block(4), block(1), block(2)])
    if reset_after:  # the update gate's bias in the recurrent row: both rows count
        bias = np.stack([np.concatenate([np.zeros(U, "float32"), block(1), block(2)]),
                         np.concatenate([block(4), np.zeros(2 * U, "float32")])])
    cell.bias.assign(bias)
    assert fractions(cell, "gru") == {"update": 1.0, "reset": 0.25, "candidate": 0.5}


def test_gru_without_bias():
    cell = built(keras.layers.GRU(U, use_bias=False))
    zero_kernels(cell)
    assert fractions(cell, "gru") == {"update": 0.0, "reset": 0.0, "candidate": 0.0}


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_candidate_saturation_is_that_of_what_keras_computes(reset_after):
    """Update gate held at 1/2 (zero weights and bias), so the candidate is read back from
    Keras' own step: h' = z h + (1 - z) hh, hh = 2 h' - h; saturated where 1 - hh^2 < 0.05."""
    rng = np.random.default_rng(3)
    cell = built(keras.layers.GRU(U, reset_after=reset_after))
    kernel = rng.normal(size=cell.kernel.shape).astype("float32") * 2.5
    recurrent = rng.normal(size=cell.recurrent_kernel.shape).astype("float32") * 2.5
    kernel[:, :U] = 0.0
    recurrent[:, :U] = 0.0
    cell.kernel.assign(kernel)
    cell.recurrent_kernel.assign(recurrent)
    bias = rng.normal(size=cell.bias.shape).astype("float32")
    bias[..., :U] = 0.0
    cell.bias.assign(bias)
    x = tf.constant(rng.normal(size=(64, F)), tf.float32)
    h = tf.constant(rng.uniform(-1, 1, size=(64, U)), tf.float32)
    new, _ = cell(x, [h])
    hh = 2.0 * new.numpy().astype("float64") - h.numpy()
    expected = (1.0 - hh ** 2 < SATURATION_THRESHOLD).astype("float32")
    assert 0.1 < expected.mean() < 0.9  # a test with both kinds of unit
    got = gate_preactivations(cell, "gru", "tanh", x, [h])["candidate"].numpy()
    np.testing.assert_array_equal(got, expected)


def test_lstm_with_other_activations_uses_their_derivatives():
    """softsign candidate (saturated where 1/(1+|a|)^2 < 0.05, |a| > 3.47) and hard_sigmoid
    gates (derivative 0 outside |a| < 3): a = 2.5 and 2.9 are saturated for tanh and
    sigmoid, not for these."""
    cell = built(keras.layers.LSTM(U, activation="softsign", recurrent_activation="hard_sigmoid"))
    zero_kernels(cell)
    gates = np.array([2.9, 2.9, 4.0, 0.0], "float32")      # hard_sigmoid: 0, 0, 1, 0 saturated
    cand = np.array([2.5, 2.5, 6.0, -6.0], "float32")      # softsign: 0, 0, 1, 1
    cell.bias.assign(np.concatenate([gates, gates, cand, gates]))
    sat = fractions(cell, "lstm", "softsign", states=[tf.zeros((6, U)), tf.zeros((6, U))])
    assert sat == {"input": 0.25, "forget": 0.25, "candidate": 0.5, "output": 0.25,
                   "cell_softsign": 0.0}


@pytest.mark.parametrize("layer", [
    lambda: keras.layers.LSTM(U, activation="softmax"),
    lambda: keras.layers.GRU(U, recurrent_activation=lambda a: tf.sigmoid(2.0 * a)),
    lambda: keras.layers.SimpleRNN(U, activation="log_softmax"),
])
def test_an_activation_without_a_saturation_is_refused(layer):
    rnn = layer()
    model = keras.Sequential([keras.Input((5, F)), rnn, keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="element-wise activations"):
        view_of(model, rnn, "mse")


@pytest.mark.parametrize("layer", [
    lambda: keras.layers.GRU(U, reset_after=False),
    lambda: keras.layers.LSTM(U, activation="relu", recurrent_activation="hard_sigmoid"),
])
def test_the_trajectory_probe_runs_on_such_user_cells(layer):
    rnn = layer()
    model = keras.Sequential([keras.Input((5, F)), rnn, keras.layers.Dense(1)])
    x = np.random.default_rng(0).normal(size=(4, 5, F)).astype("float32")
    out = TrajectoryProbe(view_of(model, rnn, "mse"), x)()
    names = (["update", "reset", "candidate"] if isinstance(rnn, keras.layers.GRU)
             else ["input", "forget", "candidate", "output", "cell_relu"])
    assert list(out["saturation"]) == names
    assert all(0.0 <= v <= 1.0 for v in out["saturation"].values())
