"""The model builder: initializer presets, seeds, BatchNorm modes, clipping."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from suite.api import Head, InputSpec
from suite.model.builder import build_model
from suite.model.cells import GATES, BNCell, StepBN
from suite.model.run_loop import make_optimizer

INPUTS = InputSpec(features=2)
HEAD = Head(units=1, per_step=False, loss="mse")


def kernel(model, layer=0):
    return model.rnns[layer].cell.recurrent_kernel.numpy()


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_identity_is_identity(make_config, cell):
    m = build_model(make_config(cell=cell, recurrent_initializer="identity", hidden=6), INPUTS, HEAD)
    k = kernel(m)
    for i in range(GATES[cell]):
        np.testing.assert_array_equal(k[:, 6 * i:6 * (i + 1)], np.eye(6))


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("gain", [0.5, 2.0])
def test_orthogonal_gain_sets_spectral_norm(make_config, cell, gain):
    m = build_model(make_config(cell=cell, recurrent_initializer=f"orthogonal:{gain}", hidden=16),
                    INPUTS, HEAD)
    k = kernel(m)
    for i in range(GATES[cell]):
        s = np.linalg.svd(k[:, 16 * i:16 * (i + 1)], compute_uv=False)
        np.testing.assert_allclose(s, gain, rtol=1e-4)


@pytest.mark.parametrize("gain", [0.5, 1.0, 2.0])
def test_normal_gain_sets_spectral_radius(make_config, gain):
    m = build_model(make_config(cell="simple_rnn", recurrent_initializer=f"normal:{gain}", hidden=400),
                    INPUTS, HEAD)
    radius = np.abs(np.linalg.eigvals(kernel(m))).max()
    assert radius == pytest.approx(gain, rel=0.1)


def test_weights_depend_only_on_the_seed(make_config):
    import random

    a = build_model(make_config(cell="lstm", seed=3), INPUTS, HEAD)
    random.seed(12345)  # Python's global random must not matter
    b = build_model(make_config(cell="lstm", seed=3), INPUTS, HEAD)
    c = build_model(make_config(cell="lstm", seed=4), INPUTS, HEAD)
    for va, vb in zip(a.trainable_variables, b.trainable_variables):
        np.testing.assert_array_equal(va.numpy(), vb.numpy())
    assert not np.array_equal(a.rnns[0].cell.kernel.numpy(), c.rnns[0].cell.kernel.numpy())


def bn_layers(model):
    return [lay for lay in model._flatten_layers()
            if isinstance(lay, (keras.layers.BatchNormalization, StepBN))]


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_batchnorm_modes_add_what_they_claim(make_config, cell):
    none = build_model(make_config(cell=cell, batchnorm="none"), INPUTS, HEAD)
    assert bn_layers(none) == []
    inp = build_model(make_config(cell=cell, batchnorm="input"), INPUTS, HEAD)
    assert [lay.name for lay in bn_layers(inp)] == ["input_bn"] and inp.input_bn.gamma.shape == (2,)
    out = build_model(make_config(cell=cell, batchnorm="output"), INPUTS, HEAD)
    assert [lay.name for lay in bn_layers(out)] == ["output_bn"] and out.output_bn.gamma.shape == (8,)
    rec = build_model(make_config(cell=cell, batchnorm="recurrent"), INPUTS, HEAD, max_steps=7)
    assert isinstance(rec.rnns[0].cell, BNCell)
    names = sorted(lay.name for lay in bn_layers(rec))
    assert names == (["bn_c", "bn_h", "bn_x"] if cell == "lstm" else ["bn_h", "bn_x"])
    for layer in bn_layers(rec):
        np.testing.assert_allclose(layer.gamma.numpy(), 0.1)  # the bn_gamma default
        assert layer.moving_mean.shape[0] == 7  # statistics per time step
    with pytest.raises(ValueError, match="max_steps"):
        build_model(make_config(cell=cell, batchnorm="recurrent"), INPUTS, HEAD)


@pytest.mark.parametrize("bn", ["input", "output", "recurrent"])
def test_bn_statistics_update_in_training(make_config, bn):
    """Every moving statistic (every time step's, for recurrent BN) moves in a training
    step and none in inference mode (exact values: tests/test_batchnorm.py)."""
    model = build_model(make_config(cell="lstm", batchnorm=bn), INPUTS, HEAD, max_steps=5)
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.RandomState(0).randn(8, 5, 2).astype("float32") + 1.0
    y = np.zeros((8, 1), "float32")
    stats = [v for lay in bn_layers(model) for v in lay.non_trainable_variables]
    before = [v.numpy().copy() for v in stats]
    model(x, training=False)
    for var, value in zip(stats, before):
        np.testing.assert_array_equal(var.numpy(), value)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for var, value in zip(stats, before):
        moved = np.abs(var.numpy() - value).reshape(len(value), -1).max(axis=-1)
        every_row = bn == "recurrent" and "variance" in var.path  # bn_h's mean stays 0 at t=0 (h_0 = 0)
        assert (moved > 0).all() if every_row else moved.max() > 0


def test_depth_stacks_layers(make_config):
    m = build_model(make_config(cell="gru", depth=3), INPUTS, HEAD)
    assert [r.name for r in m.rnns] == ["rnn_0", "rnn_1", "rnn_2"]
    assert [r.return_sequences for r in m.rnns] == [True, True, False]


@pytest.mark.parametrize("axis", ["clipnorm", "global_clipnorm"])
def test_clipping_reaches_the_optimizer(make_config, tasks, axis):
    """With SGD(lr=1) the update equals the clipped gradient."""
    import tensorflow as tf

    cfg = make_config(cell="lstm", optimizer="sgd", learning_rate=1.0, **{axis: 0.05})
    opt = make_optimizer(cfg)
    assert getattr(opt, axis) == 0.05
    other = "global_clipnorm" if axis == "clipnorm" else "clipnorm"
    assert getattr(opt, other) is None
    task = tasks["adding"]
    x, y = task.make_data("train", 8, 0, cfg["task_params"])
    model = build_model(cfg, INPUTS, HEAD)
    model.compile(optimizer=opt, loss="mse")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x) - y) ** 2)
    grads = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    before = [v.numpy() for v in model.trainable_variables]
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    updates = [b - v.numpy() for b, v in zip(before, model.trainable_variables)]
    if axis == "clipnorm":
        for g, u in zip(grads, updates):
            assert np.linalg.norm(u) == pytest.approx(min(np.linalg.norm(g), 0.05), rel=1e-3)
    else:
        gn = np.sqrt(sum((g ** 2).sum() for g in grads))
        un = np.sqrt(sum((u ** 2).sum() for u in updates))
        assert gn > 0.05 and un == pytest.approx(0.05, rel=1e-3)
