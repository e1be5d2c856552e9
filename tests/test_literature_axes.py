"""The run axes the literature studies need: element-wise clipping (``clipvalue``) and one
BatchNorm over the summed pre-activation (``batchnorm = "recurrent_sum"``, Cooijmans et al.
2016, figure 1a), each checked against a computation written out here; their bad values and
an empty claim source refused with one line and exit 2."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_cli
from test_batchnorm import EPS, HEAD, INPUTS, MOMENTUM, B, T, data  # the recurrent-BN tests' data

from suite.api import SuiteError
from suite.health.probe import Probe
from suite.model.builder import build_model
from suite.model.run_loop import make_optimizer


def sum_model(make_config, **axes):
    cfg = make_config(cell="simple_rnn", batchnorm="recurrent_sum", hidden=4, optimizer="sgd",
                      learning_rate=0.1, recurrent_initializer="identity", **axes)
    model = build_model(cfg, INPUTS, HEAD, max_steps=T)
    model.compile(optimizer="sgd", loss="mse")
    return model


def numpy_sum_rnn(cell, x, stats):
    """h_t = tanh(gamma (v - mean) / sqrt(var + eps) + beta), v = x_t Wx + h_{t-1} Wh, in NumPy;
    ``stats(t, v) -> (mean, var)``. Returns the states and the statistics used per step."""
    k, r = (w.numpy().astype(np.float64) for w in (cell.kernel, cell.recurrent_kernel))
    gamma, beta = cell.bn.gamma.numpy(), cell.bn.beta.numpy()
    h, hs, used = np.zeros((x.shape[0], cell.units)), [], []
    for t in range(x.shape[1]):
        v = x[:, t] @ k + h @ r
        mean, var = stats(t, v)
        used.append((mean, var))
        h = np.tanh(gamma * (v - mean) / np.sqrt(var + EPS) + beta)
        hs.append(h)
    return np.stack(hs, 1), used


def test_recurrent_sum_is_one_bn_over_the_summed_preactivation(make_config):
    """Training mode: batch statistics of W_x x + W_h h at each step, one update of each
    step's moving statistics per batch; inference: the moving statistics of each step."""
    model = sum_model(make_config, bn_gamma=0.3)
    cell = model.rnns[0].cell
    assert [bn.name for bn in cell.norms] == ["bn"] and cell.bias is None
    np.testing.assert_allclose(cell.bn.gamma.numpy(), 0.3)
    np.testing.assert_array_equal(cell.recurrent_kernel.numpy(), np.eye(4))
    x, y = data()
    layer = model.rnns[0]
    batch = lambda t, v: (v.mean(0), v.var(0))  # noqa: E731
    _, used = numpy_sum_rnn(cell, x.astype(np.float64), batch)
    model.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
    for t in range(T):
        np.testing.assert_allclose(cell.bn.moving_mean.numpy()[t], (1 - MOMENTUM) * used[t][0],
                                   rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(cell.bn.moving_variance.numpy()[t],
                                   MOMENTUM + (1 - MOMENTUM) * used[t][1], rtol=1e-4, atol=1e-6)
    moving = (cell.bn.moving_mean.numpy(), cell.bn.moving_variance.numpy())
    layer.return_sequences = True
    want, _ = numpy_sum_rnn(cell, x.astype(np.float64), batch)
    np.testing.assert_allclose(layer(x, training=True).numpy(), want, rtol=1e-4, atol=1e-5)
    for var, value in zip(cell.bn.non_trainable_variables, moving):  # undo that call's update
        var.assign(value)
    want_inf, _ = numpy_sum_rnn(cell, x.astype(np.float64), lambda t, v: (moving[0][t], moving[1][t]))
    np.testing.assert_allclose(layer(x, training=False).numpy(), want_inf, rtol=1e-4, atol=1e-5)


def test_recurrent_sum_probe_profile_is_the_unrolled_gradient(make_config):
    """The probe's ||dL/dh_k|| (batch statistics) equals a step-by-step TensorFlow unroll's."""
    model = sum_model(make_config, bn_gamma=0.5)
    cell = model.rnns[0].cell
    x, y = data(3)
    probe = Probe(model, x, y)
    probe(0, trajectory=True)
    rec = probe.records[0]
    with tf.GradientTape() as tape:
        h, hs = tf.zeros((B, cell.units)), []
        for t in range(T):
            v = x[:, t] @ cell.kernel + h @ cell.recurrent_kernel
            mean, var = tf.nn.moments(v, [0])
            h = tf.tanh(cell.bn.gamma * (v - mean) / tf.sqrt(var + EPS) + cell.bn.beta)
            hs.append(h)
        loss = tf.reduce_mean((model.head(h) - y) ** 2)
    want = np.array([np.linalg.norm(g.numpy().astype(np.float64), axis=-1).mean()
                     for g in tape.gradient(loss, hs)])[::-1]
    assert rec["loss"] == pytest.approx(float(loss), rel=1e-5)
    np.testing.assert_allclose(rec["profile"], want, rtol=1e-4, atol=1e-9)
    assert "tanh" in rec["saturation"]  # the trajectory probe runs on this placement too


def test_clipvalue_clips_every_gradient_entry(make_config):
    """One SGD step with clipvalue v moves each weight by -lr * clip(g, -v, v), g from an
    independent tape, and the step's ``clipped`` flag is set; without it, by -lr * g."""
    cfg = make_config(cell="lstm", hidden=4, optimizer="sgd", learning_rate=1.0, clipvalue=1e-3)
    x, y = data(1)
    for clip in (1e-3, 0.0):
        model = build_model({**cfg, "clipvalue": clip}, INPUTS, HEAD, max_steps=T)
        model.compile(optimizer=make_optimizer({**cfg, "clipvalue": clip}), loss="mse")
        before = [v.numpy().copy() for v in model.trainable_variables]
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
        grads = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
        logs = model.train_on_batch(x, y, return_dict=True)
        assert np.abs(np.concatenate([g.ravel() for g in grads])).max() > 1e-3
        for var, w0, g in zip(model.trainable_variables, before, grads):
            step = np.clip(g, -clip, clip) if clip else g
            np.testing.assert_allclose(var.numpy(), w0 - step, rtol=1e-5, atol=1e-7)
        assert logs["clipped"] == (1.0 if clip else 0.0)


@pytest.mark.parametrize("axes, needle", [
    ({"clipvalue": -1.0}, "'clipvalue' must be a finite number >= 0, got -1.0"),
    ({"clipvalue": 1.0, "global_clipnorm": 1.0}, "not both"),
    ({"batchnorm": "recurrent_sum", "cell": "gru"}, "needs cell 'simple_rnn'"),
    ({"batchnorm": "recurrent_summed"}, "'batchnorm' must be one of none, input, output, "
                                        "recurrent, recurrent_sum"),
])
def test_bad_values_of_the_new_axes_are_refused(make_config, axes, needle):
    with pytest.raises(SuiteError, match=needle.replace("(", r"\(")):
        make_config(**axes)


STUDY = '''name = "bad"
[[study]]
name = "s"
tasks = ["adding"]
set = { cell = "simple_rnn" }
grid = { clipvalue = [1.0] }

[[study.claim]]
text = "the tanh RNN stays at chance"
source = "Arjovsky, Shah & Bengio 2016, figure 2"
metric = "loss_vs_chance"
op = ">="
value = 0.9
'''


@pytest.mark.parametrize("old, new, needle", [
    ("grid = { clipvalue = [1.0] }", "grid = { clipvalue = [-0.5] }",
     "'clipvalue' must be a finite number >= 0, got -0.5"),
    ('set = { cell = "simple_rnn" }', 'set = { cell = "lstm", batchnorm = "recurrent_sum" }',
     "needs cell 'simple_rnn'"),
    ('source = "Arjovsky, Shah & Bengio 2016, figure 2"', 'source = ""',
     "'source' must be a non-empty string (every claim cites its source)"),
    ('source = "Arjovsky, Shah & Bengio 2016, figure 2"', 'source = "   "',
     "'source' must be a non-empty string (every claim cites its source)"),
])
def test_bad_suite_file_is_one_line_exit_2(tmp_path, old, new, needle):
    assert old in STUDY
    path = tmp_path / "bad.toml"
    path.write_text(STUDY.replace(old, new))
    out = tmp_path / "out"
    proc = run_cli("--suite", str(path), "--out", str(out))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {path}") and needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr and not out.exists()
