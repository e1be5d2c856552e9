"""The task plugin API: what a task declares and what the suite expects of it.

A task plugin is a Python module that exposes a module-level ``TASK`` object
satisfying :class:`Task`. The suite builds the model (one builder for every
task, see :mod:`suite.model.builder`), so a task only describes its data, its output
head, its loss and its baselines. The smallest complete example is in the
guide docs/writing-a-task.md.

Data is plain NumPy so that tasks never depend on TensorFlow: ``make_data``
returns ``(x, y)`` arrays that are a pure function of ``(split, size, seed,
params)``.

Members added to the protocol after its first release are optional
(:class:`TaskExtras`, listed in :data:`OPTIONAL_MEMBERS`): a plugin written
against the first protocol keeps working, and the suite reads an optional
member only through a helper of this module that applies its documented
default (e.g. :func:`sequence_length`, :func:`solved_level`).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, Mapping, NamedTuple, Protocol, runtime_checkable

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
        name: The task's name, which is the name it is loaded under: the module's
            name for a module in ``tasks/`` or a ``--tasks-path`` folder
            (``adding.py`` -> ``"adding"``; ``parity/__init__.py`` -> ``"parity"``),
            the entry point's name for an entry point (``parity = "pkg.mod:TASK"``
            -> ``"parity"``). Must equal it; see :mod:`suite.registry`.
        version: Bump it when the data or loss changes; it is part of the run id.
        params: Parameter names and their defaults (JSON-compatible scalars).
            ``seq_len`` is expected by convention: it is the default of the
            optional member ``sequence_length`` (see :class:`TaskExtras`).
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


@runtime_checkable
class TaskExtras(Protocol):
    """Optional members of a task; the suite reads each through a helper with a default.

    They are not part of :class:`Task` because a ``runtime_checkable``
    protocol requires every member it declares, and a plugin written before a
    member existed must keep working. The suite never calls them directly:
    :func:`sequence_length` applies the default below. A task with every
    optional member satisfies both protocols (``isinstance(task, TaskExtras)``).
    """

    def sequence_length(self, params: Mapping[str, Any]) -> int:
        """Returns the number of time steps a run with these parameters unrolls.

        Used for run-time estimates, run labels and the run record's
        ``sequence_length``. Default when a task does not define it: the
        ``seq_len`` parameter (``params["seq_len"]``), or unknown (``None``)
        when the task has no such parameter. Define it when the model sees
        more steps than ``seq_len`` (e.g. a task that appends a recall phase).
        """

    def solved_level(self, params: Mapping[str, Any]) -> float | None:
        """Returns the validation loss at or below which a run has solved the task.

        In the task's loss units (the same units as ``chance_loss``). The
        report counts a run as solved when it finished ``ok`` with a final
        validation loss at or below this level, and its steps-to-solved is
        the first evaluation step at or below it. Default when a task does
        not define it: ``None`` (no solved level; success rates and
        steps-to-solved are then not reported). Return ``None`` too when the
        level cannot be computed without the worker (e.g. a corpus still to
        download). Justify the level, with a source, in the docstring.
        """

    def widths(self, params: Mapping[str, Any]) -> Widths | None:
        """Returns what a run's model reads and writes per step, for run-time estimates.

        :class:`Widths` ``(inputs, outputs, per_step)``: the input spec's
        ``features`` (or ``vocab``), the head's units and whether it scores every
        step, as :meth:`Task.input_spec` and :meth:`Task.head` will say, but
        without loading anything. Only ``--dry-run`` and the longest-first
        run order use it (:mod:`suite.execution.estimate`). Default when a task
        does not define it: ``None`` (the estimates assume the adding problem's
        widths). Return ``None`` too when they cannot be known without the
        worker (e.g. a corpus still to download).
        """

    def horizon(self, params: Mapping[str, Any]) -> int | None:
        """Returns the dependency horizon of the loss: how many steps back its gradient must reach.

        The distance d = T - 1 - k, counted from the last scored position (the
        loss of the gradient profile, see :mod:`suite.health.probe`), back to
        the earliest input that position depends on. The diagnosis calls a run
        ``vanishing`` when the gradient's reach falls short of it. Default when
        a task does not define it: ``None`` (no horizon; the reach is reported,
        not judged). Return ``None`` for a task with no single horizon (a
        language model).
        """


REQUIRED_ATTRS = ("name", "version", "params", "primary_metric", "higher_is_better")
REQUIRED_METHODS = ("validate", "input_spec", "head", "make_data", "chance_loss",
                    "metrics", "describe")
#: Optional methods (:class:`TaskExtras`) and the default the suite applies without them.
OPTIONAL_MEMBERS: dict[str, str] = {
    "sequence_length": "the 'seq_len' parameter (None without one)",
    "solved_level": "None (the task declares no solved level)",
    "horizon": "None (no dependency horizon: the reach is reported, not judged)",
    "widths": "None (the estimates assume the adding problem's widths)",
}


def missing_optional(obj: Any) -> list[str]:
    """Names of the optional members (:data:`OPTIONAL_MEMBERS`) that ``obj`` lacks.

    Args:
        obj: A task object.

    Returns:
        The names, in the order of :data:`OPTIONAL_MEMBERS`; empty if it has them all.
    """
    return [m for m in OPTIONAL_MEMBERS if not callable(getattr(obj, m, None))]


def _positive_int(value: Any) -> bool:
    """Whether ``value`` is an integer >= 1 (a bool is not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _bad_return(task: Any, member: str, expected: str, value: Any) -> SuiteError:
    """The one-line error for an optional member that returned ``value`` instead of ``expected``."""
    return SuiteError(f"task '{getattr(task, 'name', task)}': {member}() must return {expected}, "
                      f"got {value!r}")


def sequence_length(task: Any, params: Mapping[str, Any]) -> int | None:
    """The number of time steps a run of ``task`` with ``params`` unrolls.

    Calls the task's optional ``sequence_length(params)`` (:class:`TaskExtras`)
    when it has one; otherwise the default: ``params["seq_len"]``, or ``None``
    when there is no ``seq_len`` parameter.

    Args:
        task: A task object (:class:`Task`, with or without the optional member).
        params: The run's resolved task parameters.

    Raises:
        SuiteError: the task's ``sequence_length`` returned something other than
            a positive integer.
    """
    method = getattr(task, "sequence_length", None)
    if not callable(method):
        value = params.get("seq_len")
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    length = method(params)
    if not _positive_int(length):
        raise _bad_return(task, "sequence_length", "a positive integer", length)
    return length


class Widths(NamedTuple):
    """What a run's model reads and writes per time step.

    Attributes:
        inputs: The input spec's ``features``, or its ``vocab`` (the one-hot width).
        outputs: The head's units.
        per_step: Whether the head scores every step.

    Only the run-time estimates use it (:mod:`suite.execution.estimate`).
    """

    inputs: int
    outputs: int
    per_step: bool


def io_widths(task: Any, params: Mapping[str, Any]) -> Widths | None:
    """The :class:`Widths` of a run of ``task`` with ``params``, for the estimates.

    Calls the task's optional ``widths(params)`` (:class:`TaskExtras`) when it
    has one; otherwise the default ``None`` (unknown). Never calls
    ``input_spec`` or ``head``: those may load a dataset, and ``--dry-run``
    loads nothing.

    Raises:
        SuiteError: the task's ``widths`` returned something other than ``None``
            or three values (two positive integers and a bool).
    """
    method = getattr(task, "widths", None)
    if not callable(method):
        return None
    value = method(params)
    if value is None:
        return None
    try:
        inputs, outputs, per_step = value
    except (TypeError, ValueError):
        raise _bad_return(task, "widths", "None or Widths(inputs, outputs, per_step)", value) from None
    if not (_positive_int(inputs) and _positive_int(outputs) and isinstance(per_step, bool)):
        raise _bad_return(task, "widths", "None or Widths(inputs, outputs, per_step)", value)
    return Widths(inputs, outputs, per_step)


def solved_level(task: Any, params: Mapping[str, Any]) -> float | None:
    """The validation loss at or below which a run of ``task`` with ``params`` is solved.

    Calls the task's optional ``solved_level(params)`` (:class:`TaskExtras`)
    when it has one; otherwise the default ``None`` (no solved level).

    Args:
        task: A task object (:class:`Task`, with or without the optional member).
        params: The run's resolved task parameters.

    Raises:
        SuiteError: the task's ``solved_level`` returned something other than
            ``None`` or a finite number > 0.
    """
    method = getattr(task, "solved_level", None)
    if not callable(method):
        return None
    level = method(params)
    if level is None:
        return None
    if (isinstance(level, bool) or not isinstance(level, (int, float))
            or not math.isfinite(level) or level <= 0):
        raise _bad_return(task, "solved_level", "None or a finite number > 0", level)
    return float(level)


def horizon(task: Any, params: Mapping[str, Any]) -> int | None:
    """The dependency horizon of ``task``'s loss with ``params``, in steps (None: none).

    Calls the task's optional ``horizon(params)`` (:class:`TaskExtras`) when it
    has one; otherwise the default ``None``.

    Args:
        task: A task object (:class:`Task`, with or without the optional member).
        params: The run's resolved task parameters.

    Raises:
        SuiteError: the task's ``horizon`` returned something other than ``None``
            or a positive integer.
    """
    method = getattr(task, "horizon", None)
    if not callable(method):
        return None
    value = method(params)
    if value is not None and not _positive_int(value):
        raise _bad_return(task, "horizon", "None or a positive integer", value)
    return value


def check_task(obj: Any, module_name: str, loaded_as: str = "module") -> list[str]:
    """Lists what ``obj`` lacks to satisfy :class:`Task` (empty if nothing).

    Optional members (:data:`OPTIONAL_MEMBERS`) may be absent, but one that is
    present must be callable.

    Args:
        obj: The candidate ``TASK`` object.
        module_name: The name the plugin is loaded under (its module's or its
            entry point's name, see :attr:`Task.name`); ``obj.name`` must equal it.
        loaded_as: What ``module_name`` names, for the message: ``"module"``
            (default) or ``"entry point"``.
    """
    problems = [f"missing attribute '{a}'" for a in REQUIRED_ATTRS if not hasattr(obj, a)]
    problems += [f"missing method '{m}()'" for m in REQUIRED_METHODS
                 if not callable(getattr(obj, m, None))]
    problems += [f"'{m}' must be a method" for m in OPTIONAL_MEMBERS
                 if hasattr(obj, m) and not callable(getattr(obj, m))]
    if not problems:
        if obj.name != module_name:
            problems.append(f"TASK.name is '{obj.name}' but the {loaded_as} is named "
                            f"'{module_name}' (a task's name is its {loaded_as}'s name)")
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
