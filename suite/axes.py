"""Run axes: every setting of a run, its default and its check; the resolved run configuration.

:data:`AXES` is the one table of run axes (an :class:`Axis` each: default, validity
check, help); a new axis is one entry there, and suite files, ``--set``/``--only``,
the manifest, ``summary.csv`` and the report pick it up from the table.
:func:`check_key` checks an axis or ``TASK.PARAM`` key with its value, and
:func:`resolve` is the one constructor of a run's resolved configuration: each
axis of :data:`AXES`, plus ``task``, ``task_params`` and ``seed``. Its id is a
stable hash of that configuration and the task version (:mod:`suite.ids`).
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Callable, Mapping

from suite.api import SuiteError, Task

CELLS = ("simple_rnn", "lstm", "gru")
#: Weight blocks (gates) in each cell's kernels.
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
ACTIVATIONS = ("tanh", "relu", "linear")
BATCHNORM = ("none", "input", "output", "recurrent", "recurrent_sum")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
_INIT_RE = re.compile(r"^(default|glorot_uniform|zeros)$|^(orthogonal|identity)(:(\d+(\.\d*)?|\.\d+))?$"
                      r"|^normal:(\d+(\.\d*)?|\.\d+)$")  # normal has no default gain
#: The largest seed: the generators (NumPy's SeedSequence words, Keras' seeds) take 32 bits, so a
#: larger one would share its data with its low 32 bits (``seeded_rng``).
MAX_SEED = 2**32 - 1


def _int(minimum: int) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            return f"an integer >= {minimum}"
        return None
    return check


def _float(minimum: float, strict: bool) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        bad = isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
        if bad or (v <= minimum if strict else v < minimum):
            return f"a finite number {'>' if strict else '>='} {minimum:g}"
        return None
    return check


def _choice(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda v: None if v in options else "one of " + ", ".join(options)


def _initializer(v: Any) -> str | None:
    if isinstance(v, str) and _INIT_RE.match(v):
        return None
    return ("a preset: default, glorot_uniform, zeros, orthogonal[:GAIN], identity[:GAIN], "
            "normal:GAIN (std GAIN/sqrt(fan_in))")


@dataclasses.dataclass(frozen=True)
class Axis:
    """One run axis: its default and its validity check (returns what is expected)."""

    default: Any
    check: Callable[[Any], str | None]
    help: str


#: Every run axis, its default, and what it means. Names follow Keras.
AXES: dict[str, Axis] = {
    "steps": Axis(2000, _int(1), "optimizer steps"),
    "batch_size": Axis(64, _int(1), "examples per step"),
    "eval_every": Axis(100, _int(1), "steps between validation evaluations"),
    "eval_size": Axis(512, _int(1), "validation examples"),
    "probe_every": Axis(100, _int(0), "steps between gradient-health probes (0: off)"),
    "cell": Axis("lstm", _choice(CELLS), "recurrent cell"),
    "activation": Axis("tanh", _choice(ACTIVATIONS), "simple_rnn activation (relu + identity = IRNN)"),
    "hidden": Axis(64, _int(1), "units per recurrent layer"),
    "depth": Axis(1, _int(1), "stacked recurrent layers"),
    "recurrent_initializer": Axis("default", _initializer, "recurrent kernel preset"),
    "kernel_initializer": Axis("default", _initializer, "input kernel preset"),
    "batchnorm": Axis("none", _choice(BATCHNORM),
                      "BatchNorm placement (recurrent_sum: one BN over W_h h + W_x x, simple_rnn)"),
    "bn_gamma": Axis(0.1, _float(0.0, True),
                     "initial gamma of recurrent BatchNorm (Cooijmans et al. 2016: 0.1)"),
    "optimizer": Axis("adam", _choice(OPTIMIZERS), "optimizer"),
    "learning_rate": Axis(1e-3, _float(0.0, True), "learning rate"),
    "clipnorm": Axis(0.0, _float(0.0, False), "per-variable clip norm (0: off)"),
    "global_clipnorm": Axis(0.0, _float(0.0, False), "global clip norm, Pascanu et al. (0: off)"),
    "clipvalue": Axis(0.0, _float(0.0, False), "element-wise clip of every gradient entry (0: off)"),
    "xla": Axis("auto", lambda v: None if v is True or v is False or v == "auto"
                else 'true, false or "auto"',
                "compile the step, evaluation and probes with XLA (auto: suite.model.xla's rule)"),
}
RUN_KEYS = ("task", "seed", *AXES)


def _flatten(table: Mapping[str, Any], where: str, tasks: Mapping[str, Task]) -> dict[str, Any]:
    """Turns ``{adding = {seq_len = 5}}`` into ``{"adding.seq_len": 5}``."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and key in tasks:
            for sub, v in value.items():
                out[f"{key}.{sub}"] = v
        else:
            out[key] = value
    return out


def check_key(key: str, value: Any, where: str, tasks: Mapping[str, Task]) -> None:
    """Raises SuiteError if ``key`` is not an axis or ``TASK.param``, or ``value`` is wrong."""
    if "." in key:
        tname, param = key.split(".", 1)
        if tname not in tasks:
            raise SuiteError(f"{where}: unknown task '{tname}' in key '{key}'; "
                             f"known tasks: {', '.join(tasks)}")
        if param not in tasks[tname].params:
            raise SuiteError(f"{where}: task '{tname}' has no parameter '{param}'; "
                             f"its parameters: {', '.join(tasks[tname].params)}")
        default = tasks[tname].params[param]
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SuiteError(f"{where}: '{key}' must be a number, got {value!r}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise SuiteError(f"{where}: '{key}' must be a string, got {value!r}")
        return
    if key not in AXES:
        raise SuiteError(f"{where}: unknown key '{key}'; allowed: {', '.join(AXES)} "
                         f"or TASK.PARAM")
    expected = AXES[key].check(value)
    if expected:
        raise SuiteError(f"{where}: '{key}' must be {expected}, got {value!r}")


def _table(doc: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise SuiteError(f"{where}: '{key}' must be a table")
    return value


def resolve(task: Task, *, seed: int = 0, task_params: Mapping[str, Any] | None = None,
            where: str = "resolve()", **axes: Any) -> dict[str, Any]:
    """The one constructor of a resolved run configuration, validated like a suite file.

    Every axis of :data:`AXES` takes its default unless given; the task's
    parameters start from ``task.params`` and are overridden by ``task_params``
    and then by ``TASK.PARAM`` keys (``**{"adding.seq_len": 50}``). The
    configuration's :func:`suite.ids.run_id` depends only on the values, so the
    same run resolved here or by :func:`load_suite` has the same id.

    Args:
        task: The task (e.g. ``discover()["adding"]``).
        seed: The run seed (default 0; an integer >= 0).
        task_params: Task parameters to override (default: none, the task's defaults).
        where: Prefix of error messages (default ``"resolve()"``).
        **axes: Run axes (names of :data:`AXES`) and ``TASK.PARAM`` keys of this task.

    Returns:
        ``{"task", "task_params", "seed", *AXES}``; ``learning_rate``, the clip
        norms and ``bn_gamma`` as floats.

    Raises:
        SuiteError: naming the key for an unknown axis or parameter, a bad value,
            both clip norms set, a key of another task, or parameters the task rejects.
    """
    known = {task.name: task}
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise SuiteError(f"{where}: 'seed' must be an integer in [0, {MAX_SEED}], got {seed!r}")
    cfg: dict[str, Any] = {k: a.default for k, a in AXES.items()}
    params = dict(task.params)
    given = {f"{task.name}.{k}": v for k, v in (task_params or {}).items()}
    for key, value in {**given, **axes}.items():
        if "." in key and key.split(".", 1)[0] != task.name:
            raise SuiteError(f"{where}: key '{key}' is for another task than '{task.name}'")
        check_key(key, value, where, known)
        if "." in key:
            params[key.split(".", 1)[1]] = value
        else:
            cfg[key] = value
    for k in ("learning_rate", "clipnorm", "global_clipnorm", "clipvalue", "bn_gamma"):
        cfg[k] = float(cfg[k])
    clips = [k for k in ("clipnorm", "global_clipnorm", "clipvalue") if cfg[k] > 0]
    if len(clips) > 1:
        raise SuiteError(f"{where}: set one of clipnorm (per variable), global_clipnorm (global) "
                         f"and clipvalue (element-wise), not {'both' if len(clips) == 2 else 'all three'}"
                         " (got " + ", ".join(f"{k} = {cfg[k]:g}" for k in clips) + ")")
    if cfg["batchnorm"] == "recurrent_sum" and cfg["cell"] != "simple_rnn":
        raise SuiteError(f"{where}: batchnorm 'recurrent_sum' (one BN over the summed "
                         f"pre-activation) needs cell 'simple_rnn', got '{cfg['cell']}'")
    try:
        task.validate(params)
    except SuiteError as err:
        raise SuiteError(f"{where}: {err}") from None
    return {"task": task.name, "task_params": params, "seed": seed, **cfg}
