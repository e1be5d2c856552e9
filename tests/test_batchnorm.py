"""Recurrent BatchNorm (Cooijmans et al. 2016) and probes of BatchNorm models.

Everything is checked against computations written here, independently of
the suite's code: a NumPy forward pass of the BN cells with per-step
statistics, and a step-by-step TensorFlow unroll whose ``tape.gradient`` with
respect to each hidden state is the total derivative dL/dh_k.
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from suite.api import Head, InputSpec
from suite.health.probe import Probe
from suite.model.builder import build_model
from suite.model.cells import StepBN

T, B, F = 6, 8, 2
INPUTS = InputSpec(features=F)
HEAD = Head(units=1, per_step=False, loss="mse")
EPS, MOMENTUM = 1e-3, 0.99


def data(seed=0, steps=T, batch=B):
    rng = np.random.RandomState(seed)
    x = (rng.randn(batch, steps, F) * 2.0 + 1.0).astype("float32")
    return x, rng.randn(batch, 1).astype("float32")


def model_for(make_config, cell, bn, **axes):
    cfg = make_config(cell=cell, batchnorm=bn, hidden=4, optimizer="sgd", learning_rate=0.1, **axes)
    model = build_model(cfg, INPUTS, HEAD, max_steps=T)
    model.compile(optimizer="sgd", loss="mse")
    return model


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def numpy_forward(cell, x, stats):
    """NumPy forward of a BNCell; ``stats(name, t, value) -> (mean, var)``. Returns the
    hidden states and, per step and BN name, the (mean, var) used."""
    k, r, b = (v.numpy().astype(np.float64) for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    g = {bn.name: bn.gamma.numpy() for bn in cell.norms}
    beta_c = cell.bn_c.beta.numpy() if cell.bn_c is not None else 0.0
    u = cell.units
    h, c = np.zeros((x.shape[0], u)), np.zeros((x.shape[0], u))
    hs, used = [], []

    def bn(name, t, v, seen):
        mean, var = stats(name, t, v)
        seen[name] = (mean, var)
        return g[name] * (v - mean) / np.sqrt(var + EPS)

    for t in range(x.shape[1]):
        seen: dict = {}
        zx, zh = bn("bn_x", t, x[:, t] @ k, seen), bn("bn_h", t, h @ r, seen)
        if cell.kind == "simple_rnn":
            h = np.tanh(zx + zh + b)
        elif cell.kind == "lstm":
            i, f, gg, o = np.split(zx + zh + b, 4, axis=-1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
            h = sigmoid(o) * np.tanh(bn("bn_c", t, c, seen) + beta_c)
        else:
            xz, xr, xh = np.split(zx + b, 3, axis=-1)
            hz, hr, hh = np.split(zh, 3, axis=-1)
            z, rr = sigmoid(xz + hz), sigmoid(xr + hr)
            h = z * h + (1 - z) * np.tanh(xh + rr * hh)
        hs.append(h)
        used.append(seen)
    return np.stack(hs, 1), used


def batch_moments(name, t, v):
    return v.mean(0), v.var(0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_step_statistics_move_once_per_batch_and_step(make_config, cell):
    """After one training batch, the moving mean/variance of step t is one momentum
    update of that step's batch statistics (computed in NumPy); a second update of
    any step (e.g. by Keras' shape-inference call at time 0) would break this."""
    model = model_for(make_config, cell, "recurrent")
    rnn = model.rnns[0].cell
    x, y = data()
    _, used = numpy_forward(rnn, x.astype(np.float64), batch_moments)
    model.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
    for bn in rnn.norms:
        mean, var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
        assert mean.shape == (T, bn.gamma.shape[0])
        for t in range(T):
            exp_mean, exp_var = used[t][bn.name]
            np.testing.assert_allclose(mean[t], (1 - MOMENTUM) * exp_mean, rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(var[t], MOMENTUM + (1 - MOMENTUM) * exp_var,
                                       rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "simple_rnn"])
def test_training_uses_batch_and_inference_per_step_moving_statistics(make_config, cell):
    """Training mode normalises with the batch's statistics; inference mode with
    the moving statistics of each step, and of the last step beyond T_max."""
    model = model_for(make_config, cell, "recurrent", bn_gamma=0.7)
    rnn = model.rnns[0].cell
    rng = np.random.RandomState(1)
    for bn in rnn.norms:  # distinct statistics per step
        bn.moving_mean.assign(rng.randn(*bn.moving_mean.shape) * 0.3)
        bn.moving_variance.assign(rng.uniform(0.5, 2.0, bn.moving_variance.shape))
    moving = {bn.name: (bn.moving_mean.numpy(), bn.moving_variance.numpy()) for bn in rnn.norms}
    x, _ = data(2, steps=T + 3)
    layer = model.rnns[0]
    layer.return_sequences = True

    def population(name, t, v):
        row = min(t, T - 1)
        return moving[name][0][row], moving[name][1][row]

    want_inf, _ = numpy_forward(rnn, x.astype(np.float64), population)
    got_inf = layer(x, training=False).numpy()
    np.testing.assert_allclose(got_inf, want_inf, rtol=1e-4, atol=1e-5)
    want_train, _ = numpy_forward(rnn, x[:, :T].astype(np.float64), batch_moments)
    got_train = layer(x[:, :T], training=True).numpy()
    np.testing.assert_allclose(got_train, want_train, rtol=1e-4, atol=1e-5)
    assert np.abs(got_train - got_inf[:, :T]).max() > 1e-2


def test_gamma_is_the_run_axis(make_config):
    model = model_for(make_config, "lstm", "recurrent", bn_gamma=0.25)
    for bn in model.rnns[0].cell.norms:
        assert isinstance(bn, StepBN)
        np.testing.assert_allclose(bn.gamma.numpy(), 0.25)
    np.testing.assert_array_equal(model.rnns[0].cell.bn_c.beta.numpy(), 0.0)
    assert model.rnns[0].cell.bn_x.beta is None and model.rnns[0].cell.bn_h.beta is None


def tf_bn_step(cell, x_t, h, c, stats):
    """A recurrent-BN step written out in TensorFlow ops; ``stats(name, v)`` gives the
    statistics to normalise ``v`` with. Returns ``(h, c)``."""
    def bn(layer, v):
        mean, var = stats(layer, v)
        out = layer.gamma * (v - mean) / tf.sqrt(var + EPS)
        return out + layer.beta if layer.beta is not None else out

    a = bn(cell.bn_x, x_t @ cell.kernel) + bn(cell.bn_h, h @ cell.recurrent_kernel) + cell.bias
    if cell.kind == "simple_rnn":
        return tf.tanh(a), c
    i, f, g, o = tf.split(a, 4, axis=-1)
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(bn(cell.bn_c, c)), c


def unrolled_profile(model, x, y, training):
    """``(loss, mean_b ||dL/dh_k|| by distance)`` from a Python loop over the time steps."""
    cell, mode = model.rnns[0].cell, model.config_["batchnorm"]
    lstm = model.config_["cell"] == "lstm"
    with tf.GradientTape() as tape:
        z = tf.constant(x)
        if mode == "input":
            z = model.input_bn(z, training=training)
        h = tf.zeros((x.shape[0], cell.units))
        c, hs = tf.zeros_like(h), []
        for t in range(x.shape[1]):
            if mode == "recurrent":
                row = min(t, T - 1)
                stats = ((lambda bn, v: tf.nn.moments(v, [0])) if training else
                         (lambda bn, v, r=row: (bn.moving_mean[r], bn.moving_variance[r])))
                h, c = tf_bn_step(cell, z[:, t], h, c, stats)
            else:
                _, states = cell(z[:, t], [h, c] if lstm else [h], training=training)
                h, c = (states[0], states[1]) if lstm else (states[0], c)
            hs.append(h)
        out = h if mode != "output" else model.output_bn(h, training=training)
        loss = tf.reduce_mean((model.head(out) - y) ** 2)
    grads = tape.gradient(loss, hs)
    return float(loss), np.array([np.linalg.norm(g.numpy().astype(np.float64), axis=-1).mean()
                                  for g in grads])[::-1]


@pytest.mark.parametrize("mode", ["none", "input", "output", "recurrent"])
@pytest.mark.parametrize("cell", ["lstm", "simple_rnn"])
def test_probe_profile_is_the_gradient_training_follows(make_config, cell, mode):
    """The profile equals dL/dh_k of an independent unroll with batch statistics
    (training mode) for BatchNorm models, and the labelled inference numbers the
    unroll with moving statistics; the two differ, so a probe in the wrong mode fails."""
    model = model_for(make_config, cell, mode)
    x, y = data(3)
    probe = Probe(model, x, y)
    probe(0, trajectory=False)
    rec = probe.records[0]
    loss_inf, want_inf = unrolled_profile(model, x, y, training=False)  # before any update
    loss, want = unrolled_profile(model, x, y, training=mode != "none")
    assert rec["loss"] == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(rec["profile"], want, rtol=1e-4, atol=1e-9)
    if mode == "none":
        assert "profile_inference" not in rec and "probe_mode" not in rec
        return
    assert rec["probe_mode"] == "batch" and rec["loss_inference"] == pytest.approx(loss_inf, rel=1e-5)
    np.testing.assert_allclose(rec["profile_inference"], want_inf, rtol=1e-4, atol=1e-9)
    assert np.abs(want - want_inf).max() > 1e-3 * want.max()


@pytest.mark.parametrize("mode", ["input", "output", "recurrent"])
def test_probe_leaves_every_moving_statistic_unchanged(make_config, mode):
    model = model_for(make_config, "lstm", mode)
    x, y = data(4)
    model.fit(x, y, batch_size=B, epochs=1, verbose=0)  # non-initial statistics
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    assert before
    probe = Probe(model, x, y)
    probe(0, trajectory=True)
    for var, value in zip(model.non_trainable_variables, before):
        np.testing.assert_array_equal(var.numpy(), value)


def test_probed_run_trains_bit_identically(make_config, tasks):
    from suite.health.probe import make_probe
    from suite.model.run_loop import train

    cfg = make_config(cell="lstm", batchnorm="recurrent", steps=6, eval_every=3, probe_every=2)
    probed = train(cfg, tasks["adding"], make_probe)
    plain = train(cfg, tasks["adding"])
    assert len(probed["probes"]) >= 3 and probed["probes"][0]["probe_mode"] == "batch"
    assert probed["curves"]["loss"] == plain["curves"]["loss"]
    assert probed["evals"] == plain["evals"]


def test_jacobian_holds_the_step_batch_statistics(make_config):
    """Step-Jacobian sigma_max of a recurrent-BN LSTM: per example, with the batch
    statistics of its step held fixed, over (h, c) only (not the step counter)."""
    from suite.health.dynamics import TrajectoryProbe
    from suite.health.views import suite_view

    model = model_for(make_config, "lstm", "recurrent")
    cell = model.rnns[0].cell
    x, _ = data(5)
    got = TrajectoryProbe(suite_view(model), x, examples=4, batch_statistics=True)()
    h = tf.zeros((B, cell.units))
    c, want = tf.zeros_like(h), []
    frozen: dict = {}

    def batch(bn, v):
        frozen[bn.name] = tf.nn.moments(v, [0])
        return frozen[bn.name]

    for t in range(T):
        h_next, c_next = tf_bn_step(cell, x[:, t], h, c, batch)
        s = tf.concat([h[:4], c[:4]], -1)
        with tf.GradientTape() as tape:
            tape.watch(s)
            hh, cc = tf_bn_step(cell, x[:4, t], s[:, :4], s[:, 4:], lambda bn, v: frozen[bn.name])
            s_new = tf.concat([hh, cc], -1)
        jac = tape.batch_jacobian(s_new, s).numpy().astype(np.float64)
        assert jac.shape == (4, 8, 8)
        want.append(np.mean([np.linalg.norm(j, 2) for j in jac]))
        h, c = h_next, c_next
    np.testing.assert_allclose(got["jacobian_sigma_by_step"], want, rtol=1e-4)
