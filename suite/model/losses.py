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


def numpy_loss(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The same losses in float64 NumPy, for evaluation."""
    y_pred = np.asarray(y_pred, "float64")
    if name == "mse":
        return float(np.mean((y_pred - np.asarray(y_true, "float64").reshape(y_pred.shape)) ** 2))
    z = y_pred - y_pred.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, np.asarray(y_true)[..., None], -1)[..., 0]
    return float(nll.mean() / (math.log(2.0) if name == "ce_bits" else 1.0))
