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


def test_functional_per_step_model_matches_a_direct_gradient():
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
    assert health.summary()["diagnosis"] in ("healthy", "vanishing", "exploding")
