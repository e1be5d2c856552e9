"""Copy memory (Hochreiter & Schmidhuber 1997; layout of Arjovsky et al. 2016 and Bai et al. 2018, TCN).

A sequence of length ``seq_len + 20``: 10 symbols drawn from 1..8, then
``seq_len - 1`` blanks (0), a delimiter (9), then 10 blanks. The targets are
blank everywhere except the last 10 steps, which must reproduce the 10 symbols.
The loss is the cross-entropy (nats) averaged over all ``seq_len + 20`` steps.

Chance level: the best input-blind predictor says "blank" with certainty for
the first ``seq_len + 10`` steps and is uniform over the 8 symbols for the last
10, so its loss is 10 ln 8 / (seq_len + 20). Accuracy over all steps is
misleading (always saying blank already scores (seq_len + 10)/(seq_len + 20)),
so the headline metric ``copy_acc`` is the accuracy on the last 10 steps only
(chance 1/8). ``acc`` over all steps is reported as well.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from suite.api import Head, InputSpec, SuiteError, Widths, seeded_rng

N_SYMBOLS = 10   # how many symbols to copy
ALPHABET = 8     # symbols are 1..8; 0 is blank, 9 the delimiter


class CopyMemoryTask:
    """Copy memory; parameters: ``seq_len`` (the delay T, default 100, at least 1)."""

    name = "copy_memory"
    version = "1"
    params = {"seq_len": 100}
    primary_metric = "copy_acc"
    higher_is_better = True

    def validate(self, params: Mapping[str, Any]) -> None:
        t = params["seq_len"]
        if not isinstance(t, int) or isinstance(t, bool) or t < 1:
            raise SuiteError(f"copy_memory.seq_len must be an integer >= 1, got {t!r}")

    def sequence_length(self, params: Mapping[str, Any]) -> int:
        """Steps the model unrolls: ``seq_len + 20`` (10 symbols, the delay, 10 recall steps)."""
        return int(params["seq_len"]) + 2 * N_SYMBOLS

    def horizon(self, params: Mapping[str, Any]) -> int:
        """``seq_len + 10``: recall step j (position ``seq_len + 10 + j``) reproduces the
        symbol input at position j, so every recalled symbol, the last one (the loss of
        the gradient profile) included, lies ``seq_len + 10`` steps back."""
        return int(params["seq_len"]) + N_SYMBOLS

    def widths(self, params: Mapping[str, Any]) -> Widths:
        """One-hot symbols in, a class per step out (for the estimates)."""
        return Widths(ALPHABET + 2, ALPHABET + 2, True)

    def input_spec(self, params: Mapping[str, Any]) -> InputSpec:
        return InputSpec(vocab=ALPHABET + 2)

    def head(self, params: Mapping[str, Any]) -> Head:
        return Head(units=ALPHABET + 2, per_step=True, loss="ce")

    def make_data(self, split: str, size: int, seed: int,
                  params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        t = params["seq_len"]
        rng = seeded_rng(seed, "copy_memory", split)
        symbols = rng.integers(1, ALPHABET + 1, (size, N_SYMBOLS))
        length = t + 2 * N_SYMBOLS
        x = np.zeros((size, length), "int32")
        y = np.zeros((size, length), "int32")
        x[:, :N_SYMBOLS] = symbols
        x[:, N_SYMBOLS + t - 1] = ALPHABET + 1
        y[:, -N_SYMBOLS:] = symbols
        return x, y

    def chance_loss(self, params: Mapping[str, Any]) -> float:
        return float(N_SYMBOLS * np.log(ALPHABET) / (params["seq_len"] + 2 * N_SYMBOLS))

    def solved_level(self, params: Mapping[str, Any]) -> float:
        """Solved at 0.1 x the memoryless baseline 10 ln 8 / (seq_len + 20).

        Arjovsky, Shah & Bengio 2016 (uRNN, copying experiment) draw this
        baseline and call a model that stays on it one that has not learned to
        copy, while their uRNN goes from it to near zero. At 10% of it, the
        recall steps (almost all of the loss) average 0.1 ln 8 ~ 0.21 nats: the
        right symbol gets a geometric-mean probability of 8^-0.1 ~ 0.81.
        """
        return 0.1 * self.chance_loss(params)

    def metrics(self, y_true: np.ndarray, y_pred: np.ndarray,
                params: Mapping[str, Any]) -> dict[str, float]:
        pred = np.asarray(y_pred).argmax(-1)
        hit = pred == np.asarray(y_true)
        return {"copy_acc": float(hit[:, -N_SYMBOLS:].mean()), "acc": float(hit.mean())}

    def describe(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"chance_predictor": "blank, then uniform over 8 symbols on the last 10 steps",
                "copy_acc_chance": 1.0 / ALPHABET,
                "blank_acc_floor": (params["seq_len"] + N_SYMBOLS) / (params["seq_len"] + 2 * N_SYMBOLS)}


TASK = CopyMemoryTask()
