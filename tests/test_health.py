"""Gradient-health probes against independent computations and known answers."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from suite.health import Probe, diagnose, fit_rate, reach, spectral_numbers
from suite.models import build_model
from suite.training import keras_loss


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


def test_float64_norms_keep_tiny_gradients():
    # a vanishing profile down to 1e-30: float32 squares would flush to zero
    prof = 0.5 ** np.arange(100.0)
    assert fit_rate(prof) == pytest.approx(0.5)
    assert reach(prof) == 9  # 0.5**9 = 2e-3 >= 1e-3 > 0.5**10


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


def test_diagnosis_rules():
    assert diagnose("diverged", None, None, None, "non-finite loss")[0] == "diverged"
    assert diagnose("ok", 1.2, 99, 100)[0] == "exploding"
    label, reason = diagnose("ok", 0.8, 30, 100)
    assert label == "vanishing" and "rho = 0.8" in reason
    assert diagnose("ok", 0.99, 99, 100)[0] == "healthy"
    assert diagnose("ok", None, None, None)[0] == "unknown"
