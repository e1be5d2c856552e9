"""The claim spec: checking a study's ``[[study.claim]]`` tables (format: docs "Claims").

:func:`parse_claim` checks one claim of a suite file and returns it in the form
the manifest stores and :mod:`suite.claims` evaluates: its metric (one of
:data:`CLAIM_METRICS`), operator, value or ``than`` selection, factor and how
it combines seeds.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from suite.api import SuiteError, Task
from suite.axes import _flatten, _table, check_key

#: Comparison operators of a claim.
CLAIM_OPS = ("<", "<=", ">", ">=", "==", "!=")
#: How a claim combines the seeds of its runs.
CLAIM_OVER = ("all", "any", "median")
#: Numeric claim metrics: summary.csv columns, plus ``steps_to_threshold`` (first evaluation
#: step at or below 0.1 x chance), ``steps_to_threshold_batch_stats`` (the same with BatchNorm's
#: batch statistics) and ``steps_to_solved`` (first at or below the task's solved level).
CLAIM_NUMBERS = ("final_val_loss", "loss_vs_chance", "val_loss_batch_stats", "final_metric",
                 "context_gain", "chance_loss", "steps_done", "diverged_step", "max_grad_norm",
                 "clip_rate", "wall_s", "rho", "reach", "rho_init", "reach_init", "lyapunov_init",
                 "kernel_sigma_max", "steps_to_threshold", "steps_to_threshold_batch_stats",
                 "steps_to_solved")
#: Text claim metrics (compared with ``==`` or ``!=``) and the true/false one (``solved``).
CLAIM_TEXTS = ("status", "diagnosis")
CLAIM_METRICS = CLAIM_NUMBERS + CLAIM_TEXTS + ("solved",)
_CLAIM_KEYS = ("text", "source", "tasks", "where", "metric", "op", "value", "than", "factor", "over")


def _text(claim: Mapping[str, Any], key: str, cw: str) -> str:
    value = claim.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SuiteError(f"{cw}: '{key}' must be a non-empty string"
                         + (" (every claim cites its source)" if key == "source" else ""))
    return value.strip()


def _selection(claim: Mapping[str, Any], key: str, cw: str, ctasks: list[str],
               tasks: Mapping[str, Task]) -> dict[str, Any]:
    """A claim's ``where`` or ``than`` table, flattened to ``axis``/``TASK.PARAM`` keys and checked."""
    table = _flatten(_table(claim, key, cw), cw, tasks)
    for k, v in table.items():
        check_key(k, v, f"{cw} {key}", tasks)
        if "." in k and k.split(".", 1)[0] not in ctasks:
            raise SuiteError(f"{cw} {key}: key '{k}' is for a task this claim does not cover "
                             f"(its tasks: {', '.join(ctasks)})")
    return table


def _claim_value(value: Any, metric: str, op: str, cw: str) -> Any:
    """Checks a claim's ``value`` against its metric and operator."""
    if metric in CLAIM_NUMBERS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SuiteError(f"{cw}: 'value' must be a finite number for metric '{metric}', "
                             f"got {value!r}")
        return float(value)
    if op not in ("==", "!="):
        raise SuiteError(f"{cw}: 'op' must be '==' or '!=' for metric '{metric}', got '{op}'")
    if metric == "solved":
        if not isinstance(value, bool):
            raise SuiteError(f"{cw}: 'value' must be true or false for metric 'solved', got {value!r}")
    elif not isinstance(value, str) or (metric == "status" and value not in ("ok", "diverged", "failed")):
        expected = "one of ok, diverged, failed" if metric == "status" else "a string"
        raise SuiteError(f"{cw}: 'value' must be {expected} for metric '{metric}', got {value!r}")
    return value


def parse_claim(claim: Any, cw: str, study: str, index: int, study_tasks: list[str],
                tasks: Mapping[str, Task]) -> dict[str, Any]:
    """Checks one ``[[study.claim]]`` table (format: docs/suite-files.md "Claims").

    Args:
        claim: The parsed TOML table.
        cw: Prefix of error messages (file, study and claim number).
        study: The study's name; the claim's id is ``STUDY#INDEX``.
        index: The claim's 1-based position in its study.
        study_tasks: The study's tasks (the default of ``tasks``).
        tasks: Discovered tasks.

    Returns:
        ``{"id", "text", "source", "tasks", "where", "metric", "op", "value",
        "than", "factor", "over"}``: ``where``/``than`` flattened to axis and
        ``TASK.PARAM`` keys; ``value`` None when ``than`` is given and ``than``
        None otherwise; ``factor`` 1.0 unless given; ``over`` ``"all"`` unless given.

    Raises:
        SuiteError: naming the claim and the key for any problem.
    """
    if not isinstance(claim, dict):
        raise SuiteError(f"{cw}: must be a table")
    for key in claim:
        if key not in _CLAIM_KEYS:
            raise SuiteError(f"{cw}: unknown key '{key}'; allowed: {', '.join(_CLAIM_KEYS)}")
    text, source = _text(claim, "text", cw), _text(claim, "source", cw)
    ctasks = claim.get("tasks", study_tasks)
    if (not isinstance(ctasks, list) or not ctasks
            or any(t not in study_tasks for t in ctasks)):
        raise SuiteError(f"{cw}: 'tasks' must be a non-empty list of the study's tasks "
                         f"({', '.join(study_tasks)}), got {ctasks!r}")
    metric, op, over = claim.get("metric"), claim.get("op"), claim.get("over", "all")
    if metric not in CLAIM_METRICS:
        raise SuiteError(f"{cw}: unknown metric {metric!r}; allowed: {', '.join(CLAIM_METRICS)}")
    if op not in CLAIM_OPS:
        raise SuiteError(f"{cw}: unknown op {op!r}; allowed: {', '.join(CLAIM_OPS)}")
    if over not in CLAIM_OVER or (over == "median" and metric not in CLAIM_NUMBERS):
        raise SuiteError(f"{cw}: 'over' must be one of {', '.join(CLAIM_OVER)} (median only for "
                         f"a numeric metric), got {over!r}")
    if ("value" in claim) == ("than" in claim):
        raise SuiteError(f"{cw}: give exactly one of 'value' and 'than'")
    if "factor" in claim and "than" not in claim:
        raise SuiteError(f"{cw}: 'factor' needs 'than'")
    if "than" in claim and metric not in CLAIM_NUMBERS:
        raise SuiteError(f"{cw}: 'than' needs a numeric metric, not '{metric}'")
    factor = claim.get("factor", 1.0)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (
            math.isfinite(factor) and factor > 0):
        raise SuiteError(f"{cw}: 'factor' must be a finite number > 0, got {factor!r}")
    return {"id": f"{study}#{index}", "text": text, "source": source, "tasks": list(ctasks),
            "where": _selection(claim, "where", cw, ctasks, tasks), "metric": metric, "op": op,
            "value": _claim_value(claim["value"], metric, op, cw) if "value" in claim else None,
            "than": _selection(claim, "than", cw, ctasks, tasks) if "than" in claim else None,
            "factor": float(factor), "over": over}
