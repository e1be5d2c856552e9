"""The task plugin API: what a task declares and what the suite expects of it.

A task plugin is a Python module that exposes a module-level ``TASK`` object
satisfying :class:`Task`. The suite builds the model (one builder for every
task, see :mod:`suite.models`), so a task only describes its data, its output
head, its loss and its baselines. The smallest complete example is in the
README section "Writing a task plugin".

Data is plain NumPy so that tasks never depend on TensorFlow: ``make_data``
returns ``(x, y)`` arrays that are a pure function of ``(split, size, seed,
params)``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Literal, Mapping, Protocol, runtime_checkable

import numpy as np

#: Loss names understood by the model builder.
#: ``mse``: mean squared error; ``ce``: sparse categorical cross-entropy on
#: logits, in nats; ``ce_bits``: the same in bits (divided by ln 2).
LossName = Literal["mse", "ce", "ce_bits"]


class SuiteError(Exception):
    """A user-facing error: bad suite file, bad plugin, bad argument.

    The command line prints ``str(error)`` on one line and exits with status 2.
    """


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What the model receives at every time step.

    Attributes:
        features: Number of real-valued features per step (``x`` is float32 of
            shape ``(N, T, features)``), or ``None`` for token inputs.
        vocab: Number of distinct tokens (``x`` is int32 of shape ``(N, T)`` and
            is one-hot encoded by the model), or ``None`` for real inputs.
    """

    features: int | None = None
    vocab: int | None = None

    def __post_init__(self) -> None:
        if (self.features is None) == (self.vocab is None):
            raise ValueError("InputSpec needs exactly one of features= or vocab=")


@dataclasses.dataclass(frozen=True)
class Head:
    """The output head the model builder puts on the recurrent stack.

    Attributes:
        units: Output units (1 for a scalar regression, the number of classes
            for classification; logits, no activation).
        per_step: ``True`` to score every time step (the head reads the whole
            sequence of hidden states), ``False`` to score only the last step.
        loss: One of :data:`LossName`.
    """

    units: int
    per_step: bool
    loss: LossName


@runtime_checkable
class Task(Protocol):
    """Protocol every task plugin's ``TASK`` object satisfies.

    Attributes:
        name: Must equal the module name (``tasks/adding.py`` -> ``"adding"``).
        version: Bump it when the data or loss changes; it is part of the run id.
        params: Parameter names and their defaults (JSON-compatible scalars).
            ``seq_len`` is expected by convention.
        primary_metric: Name of the metric (a key of :meth:`metrics`) shown as
            the task's headline number.
        higher_is_better: Direction of ``primary_metric``.
    """

    name: str
    version: str
    params: Mapping[str, Any]
    primary_metric: str
    higher_is_better: bool

    def validate(self, params: Mapping[str, Any]) -> None:
        """Raises :class:`SuiteError` naming the key if ``params`` is unusable."""

    def input_spec(self, params: Mapping[str, Any]) -> InputSpec:
        """Returns the per-step input description for these parameters."""

    def head(self, params: Mapping[str, Any]) -> Head:
        """Returns the output head: units, scored positions and loss."""

    def make_data(self, split: str, size: int, seed: int,
                  params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Returns ``(x, y)`` with ``size`` examples, deterministic in its args.

        ``split`` is ``"train"`` or ``"validation"``. Validation data must never
        overlap training data (different generator streams or held-out text).
        """

    def chance_loss(self, params: Mapping[str, Any]) -> float:
        """Loss of the best predictor that ignores the input, in loss units."""

    def metrics(self, y_true: np.ndarray, y_pred: np.ndarray,
                params: Mapping[str, Any]) -> dict[str, float]:
        """Task metrics from targets and raw model outputs (NumPy)."""

    def describe(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Extra facts stored in the run record (baselines, corpus fingerprint)."""


REQUIRED_ATTRS = ("name", "version", "params", "primary_metric", "higher_is_better")
REQUIRED_METHODS = ("validate", "input_spec", "head", "make_data", "chance_loss",
                    "metrics", "describe")


def check_task(obj: Any, module_name: str) -> list[str]:
    """Lists what ``obj`` lacks to satisfy :class:`Task` (empty if nothing).

    Args:
        obj: The candidate ``TASK`` object.
        module_name: The plugin's module name; ``obj.name`` must equal it.
    """
    problems = [f"missing attribute '{a}'" for a in REQUIRED_ATTRS if not hasattr(obj, a)]
    problems += [f"missing method '{m}()'" for m in REQUIRED_METHODS
                 if not callable(getattr(obj, m, None))]
    if not problems:
        if obj.name != module_name:
            problems.append(f"TASK.name is '{obj.name}' but the module is '{module_name}'")
        if not isinstance(obj.params, Mapping):
            problems.append("TASK.params must be a mapping of defaults")
    return problems


def seeded_rng(seed: int, *stream: str | int) -> np.random.Generator:
    """A NumPy generator for one named stream of a seed.

    Different ``stream`` values give independent generators, so validation
    data (``stream=("validation",)``) never repeats training data.

    Args:
        seed: The base seed (the run seed or a data seed derived from it).
        *stream: Names distinguishing independent streams.
    """
    words = [abs(hash_str(str(s))) for s in stream]
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *words])


def hash_str(text: str) -> int:
    """A stable 31-bit hash of ``text`` (Python's ``hash`` is salted per process)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF
