"""Impulse recall: a random kick at the first step, then silence or noise; recall the kick.

Each sequence has ``seq_len`` steps of ``features`` channels (default 16). Step 0
carries the kick, i.i.d. N(0, 1) entries; every later step carries i.i.d.
N(0, ``drive``^2) noise (``drive = 0``, the default: zeros, so that after the kick
the network runs autonomously). The target is the kick, read at the last step; the
loss is the mean squared error.

This task exists for the transition-to-chaos study of ``suites/literature.toml``:
with ``drive = 0`` a SimpleRNN after its first step is the autonomous network
h_t = tanh(W h_{t-1}) of random-network theory (Sompolinsky, Crisanti & Sommers
1988; in discrete time Molgedey, Schuchhardt & Schuster 1992) started from a random
state, and with ``drive > 0`` the same network driven by noise (Rajan, Abbott &
Sompolinsky 2010; Molgedey et al. 1992). With ``kernel_initializer = "normal:1"``
(std 1/sqrt(features) per weight) the input current of every unit has standard
deviation 1 at the kick and ``drive`` after it.

Chance level: the input-blind predictor says 0 for every channel; its MSE is the
kick's variance, 1. The metric ``mse`` repeats the loss.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from suite.api import Head, InputSpec, SuiteError, Widths, seeded_rng


class ImpulseTask:
    """Impulse recall; parameters ``seq_len`` (>= 2), ``features`` (>= 1), ``drive`` (>= 0)."""

    name = "impulse"
    version = "1"
    params = {"seq_len": 500, "features": 16, "drive": 0.0}
    primary_metric = "mse"
    higher_is_better = False

    def validate(self, params: Mapping[str, Any]) -> None:
        for key, least in (("seq_len", 2), ("features", 1)):
            v = params[key]
            if not isinstance(v, int) or isinstance(v, bool) or v < least:
                raise SuiteError(f"impulse.{key} must be an integer >= {least}, got {v!r}")
        d = params["drive"]
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not np.isfinite(d) or d < 0:
            raise SuiteError(f"impulse.drive must be a finite number >= 0, got {d!r}")

    def sequence_length(self, params: Mapping[str, Any]) -> int:
        """Steps the model unrolls: ``seq_len``."""
        return int(params["seq_len"])

    def horizon(self, params: Mapping[str, Any]) -> int:
        """``seq_len - 1``: the kick is at step 0, the loss at the last step."""
        return int(params["seq_len"]) - 1

    def solved_level(self, params: Mapping[str, Any]) -> float:
        """Solved at an MSE of 0.1 x chance = 0.1 (the suite's 10%-of-chance convention).

        The chance MSE is the kick's variance, 1 (module docstring); the studies that
        use this task measure at initialisation and never reach it.
        """
        return 0.1

    def widths(self, params: Mapping[str, Any]) -> Widths:
        """``features`` in, ``features`` out at the last step (for the estimates)."""
        return Widths(int(params["features"]), int(params["features"]), False)

    def input_spec(self, params: Mapping[str, Any]) -> InputSpec:
        return InputSpec(features=int(params["features"]))

    def head(self, params: Mapping[str, Any]) -> Head:
        return Head(units=int(params["features"]), per_step=False, loss="mse")

    def make_data(self, split: str, size: int, seed: int,
                  params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        t, f, drive = int(params["seq_len"]), int(params["features"]), float(params["drive"])
        rng = seeded_rng(seed, "impulse", split)
        kick = rng.standard_normal((size, f))
        x = np.zeros((size, t, f))
        x[:, 0] = kick
        if drive > 0:
            x[:, 1:] = drive * rng.standard_normal((size, t - 1, f))
        return x.astype("float32"), kick.astype("float32")

    def chance_loss(self, params: Mapping[str, Any]) -> float:
        return 1.0

    def metrics(self, y_true: np.ndarray, y_pred: np.ndarray,
                params: Mapping[str, Any]) -> dict[str, float]:
        err = np.asarray(y_pred, "float64") - np.asarray(y_true, "float64")
        return {"mse": float(np.mean(err**2))}

    def describe(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"chance_predictor": "always predict 0", "kick": "N(0, 1) at step 0",
                "after_kick": f"N(0, {float(params['drive']):g}^2) noise" if params["drive"] else "zeros"}


TASK = ImpulseTask()
