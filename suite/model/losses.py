"""The task losses (:data:`suite.api.LossName`) in Keras for training and in NumPy for evaluation."""
from __future__ import annotations

import math

import keras
import numpy as np


def keras_loss(name: str):
    """The Keras loss for a :data:`suite.api.LossName`."""
    if name == "mse":
        return keras.losses.MeanSquaredError()
    if name == "ce":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if name == "ce_bits":
        def ce_bits(y_true, y_pred):
            return keras.losses.sparse_categorical_crossentropy(
                y_true, y_pred, from_logits=True) / math.log(2.0)
        return ce_bits
    raise ValueError(f"unknown loss {name!r}")


def elementwise_loss(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """The loss of every prediction in float64: shape of ``y_pred`` without the class
    axis for ``ce``/``ce_bits``, of ``y_pred`` for ``mse``."""
    y_pred = np.asarray(y_pred, "float64")
    if name == "mse":
        return (y_pred - np.asarray(y_true, "float64").reshape(y_pred.shape)) ** 2
    z = y_pred - y_pred.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, np.asarray(y_true)[..., None], -1)[..., 0]
    return nll / (math.log(2.0) if name == "ce_bits" else 1.0)


def numpy_loss(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The same losses in float64 NumPy, for evaluation (the mean of :func:`elementwise_loss`)."""
    return float(elementwise_loss(name, y_true, y_pred).mean())


def position_means(per: np.ndarray) -> list[float]:
    """Mean of :func:`elementwise_loss` of per-step predictions ``(N, T, ...)`` at each
    position t, over examples (and output units)."""
    return per.reshape(per.shape[0], per.shape[1], -1).mean(axis=(0, 2)).tolist()


def loss_by_position(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> list[float]:
    """Mean loss at each position t of per-step predictions ``(N, T, ...)``, over examples
    (and output units): entry t-1 is the loss with a context of t inputs."""
    return position_means(elementwise_loss(name, y_true, y_pred))
