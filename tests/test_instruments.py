"""The instruments on user models: Sequential and functional, known answers."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from suite.health.probe import Probe
from suite.instruments import GradientHealth, Instrumented, view_of


@pytest.mark.parametrize("gain", [0.9, 1.05])
def test_rho_through_a_sequential_model(gain):
    rnn = keras.layers.SimpleRNN(16, activation="linear",
                                 kernel_initializer="zeros",
                                 recurrent_initializer=keras.initializers.Orthogonal(gain, seed=1))
    model = keras.Sequential([keras.Input((30, 2)), rnn,
                              keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(2))])
    x = np.random.default_rng(0).uniform(size=(8, 30, 2)).astype("float32")
    y = np.ones((8, 1), "float32")
    probe = Probe(view_of(model, rnn, "mse"), x, y)
    probe(0)
    assert probe.results()[0]["rho"] == pytest.approx(gain, rel=0.02)


def test_functional_per_step_model_matches_a_direct_gradient_at_the_last_step():
    inp = keras.Input((12,), dtype="int32")
    z = keras.layers.Embedding(7, 5, embeddings_initializer=keras.initializers.RandomNormal(seed=0))(inp)
    gru = keras.layers.GRU(6, return_sequences=True, kernel_initializer=keras.initializers.GlorotUniform(1),
                           recurrent_initializer=keras.initializers.Orthogonal(seed=2))
    out = keras.layers.Dense(7, kernel_initializer=keras.initializers.GlorotUniform(3))(gru(z))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 7, (4, 12)).astype("int32")
    y = rng.integers(0, 7, (4, 12)).astype("int32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    probe = Probe(view_of(model, gru, loss), x, y)
    probe(0)
    got = np.array(probe.results()[0]["profile"])
    # direct check at distance 0: dL/dh_T through the head only
    h = gru(model.layers[1](x))
    with tf.GradientTape() as tape:
        tape.watch(h)
        last = tf.reduce_mean(loss(y[:, -1], model.layers[-1](h)[:, -1]))
    g = tape.gradient(last, h)[:, -1].numpy().astype("float64")
    assert got[0] == pytest.approx(np.linalg.norm(g, axis=-1).mean(), rel=1e-4)
    assert len(got) == 12 and np.all(got > 0)


def test_instrumented_wrapper_logs_pre_clip_norms():
    rnn = keras.layers.LSTM(8)
    inner = keras.Sequential([keras.Input((10, 2)), rnn, keras.layers.Dense(1)])
    model = Instrumented(inner)
    model.compile(optimizer=keras.optimizers.SGD(0.1, clipnorm=1e-4), loss="mse")
    x = np.random.default_rng(1).uniform(size=(32, 10, 2)).astype("float32")
    y = x[:, 0, :1] * 3
    health = GradientHealth(layer=rnn, x=x[:8], y=y[:8], loss="mse", every=2)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[health])
    assert len(health.curves["grad_norm"]) == 4
    assert set(health.curves) >= {"loss", "grad_norm", "clipped", f"gn/{rnn.name}"}
    assert health.curves["clipped"] == [1.0] * 4  # norms far above 1e-4
    assert min(health.curves["grad_norm"]) > 1e-4  # logged before clipping
    assert [p["step"] for p in health.probes] == [0, 2, 4]
    assert health.summary()["diagnosis"] in ("no horizon", "exploding")  # no horizon given
    assert health.result()["clip"] == {"clipnorm": 1e-4}


def test_go_backwards_profile_matches_an_unrolled_computation():
    """The probe runs a go_backwards layer as Keras does: forwards on the reversed sequence."""
    T = 8
    rnn = keras.layers.SimpleRNN(4, go_backwards=True,
                                 kernel_initializer=keras.initializers.GlorotUniform(1),
                                 recurrent_initializer=keras.initializers.Orthogonal(1.2, seed=2))
    head = keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(3))
    model = keras.Sequential([keras.Input((T, 2)), rnn, head])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, T, 2)).astype("float32")
    y = rng.normal(size=(6, 1)).astype("float32")
    view = view_of(model, rnn, "mse")
    probe = Probe(view, x, y)
    probe(0)
    rec = probe.results()[0]
    model_loss = float(tf.reduce_mean(keras.losses.mean_squared_error(y, model(x))))
    assert view.time_reversed and rec["loss"] == pytest.approx(model_loss, rel=1e-5)
    # independent unroll in processing order: step k reads input position T - 1 - k
    cell = rnn.cell
    eps = [tf.zeros((6, 4)) for _ in range(T)]
    with tf.GradientTape() as tape:
        tape.watch(eps)
        h = tf.zeros((6, 4))
        for k in range(T):
            h = tf.tanh(x[:, T - 1 - k] @ cell.kernel + h @ cell.recurrent_kernel + cell.bias) + eps[k]
        loss = tf.reduce_mean(keras.losses.mean_squared_error(y, head(h)))
    norms = [np.linalg.norm(g.numpy().astype("float64"), axis=-1).mean() for g in tape.gradient(loss, eps)]
    np.testing.assert_allclose(rec["profile"], norms[::-1], rtol=1e-4)


def _refused(build):
    """Asserts that view_of refuses ``build() -> (model, layer, error pattern)``."""
    model, layer, match = build()
    with pytest.raises(ValueError, match=match):
        view_of(model, layer, "mse")


def test_masked_layers_are_refused():
    rnn = keras.layers.LSTM(3)
    _refused(lambda: (keras.Sequential([keras.Input((5, 2)), keras.layers.Masking(), rnn,
                                        keras.layers.Dense(1)]), rnn, "masking"))
    inp = keras.Input((5,), dtype="int32")
    gru = keras.layers.GRU(3)
    out = keras.layers.Dense(1)(gru(keras.layers.Embedding(9, 2, mask_zero=True)(inp)))
    _refused(lambda: (keras.Model(inp, out), gru, "masking"))


def test_return_state_and_stateful_layers_are_refused():
    inp = keras.Input((5, 2))
    rnn = keras.layers.SimpleRNN(3, return_state=True)
    seq_out, _ = rnn(inp)
    _refused(lambda: (keras.Model(inp, keras.layers.Dense(1)(seq_out)), rnn, "return_state"))
    stateful = keras.layers.SimpleRNN(3, stateful=True)
    _refused(lambda: (keras.Sequential([keras.Input(batch_shape=(4, 5, 2)), stateful,
                                        keras.layers.Dense(1)]), stateful, "stateful"))
    both = keras.layers.Bidirectional(keras.layers.LSTM(3))
    _refused(lambda: (keras.Sequential([keras.Input((5, 2)), both, keras.layers.Dense(1)]), both,
                      "Bidirectional"))


def _linear_run(spikes: tuple[int, ...]) -> GradientHealth:
    """40 SGD steps of a linear SimpleRNN (rho = 1) whose targets are 1e5x at ``spikes``."""
    rnn = keras.layers.SimpleRNN(8, activation="linear", kernel_initializer=keras.initializers.GlorotUniform(0),
                                 recurrent_initializer=keras.initializers.Orthogonal(1.0, seed=1))
    inner = keras.Sequential([keras.Input((10, 2)), rnn,
                              keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(2))])
    model = Instrumented(inner)
    model.compile(optimizer=keras.optimizers.SGD(1e-9), loss="mse")
    x = np.random.default_rng(1).uniform(size=(160, 10, 2)).astype("float32")
    y = x[:, 0, :1].copy()
    for step in spikes:
        y[4 * (step - 1):4 * step] *= 1e5
    health = GradientHealth(layer=rnn, x=x[:8], y=y[:8], loss="mse", every=20, horizon=9)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[health])
    return health


def test_summary_applies_the_spike_rule_of_suite_runs():
    calm, spiky = _linear_run(()), _linear_run((25, 30, 35))
    assert spiky.curves["grad_norm"][29] > 1e4 * np.median(spiky.curves["grad_norm"])
    assert calm.summary()["diagnosis"] == "healthy"
    assert spiky.summary()["diagnosis"] not in ("healthy", calm.summary()["diagnosis"])
    assert spiky.result()["clip"] == {} and spiky.result()["horizon"] == 9
    summary = spiky.summary()
    assert summary["diagnosis"] == "spiking" and summary["spike_steps"] == [25, 30, 35]
    assert summary["spikes"] == 3 and "not held by clipping" in summary["reason"]


def test_summary_ignores_large_norms_in_the_warmup():
    early = _linear_run((3, 6))  # 1e5x norms inside the first 10 steps (the warm-up of 40 steps)
    assert early.curves["grad_norm"][5] > 1e4 * np.median(early.curves["grad_norm"])
    summary = early.summary()
    assert summary["diagnosis"] == "healthy" and summary["spikes"] == 0
    assert summary["horizon"] == 9 and summary["timeline"][0] == {"step": 0, "label": "healthy"}


def test_a_model_that_diverges_is_probed_without_a_crash():
    """A user's model whose weights turn NaN: the probes go on, the trajectory probe says why
    it is skipped (eigvalsh of NaN Jacobians would end the fit with an exception)."""
    keras.utils.set_random_seed(0)
    rnn = keras.layers.SimpleRNN(8, activation="relu", recurrent_initializer="identity")
    model = keras.Sequential([keras.Input((10, 2)), rnn, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(1e30), loss="mse")
    x = np.random.default_rng(1).uniform(size=(64, 10, 2)).astype("float32")
    y = x[:, 0, :1] * 3
    health = GradientHealth(layer=rnn, x=x[:8], y=y[:8], loss="mse", every=2)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[health])
    assert not np.isfinite(rnn.cell.recurrent_kernel.numpy()).all()  # it did diverge
    last = health.probes[-1]
    assert last["step"] == 8 and "jacobian_sigma_mean" not in last
    assert "non-finite" in last["trajectory_skipped"]
    assert "diagnosis" in health.summary()  # the summary reads the skipped probe too
    # a plain (not Instrumented) model logs no batch loss: the running mean dates the divergence
    result = health.result()
    assert result["status"] == "diverged" and 1 <= result["diverged_step"] <= 8
