"""The instrumented training step: pre-clip norms, clip flags, divergence, evaluation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from suite.model.builder import build_model
from suite.model.losses import keras_loss, numpy_loss
from suite.model.run_loop import StepRecorder, make_optimizer, train


@pytest.mark.parametrize("clip", [{}, {"clipnorm": 0.01}, {"global_clipnorm": 0.01}])
def test_logged_norms_are_pre_clip_and_match_a_hand_computation(make_config, tasks, clip):
    task = tasks["copy_memory"]
    cfg = make_config("copy_memory", cell="gru", depth=2, batchnorm="output", **clip)
    p = cfg["task_params"]
    model = build_model(cfg, task.input_spec(p), task.head(p))
    model.compile(optimizer=make_optimizer(cfg), loss=keras_loss(task.head(p).loss))
    x, y = task.make_data("train", 8, 0, p)
    with tf.GradientTape() as tape:
        loss = keras_loss("ce")(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    by_var = {v.path: g.numpy() for v, g in zip(model.trainable_variables, grads)}
    expected = math.sqrt(sum(float((g.astype("float64") ** 2).sum()) for g in by_var.values()))
    rec = StepRecorder(chance=1.0)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[rec])
    assert rec.curves["grad_norm"][0] == pytest.approx(expected, rel=1e-5)
    assert rec.curves["loss"][0] == pytest.approx(float(loss), rel=1e-5)
    for name in ("rnn_0", "rnn_1", "output_bn", "head"):
        layer_vars = [v for v in by_var if f"/{name}/" in v]
        assert layer_vars, name
        want = math.sqrt(sum(float((by_var[v].astype("float64") ** 2).sum()) for v in layer_vars))
        assert rec.curves[f"gn/{name}"][0] == pytest.approx(want, rel=1e-5)
    # the norms are well above 0.01, so clipping fired exactly when configured
    assert rec.curves["clipped"][0] == (1.0 if clip else 0.0)


def test_nan_run_is_recorded_as_diverged(make_config, tasks):
    cfg = make_config(cell="simple_rnn", optimizer="sgd", learning_rate=1e6, steps=30, eval_every=10)
    result = train(cfg, tasks["adding"])
    assert result["status"] == "diverged"
    assert 1 <= result["diverged_step"] < 30 == cfg["steps"]
    assert result["steps_done"] == result["diverged_step"]
    assert "non-finite" in result["error"] or "divergence bound" in result["error"]


def test_train_result_shape(make_config, tasks):
    from suite.health.probe import make_probe

    cfg = make_config("char_lm", cell="lstm", steps=10, eval_every=5, probe_every=5)
    result = train(cfg, tasks["char_lm"], make_probe=make_probe)
    assert result["status"] == "ok" and result["steps_done"] == 10
    assert [e["step"] for e in result["evals"]] == [0, 5, 10]
    assert all(len(v) == 10 for v in result["curves"].values())
    assert [p["step"] for p in result["probes"]] == [0, 5, 10]
    assert result["chance_loss"] == pytest.approx(tasks["char_lm"].chance_loss(cfg["task_params"]))
    assert set(result["evals"][-1]) >= {"val_loss", "bpc", "acc"}


def test_numpy_losses_match_keras():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 7, 5)).astype("float32")
    y = rng.integers(0, 5, (4, 7))
    for name in ("ce", "ce_bits"):
        k = float(tf.reduce_mean(keras_loss(name)(y, logits)))
        assert numpy_loss(name, y, logits) == pytest.approx(k, rel=1e-5)
    a, b = rng.normal(size=(6, 1)), rng.normal(size=(6, 1))
    assert numpy_loss("mse", a, b) == pytest.approx(float(np.mean((a - b) ** 2)))


def test_recurrent_kernel_says_when_cudnn_applies():
    from suite.execution.worker import recurrent_kernel

    lstm = {"cell": "lstm", "batchnorm": "none"}
    assert recurrent_kernel(lstm, gpus=1) == {"device": "GPU", "cudnn": True, "why_not": ""}
    assert recurrent_kernel(lstm, gpus=0) == {"device": "CPU", "cudnn": False, "why_not": "no GPU"}
    assert "custom cell" in recurrent_kernel({"cell": "gru", "batchnorm": "recurrent"}, 1)["why_not"]
    assert not recurrent_kernel({"cell": "simple_rnn", "batchnorm": "none"}, 1)["cudnn"]
