"""The pre-flight check: every task a suite uses, tried on a small sample before any run.

For each task and each distinct set of task parameters among a suite's runs,
:func:`preflight` calls the task the way a run will and checks what comes back
against what the task declares (:class:`suite.api.InputSpec`,
:class:`suite.api.Head`):

* ``input_spec`` and ``head`` return an ``InputSpec`` and a ``Head`` (a known
  loss, ``units >= 1``); ``sequence_length`` is a positive integer or unknown;
* ``chance_loss`` is a finite number > 0;
* ``make_data(split, 4, 0, params)`` for each split (``train``,
  ``validation``) returns a pair of NumPy arrays with exactly 4 examples, the
  same arrays when called twice, and

  - ``x``: float32 of shape ``(4, T, features)``, finite, for
    ``InputSpec(features=...)``; integers of shape ``(4, T)`` in
    ``[0, vocab)`` for ``InputSpec(vocab=...)``; ``T`` is the task's
    sequence length (:func:`suite.api.sequence_length`) when it is known;
  - ``y``: for a ``ce``/``ce_bits`` head, integer class ids in ``[0, units)``
    of shape ``(4, T)`` (per step) or ``(4,)`` (last step); for an ``mse``
    head, finite numbers of shape ``(4, T, units)`` or ``(4, units)``, where
    ``units == 1`` may drop the last axis -- the shapes the model's losses
    accept (:mod:`suite.model.losses`);
* ``metrics(y, y_pred, params)`` on made-up outputs of the head's shape
  returns a mapping of numbers whose primary metric is finite;
* ``describe(params)`` returns a JSON-serialisable mapping (it goes into every record).

The first fault raises :class:`suite.api.SuiteError` with one line
``task 'NAME' (ORIGIN): what is wrong``; so does an exception raised inside
the plugin. TF-free: it runs in the suite process before anything is written.
"""
from __future__ import annotations

import json
import math
import numbers
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from suite import deepcheck
from suite.api import Head, InputSpec, SuiteError, Task, sequence_length

#: Examples per sample.
SAMPLE = 4
#: The splits every run asks for.
SPLITS = ("train", "validation")
#: The data seed of the sample.
SEED = 0
LOSSES = ("mse", "ce", "ce_bits")


class Fault(Exception):
    """What is wrong with a task's answer (one line, without the task's name)."""


def _call(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Calls a plugin method; an exception inside it becomes a :class:`Fault` naming ``what``."""
    try:
        return fn(*args)
    except SystemExit as err:  # sys.exit() inside a plugin is its fault too, never the suite's end
        raise Fault(f"{what} raised SystemExit: {err.code} (a task must not call sys.exit())") from None
    except Exception as err:  # noqa: BLE001 - whatever the plugin raises is its fault
        first = (str(err).strip().splitlines() or [""])[0]
        raise Fault(f"{what} raised {type(err).__name__}" + (f": {first}" if first else "")) from None


def distinct_params(runs: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """``(task, task_params)`` of each distinct parameter set among resolved runs, in run order."""
    seen: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for cfg in runs.values():
        key = (cfg["task"], json.dumps(cfg["task_params"], sort_keys=True, default=str))
        seen.setdefault(key, (cfg["task"], dict(cfg["task_params"])))
    return list(seen.values())


def _declared(task: Task, params: Mapping[str, Any]) -> tuple[InputSpec, Head, int | None]:
    spec = _call("input_spec()", task.input_spec, params)
    if not isinstance(spec, InputSpec):
        raise Fault(f"input_spec() returned {type(spec).__name__}, not suite.api.InputSpec")
    head = _call("head()", task.head, params)
    if not isinstance(head, Head):
        raise Fault(f"head() returned {type(head).__name__}, not suite.api.Head")
    if head.loss not in LOSSES or not isinstance(head.units, int) or head.units < 1:
        raise Fault(f"head() returned {head}; the loss must be one of {', '.join(LOSSES)} "
                    f"and units an integer >= 1")
    try:
        length = sequence_length(task, params)
    except SuiteError as err:
        raise Fault(str(err).split(": ", 1)[-1]) from None
    except (Exception, SystemExit) as err:  # noqa: BLE001 - raised inside the plugin
        raise Fault(f"sequence_length() raised {type(err).__name__}: {err}") from None
    return spec, head, length


def _chance(task: Task, params: Mapping[str, Any]) -> None:
    value = _call("chance_loss()", task.chance_loss, params)
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:
        raise Fault(f"chance_loss() returned {value!r}; it must be a finite number > 0")


def _check_x(x: np.ndarray, spec: InputSpec, n: int, length: int | None) -> None:
    t = "T" if length is None else str(length)
    if spec.vocab is not None:
        want = f"integer token ids of shape ({n}, {t}) in [0, {spec.vocab}) (InputSpec(vocab={spec.vocab}))"
        if x.ndim != 2 or x.dtype.kind not in "iu":
            raise Fault(f"x is {x.dtype} of shape {x.shape}; it must be {want}")
        if x.size and (x.min() < 0 or x.max() >= spec.vocab):
            raise Fault(f"x has token ids from {x.min()} to {x.max()}; it must be {want}")
    else:
        want = f"float32 of shape ({n}, {t}, {spec.features}) (InputSpec(features={spec.features}))"
        if x.ndim != 3 or x.dtype != np.float32 or x.shape[2] != spec.features:
            raise Fault(f"x is {x.dtype} of shape {x.shape}; it must be {want}")
        if not np.isfinite(x).all():
            raise Fault(f"x has {int((~np.isfinite(x)).sum())} non-finite value(s); it must be finite")
    if length is not None and x.shape[1] != length:
        raise Fault(f"x has {x.shape[1]} time steps but the task's sequence length is {length}; "
                    f"x must be {want}")


def target_shapes(head: Head, n: int, steps: int) -> list[tuple[int, ...]]:
    """The shapes of ``y`` the model's losses accept for ``head`` (:mod:`suite.model.losses`)."""
    lead = (n, steps) if head.per_step else (n,)
    if head.loss != "mse":
        return [lead]
    return [lead + (head.units,), lead] if head.units == 1 else [lead + (head.units,)]


def _check_y(y: np.ndarray, head: Head, n: int, steps: int) -> None:
    shapes = target_shapes(head, n, steps)
    scored = "every step" if head.per_step else "the last step"
    if head.loss != "mse":
        want = (f"integer class ids in [0, {head.units}) of shape {shapes[0]} "
                f"({head.loss} on {scored})")
        if y.shape != shapes[0] or y.dtype.kind not in "iu":
            raise Fault(f"y is {y.dtype} of shape {y.shape}; it must be {want}")
        if y.size and (y.min() < 0 or y.max() >= head.units):
            raise Fault(f"y has class ids from {y.min()} to {y.max()}; it must be {want}")
        return
    want = f"numbers of shape {' or '.join(map(str, shapes))} (mse on {scored}, {head.units} unit(s))"
    if y.shape not in shapes or y.dtype.kind not in "iuf":
        raise Fault(f"y is {y.dtype} of shape {y.shape}; it must be {want}")
    if not np.isfinite(y).all():
        raise Fault(f"y has {int((~np.isfinite(y)).sum())} non-finite value(s); it must be finite")


def _sample(task: Task, params: Mapping[str, Any], split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    what = f"make_data({split!r}, {n}, {SEED}, params)"
    out = _call(what, task.make_data, split, n, SEED, params)
    if not isinstance(out, tuple) or len(out) != 2:
        raise Fault(f"{what} returned {type(out).__name__}; it must return a pair (x, y)")
    x, y = out
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise Fault(f"{what} returned x: {type(x).__name__}, y: {type(y).__name__}; "
                    f"both must be NumPy arrays")
    if x.ndim < 1 or y.ndim < 1 or len(x) != n or len(y) != n:
        raise Fault(f"{what} returned {len(x) if x.ndim else 0} example(s) of x and "
                    f"{len(y) if y.ndim else 0} of y; it must return exactly {n}")
    return x, y


def _data(task: Task, params: Mapping[str, Any], spec: InputSpec, head: Head,
          length: int | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Checks each split's sample; returns the training sample."""
    first: tuple[np.ndarray, np.ndarray] | None = None
    for split in SPLITS:
        x, y = _sample(task, params, split, n)
        where = f"make_data({split!r}, {n}, {SEED}, params): "
        try:
            _check_x(x, spec, n, length)
            _check_y(y, head, n, x.shape[1])
        except Fault as fault:
            raise Fault(where + str(fault)) from None
        x2, y2 = _sample(task, params, split, n)
        if not (np.array_equal(x, x2) and np.array_equal(y, y2)):
            raise Fault(where + "a second call with the same seed returned different arrays; "
                        "the data must be a pure function of (split, size, seed, params)")
        first = first or (x, y)
    assert first is not None  # SPLITS is not empty
    return first


def _outputs(task: Task, params: Mapping[str, Any], head: Head, y: np.ndarray, steps: int) -> None:
    shape = (len(y), steps, head.units) if head.per_step else (len(y), head.units)
    y_pred = np.random.default_rng(SEED).standard_normal(shape).astype(np.float32)
    found = _call(f"metrics(y, y_pred of shape {shape}, params)", task.metrics, y, y_pred, params)
    if not isinstance(found, Mapping):
        raise Fault(f"metrics() returned {type(found).__name__}; it must return a dict of numbers")
    if task.primary_metric not in found:
        raise Fault(f"metrics() returned no '{task.primary_metric}' (the primary_metric); "
                    f"it returned: {', '.join(map(str, found)) or 'nothing'}")
    for key, value in found.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise Fault(f"metrics() returned {key}={value!r}; every metric must be a number")
    if not math.isfinite(float(found[task.primary_metric])):
        raise Fault(f"metrics() returned {task.primary_metric}={found[task.primary_metric]!r} on "
                    f"outputs of shape {shape}; the primary metric must be finite")
    info = _call("describe()", task.describe, params)
    try:
        json.dumps(dict(info), allow_nan=True)
    except (TypeError, ValueError) as err:
        raise Fault(f"describe() must return a JSON-serialisable dict ({err})") from None
    if "corpus" in info:  # the report lists corpora by their sha256
        bad = deepcheck.corpus_problems(info["corpus"], "describe()['corpus']")
        if bad:
            raise Fault(bad[0])


def check_task_data(task: Task, params: Mapping[str, Any], n: int = SAMPLE) -> None:
    """Checks one task with one parameter set (see the module docstring).

    Args:
        task: The task.
        params: Resolved task parameters (as in a run's ``task_params``).
        n: Examples per sample; default :data:`SAMPLE`.

    Raises:
        Fault: the first thing that is wrong (one line, without the task's name).
    """
    spec, head, length = _declared(task, params)
    _chance(task, params)
    x, y = _data(task, params, spec, head, length, n)
    _outputs(task, params, head, y, x.shape[1])


def preflight(runs: Mapping[str, Mapping[str, Any]], tasks: Mapping[str, Task],
              origins: Mapping[str, str] | None = None) -> int:
    """Checks every task of ``runs`` with each of its distinct parameter sets.

    Args:
        runs: Run id -> resolved configuration (``Suite.runs``).
        tasks: Task name -> task object.
        origins: Task name -> where it came from, for the message (e.g.
            :meth:`suite.registry.Origin.describe`); default None: not shown.

    Returns:
        How many (task, parameters) pairs were checked.

    Raises:
        SuiteError: ``task 'NAME' (ORIGIN): what is wrong`` for the first fault.
    """
    pairs: Iterable[tuple[str, dict[str, Any]]] = distinct_params(runs)
    count = 0
    for name, params in pairs:
        try:
            check_task_data(tasks[name], params)
        except Fault as fault:
            where = f" ({origins[name]})" if origins and name in origins else ""
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
            raise SuiteError(f"task '{name}'{where}: {fault} [parameters: {shown}]") from None
        count += 1
    return count
