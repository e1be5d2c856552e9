"""The instrumented train_step against plain Keras: sample weights, metrics, clipping."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from suite.instruments import Instrumented

T, F = 6, 2


def _model(seed: int = 0) -> keras.Model:
    """A tiny LSTM regressor with seeded initializers (same weights for the same seed)."""
    glorot = keras.initializers.GlorotUniform
    return keras.Sequential([
        keras.Input((T, F)),
        keras.layers.LSTM(4, kernel_initializer=glorot(seed),
                          recurrent_initializer=keras.initializers.Orthogonal(seed=seed + 1)),
        keras.layers.Dense(1, kernel_initializer=glorot(seed + 2))])


def _data(n: int = 16):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, T, F)).astype("float32")
    return x, (x[:, 0, :1] * 2 + x[:, -1, 1:]).astype("float32"), rng.uniform(size=n).astype("float32")


class _Logs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rows = []

    def on_train_batch_end(self, batch, logs=None):
        self.rows.append({k: float(v) for k, v in logs.items()})


def _fit(model, x, y, sw=None, batch_size=8):
    logs = _Logs()
    model.fit(x, y, sample_weight=sw, batch_size=batch_size, epochs=1, shuffle=False, verbose=0,
              callbacks=[logs])
    return logs.rows


def _weights(model):
    return [v.numpy() for v in model.weights]


def _hand_grads(model, x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.mean_squared_error(y, model(x, training=True)))
    return [g.numpy().astype("float64") for g in tape.gradient(loss, model.trainable_variables)]


def test_all_zero_sample_weights_leave_the_weights_unchanged():
    inner = _model()
    before = _weights(inner)
    model = Instrumented(inner)
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    x, y, _ = _data(8)
    rows = _fit(model, x, y, sw=np.zeros(8, "float32"))
    assert rows[0]["grad_norm"] == 0.0
    for a, b in zip(before, _weights(inner)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.Adam(0.05),
    lambda: keras.optimizers.SGD(0.1, loss_scale_factor=128.0)])
def test_a_weighted_step_and_its_metrics_match_plain_keras(optimizer):
    x, y, sw = _data(20)  # batches of 8, 8 and 4: running means weighted by batch size
    plain, inner = _model(), _model()
    model = Instrumented(inner)
    for m in (plain, model):
        m.compile(optimizer=optimizer(), loss="mse", metrics=["mae"], weighted_metrics=["mse"])
    want, got = _fit(plain, x, y, sw), _fit(model, x, y, sw)
    for a, b in zip(_weights(plain), _weights(inner)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert set(want[0]) >= {"loss", "mae", "mse"}
    for w, g in zip(want, got):
        for key, value in w.items():
            assert g[key] == pytest.approx(value, rel=1e-5), key
    assert got[0]["batch_loss"] == pytest.approx(want[0]["loss"], rel=1e-5)


def test_grad_norm_is_of_the_unscaled_gradients_under_loss_scaling():
    x, y, _ = _data(8)
    grads = _hand_grads(_model(), x, y)
    model = Instrumented(_model())
    model.compile(optimizer=keras.optimizers.SGD(0.1, loss_scale_factor=1024.0), loss="mse")
    want = np.sqrt(sum((g ** 2).sum() for g in grads))
    assert _fit(model, x, y)[0]["grad_norm"] == pytest.approx(want, rel=1e-5)


def _clip_quantity(kind: str, grads) -> float:
    if kind == "clipnorm":
        return max(np.sqrt((g ** 2).sum()) for g in grads)
    if kind == "global_clipnorm":
        return np.sqrt(sum((g ** 2).sum() for g in grads))
    return max(np.abs(g).max() for g in grads)


@pytest.mark.parametrize("kind", ["clipnorm", "global_clipnorm", "clipvalue"])
@pytest.mark.parametrize("side", [0.999, 1.001])
def test_clipped_flag_at_the_threshold_matches_what_keras_did(kind, side):
    """Threshold just below (clips) and just above (does not) the quantity Keras compares."""
    x, y, _ = _data(8)
    threshold = float(side * _clip_quantity(kind, _hand_grads(_model(), x, y)))
    model, free = Instrumented(_model()), _model()
    model.compile(optimizer=keras.optimizers.SGD(0.5, **{kind: threshold}), loss="mse")
    free.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    start = _weights(free)
    flag = _fit(model, x, y)[0]["clipped"]
    _fit(free, x, y)
    # clipping by 0.1% changes some variable's update by about 1e-3 of its size;
    # Keras' no-op rescaling (x * c / c) only by float32 rounding
    changed = any(np.abs((a - w) - (b - w)).max() > 1e-4 * np.abs(b - w).max()
                  for a, b, w in zip(_weights(model.inner), _weights(free), start))
    assert flag == (1.0 if side < 1 else 0.0)
    assert changed == (side < 1)  # the flag says what Keras' clipping did


class WithUnused(keras.Model):
    """A model with a frozen layer and a trainable layer the loss never reaches."""

    def __init__(self):
        super().__init__()
        self.frozen = keras.layers.Dense(F, kernel_initializer=keras.initializers.GlorotUniform(5))
        self.rnn = keras.layers.SimpleRNN(4, kernel_initializer=keras.initializers.GlorotUniform(6))
        self.head = keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(7))
        self.unused = keras.layers.Dense(3)

    def call(self, x, training=False):
        return self.head(self.rnn(self.frozen(x)))

    def build(self, shape):
        self.unused.build((None, F))
        self.frozen.build(shape)
        self.frozen.trainable = False
        super().build(shape)


def test_frozen_and_gradientless_variables_are_skipped():
    x, y, _ = _data(8)
    inner, plain = WithUnused(), WithUnused()
    inner(x[:1]), plain(x[:1])
    plain.set_weights(inner.get_weights())
    model = Instrumented(inner)
    model.compile(optimizer=keras.optimizers.SGD(0.1, clipnorm=1e-3), loss="mse")
    plain.compile(optimizer=keras.optimizers.SGD(0.1, clipnorm=1e-3), loss="mse")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.mean_squared_error(y, inner(x, training=True)))
    grads = [g for g in tape.gradient(loss, inner.trainable_variables) if g is not None]
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        row = _fit(model, x, y)[0]
    with pytest.warns(UserWarning, match="Gradients do not exist"):  # plain Keras warns alike
        _fit(plain, x, y)
    assert row["grad_norm"] == pytest.approx(
        np.sqrt(sum(float(tf.reduce_sum(g ** 2)) for g in grads)), rel=1e-5)
    assert row["gn/" + inner.unused.name] == 0.0 and row["clipped"] == 1.0
    assert "gn/" + inner.frozen.name not in row
    for a, b in zip(_weights(plain), _weights(inner)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_embedding_gradient_norm_sums_repeated_rows():
    """Embedding gradients are IndexedSlices with one row per token occurrence."""
    emb = keras.layers.Embedding(5, 3, embeddings_initializer=keras.initializers.RandomNormal(seed=1))
    inner = keras.Sequential([keras.Input((T,), dtype="int32"), emb, keras.layers.GRU(2),
                              keras.layers.Dense(1)])
    x = np.array([[1, 1, 2, 1, 3, 1]] * 4, "int32")  # token 1 repeats
    y = np.ones((4, 1), "float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.mean_squared_error(y, inner(x, training=True)))
    dense = tf.convert_to_tensor(tape.gradient(loss, emb.embeddings))
    model = Instrumented(inner)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    row = _fit(model, x, y)[0]
    assert row[f"gn/{emb.name}"] == pytest.approx(float(tf.norm(dense)), rel=1e-5)


def test_clipped_follows_keras_on_sparse_embedding_gradients():
    """Keras clips the rows of an IndexedSlices as given (repeated tokens unsummed), so a
    clipnorm between that norm and the true (summed) gradient norm leaves the update alone."""
    def build():
        return keras.Sequential([
            keras.Input((T,), dtype="int32"),
            keras.layers.Embedding(5, 3, embeddings_initializer=keras.initializers.RandomNormal(seed=1)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.GlorotUniform(2)),
            keras.layers.Flatten(), keras.layers.Dense(1, kernel_initializer="ones", trainable=False)])

    x = np.array([[1, 1, 2, 1, 3, 1]] * 4, "int32")
    y = np.full((4, 1), 5.0, "float32")
    inner, free = build(), build()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.mean_squared_error(y, inner(x, training=True)))
    grads = tape.gradient(loss, inner.trainable_variables)
    rows = max(float(tf.norm(g.values if isinstance(g, tf.IndexedSlices) else g)) for g in grads)
    summed = max(float(tf.norm(tf.convert_to_tensor(g))) for g in grads)
    assert summed > 2 * rows  # token 1 repeats, so the summed row is longer
    model = Instrumented(inner)
    model.compile(optimizer=keras.optimizers.SGD(0.1, clipnorm=1.001 * rows), loss="mse")
    free.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    row = _fit(model, x, y, batch_size=4)[0]
    _fit(free, x, y, batch_size=4)
    for a, b in zip(_weights(inner), _weights(free)):
        np.testing.assert_allclose(a, b, rtol=1e-6)  # Keras did not clip ...
    assert row["clipped"] == 0.0 and row["grad_norm"] > 1.001 * rows  # ... and the flag agrees
