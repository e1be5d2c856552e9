"""Gradient-health probes against independent computations and known answers."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from suite.health.diagnosis import fit_rate, reach, spectral_numbers
from suite.health.probe import Probe
from suite.model.builder import build_model
from suite.model.losses import keras_loss


def unrolled_profile(model, x, y, per_step):
    """||dL/dh_k|| by a Python loop over the top cell, gradient w.r.t. each h_k (float64 norms)."""
    cell = model.rnns[-1].cell
    z = model.embed(tf.constant(x))
    sizes = [cell.state_size] if isinstance(cell.state_size, int) else list(cell.state_size)
    states = [tf.zeros((x.shape[0], s)) for s in sizes]
    hs = []
    with tf.GradientTape() as tape:
        outs = []
        for t in range(z.shape[1]):
            out, states = cell(z[:, t], states)
            states = list(states) if isinstance(states, (list, tuple)) else [states]
            hs.append(states[0])
            outs.append(out)
        pred = model.readout(outs[-1])
        target = y[:, -1] if per_step else y
        loss = tf.reduce_mean(keras_loss(model.head_spec.loss)(target, pred))
    grads = tape.gradient(loss, hs)
    # h_k feeds both the next step and (for the last step) the head; the tape sums both paths
    norms = [np.mean(np.linalg.norm(g.numpy().astype("float64"), axis=-1)) for g in grads]
    return np.array(norms[::-1])


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("task_name", ["adding", "copy_memory"])
def test_profile_matches_unrolled_loop(make_config, tasks, cell, task_name):
    task = tasks[task_name]
    cfg = make_config(task_name, cell=cell, hidden=12, task_params={"seq_len": 15})
    p = cfg["task_params"]
    model = build_model(cfg, task.input_spec(p), task.head(p))
    x, y = task.make_data("train", 6, 0, p)
    probe = Probe(model, x, y)
    probe(0)
    got = np.array(probe.results()[0]["profile"])
    want = unrolled_profile(model, x, y, task.head(p).per_step)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-3)


@pytest.mark.parametrize("gain", [0.8, 0.95, 1.1])
def test_rho_of_linear_orthogonal_rnn_equals_its_gain(make_config, tasks, gain):
    task = tasks["adding"]
    cfg = make_config(cell="simple_rnn", activation="linear", recurrent_initializer=f"orthogonal:{gain}",
                      kernel_initializer="zeros", hidden=16, task_params={"seq_len": 40})
    p = cfg["task_params"]
    model = build_model(cfg, task.input_spec(p), task.head(p))
    x, y = task.make_data("train", 8, 0, p)
    probe = Probe(model, x, y)
    probe(0)
    rec = probe.results()[0]
    assert rec["rho"] == pytest.approx(gain, rel=0.02)
    prof = np.array(rec["profile"])
    np.testing.assert_allclose(prof[1:] / prof[:-1], gain, rtol=1e-3)
    assert rec["kernel"]["sigma_max"] == pytest.approx(gain, rel=1e-4)


def test_rate_and_reach_of_a_halving_profile():
    prof = 0.5 ** np.arange(100.0)  # down to 1e-30
    assert fit_rate(prof) == pytest.approx(0.5)
    assert reach(prof) == 9  # 0.5**9 = 2e-3 >= 1e-3 > 0.5**10


def test_float64_norms_keep_tiny_gradients(make_config, tasks):
    """Linear RNN with W = 0.2 x orthogonal: ||dL/dh_k|| = 0.2**d ||dL/dh_T|| exactly, down to
    ~1e-28 at d = 39. The gradient entries are normal float32 numbers, but beyond d ~ 27 their
    squares are below float32's range, so a float32 norm would report 0 there."""
    gain, T = 0.2, 40
    task = tasks["adding"]
    cfg = make_config(cell="simple_rnn", activation="linear", recurrent_initializer=f"orthogonal:{gain}",
                      kernel_initializer="zeros", hidden=16, task_params={"seq_len": T})
    p = cfg["task_params"]
    model = build_model(cfg, task.input_spec(p), task.head(p))
    x, y = task.make_data("train", 8, 0, p)
    probe = Probe(model, x, y)
    probe(0)
    prof = np.array(probe.results()[0]["profile"])
    assert np.sum(prof < np.sqrt(np.finfo(np.float32).tiny)) >= 10  # the case is exercised
    np.testing.assert_allclose(prof, prof[0] * gain ** np.arange(T), rtol=1e-4)
    np.testing.assert_allclose(prof, unrolled_profile(model, x, y, False), rtol=1e-4)


def test_spectral_numbers_on_known_kernels():
    units = 4
    d = np.diag([3.0, 1.0, 0.5, 0.1])
    rot = np.array([[0.0, -2.0], [2.0, 0.0]])  # norm 2, eigenvalues +-2i
    blk = np.zeros((units, units))
    blk[:2, :2] = rot
    out = spectral_numbers(np.concatenate([d, blk], axis=1), blocks=2)
    assert out["blocks"][0] == pytest.approx({"sigma_max": 3.0, "radius": 3.0})
    assert out["blocks"][1] == pytest.approx({"sigma_max": 2.0, "radius": 2.0})
    nilpotent = np.array([[0.0, 5.0], [0.0, 0.0]])  # norm 5, radius 0
    out = spectral_numbers(nilpotent, blocks=1)
    assert out["sigma_max"] == pytest.approx(5.0) and out["blocks"][0]["radius"] == pytest.approx(0.0)


def test_saturation_on_hand_made_preactivations():
    import tensorflow as tf

    from suite.health.dynamics import _dead_relu, _sat_sigmoid, _sat_tanh

    a = tf.constant([0.0, 1.0, 2.2, 3.0, -3.0])   # tanh' = 1, .42, .047, .0099, .0099
    np.testing.assert_array_equal(_sat_tanh(a).numpy(), [0, 0, 1, 1, 1])
    b = tf.constant([0.0, 2.0, 2.8, 3.0, -3.5])   # sigmoid' = .25, .105, .054, .0452, .0285
    np.testing.assert_array_equal(_sat_sigmoid(b).numpy(), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(_dead_relu(tf.constant([-1.0, 0.0, 2.0])).numpy(), [1, 1, 0])


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_saturation_per_gate_from_biases(make_config, tasks, cell):
    """Zero kernels: every pre-activation equals its bias, so the fractions are known."""
    from suite.health.dynamics import TrajectoryProbe
    from suite.health.views import suite_view

    task = tasks["adding"]
    cfg = make_config(cell=cell, hidden=4, recurrent_initializer="zeros", kernel_initializer="zeros")
    p = cfg["task_params"]
    model = build_model(cfg, task.input_spec(p), task.head(p))
    c = model.rnns[0].cell
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell]
    # per gate block: two units deep in saturation (|a| = 6), two in the linear range (a = 0)
    block = np.array([6.0, -6.0, 0.0, 0.0], "float32")
    bias = np.tile(block, gates)
    c.bias.assign(np.stack([bias, np.zeros_like(bias)]) if len(c.bias.shape) == 2 else bias)
    x, _ = task.make_data("train", 4, 0, p)
    out = TrajectoryProbe(suite_view(model), x)()
    names = {"simple_rnn": ["tanh"], "lstm": ["input", "forget", "candidate", "output", "cell_tanh"],
             "gru": ["update", "reset", "candidate"]}[cell]
    assert list(out["saturation"]) == names
    for name in names:
        if name == "cell_tanh":
            continue  # depends on the accumulated cell state
        assert out["saturation"][name] == pytest.approx(0.5), name


@pytest.mark.parametrize("gain", [0.7, 1.3])
def test_step_jacobian_of_linear_rnn_is_its_kernel(make_config, tasks, gain):
    from suite.health.dynamics import TrajectoryProbe
    from suite.health.views import suite_view

    task = tasks["adding"]
    cfg = make_config(cell="simple_rnn", activation="linear", hidden=8,
                      recurrent_initializer=f"orthogonal:{gain}")
    p = cfg["task_params"]
    model = build_model(cfg, task.input_spec(p), task.head(p))
    x, _ = task.make_data("train", 4, 0, p)
    out = TrajectoryProbe(suite_view(model), x)()
    assert out["jacobian_sigma_mean"] == pytest.approx(gain, rel=1e-4)
    assert out["jacobian_sigma_max"] == pytest.approx(gain, rel=1e-4)
    assert len(out["jacobian_sigma_by_step"]) == p["seq_len"] == len(out["jacobian_steps"])


def test_lstm_jacobian_covers_h_and_c(make_config, tasks):
    """For the LSTM the Jacobian is of the full (h, c) state. Zero kernels, forget gate
    open (f ~ 1), c stays 0: J = [[0, o tanh'(c) f], [0, f]] with o = 1/2, so
    sigma_max = sqrt(1 + 1/4); the h -> h block alone would give 0."""
    from suite.health.dynamics import TrajectoryProbe
    from suite.health.views import suite_view

    task = tasks["adding"]
    cfg = make_config(cell="lstm", hidden=4, recurrent_initializer="zeros", kernel_initializer="zeros")
    p = cfg["task_params"]
    model = build_model(cfg, task.input_spec(p), task.head(p))
    bias = np.zeros(16, "float32")
    bias[4:8] = 20.0  # forget gate ~ 1
    model.rnns[0].cell.bias.assign(bias)
    x, _ = task.make_data("train", 2, 0, p)
    out = TrajectoryProbe(suite_view(model), x)()
    assert out["jacobian_sigma_mean"] == pytest.approx(np.sqrt(1.25), abs=1e-4)
