"""Tables behind the report: one row per run, leaderboards, outcome matrices.

Pure pandas over stored records (no TensorFlow). A configuration is a
``config_id`` (the run id without the seed): a leaderboard row, an interval
and a figure line are the seeds of one resolved configuration, so an edited
suite rerun into the same directory gets rows of its own, labelled by the
axes that differ (:func:`run_table`). Intervals over seeds are
Student-t 95% intervals of the mean (``mean ± t_{0.975, n-1} · s / sqrt(n)``),
except for the validation loss, which cannot go below zero: its interval is
the same on the log scale (:func:`log_ci`: geometric mean, always positive).
With one seed there is no interval. "Steps to threshold" is the first
evaluation step at which the validation loss is at or below
``fraction × chance loss`` (default fraction :data:`THRESHOLD`). A run is
"solved" when it finished ok at or below its task's solved level
(:func:`suite.claims.solved`); "steps to solved" counts unsolved runs as not
reached.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Iterable, Mapping

import matplotlib
import numpy as np
import pandas as pd

from suite.health.diagnosis import over_seeds
from suite.ids import config_id
from suite.runs import (
    THRESHOLD,
    applies,
    fmt,
    label,
    label_value,
    short_label,
    solved,
    steps_to_threshold,
    studies_of,
    summary_row,
    telling_apart,
    value_of,
)
from suite.runs import flat_config as runs_flat_config
from suite.store.schema import Manifest, RunRecord

#: Two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..30.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (1.96 beyond 30)."""
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_ci(values: Iterable[float | None]) -> tuple[float | None, float | None, float | None, int]:
    """Mean and Student-t 95% interval of the finite values.

    Returns:
        ``(mean, low, high, n)``; low/high are None when n < 2, everything is
        None when n == 0.
    """
    arr = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(arr)
    if n == 0:
        return None, None, None, 0
    mean = float(arr.mean())
    if n < 2:
        return mean, None, None, 1
    half = t975(n - 1) * float(arr.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


def log_ci(values: Iterable[float | None]) -> tuple[float | None, float | None, float | None, int]:
    """Geometric mean and 95% interval on the log scale of positive values (e.g. losses).

    A Student-t interval of the mean of ``log(v)``, mapped back with ``exp``:
    ``exp(m ± t_{0.975, n-1} · s / sqrt(n))`` around the geometric mean
    ``exp(m)``, so it stays above zero and is wider upwards. If a value is 0,
    the log scale is impossible: :func:`mean_ci` with the low end raised to 0.

    Returns:
        ``(centre, low, high, n)`` over the finite values; low/high None when
        n < 2, everything None when n == 0.
    """
    arr = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(arr) == 0 or (arr < 0).any():
        return mean_ci(arr.tolist())
    if (arr == 0).any():
        mean, lo, hi, n = mean_ci(arr.tolist())
        return mean, (None if lo is None else max(lo, 0.0)), hi, n
    centre, lo, hi, n = mean_ci(np.log(arr).tolist())
    if centre is None or lo is None or hi is None:
        return (None if centre is None else _exp(centre)), None, None, n
    return _exp(centre), _exp(lo), _exp(hi), n


def _exp(v: float) -> float:
    """``exp(v)``, inf where it overflows (a loss near 1e308: issue 19)."""
    return math.exp(v) if v < 709.0 else math.inf


def axis_value(cfg: dict[str, Any], key: str) -> Any:
    """A run axis (``cell``) or task parameter (``adding.seq_len``) of a resolved config
    (:func:`suite.runs.value_of`: :data:`suite.runs.ABSENT` for another task's parameter)."""
    return value_of(cfg, key)


def fmt_value(value: Any) -> str:
    """An axis value as labels show it (:func:`suite.runs.label_value`)."""
    return label_value(value)


def config_label(cfg: dict[str, Any], varying: list[str]) -> str:
    """Label of a configuration by the axes its study varies (or the cell): :func:`suite.runs.label`."""
    return label(cfg, varying)


def record_config_id(rec: Mapping[str, Any]) -> str:
    """The configuration a run belongs to over seeds: its ``config_id`` (computed if absent)."""
    return rec.get("config_id") or config_id(rec["config"], rec.get("task_version"))


def flat_config(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A record's resolved config as ``axis -> value`` (:func:`suite.runs.flat_config`) and its
    task version."""
    return {**runs_flat_config(rec["config"]), "task version": rec.get("task_version")}


def _disambiguate(rows: list[dict[str, Any]], flats: dict[str, dict[str, Any]]) -> None:
    """Sets ``extra`` on rows whose (study, task, label) is shared by several configurations.

    ``extra`` names the axes that tell them apart (e.g. ``steps=300``) and is
    appended to ``label`` and ``short``, so that each configuration has its
    own leaderboard row, interval and figure line with a label of its own.
    """
    groups: dict[tuple, list[str]] = {}
    for row in rows:
        ids = groups.setdefault((row["study"], row["task"], row["label"]), [])
        if row["config_id"] not in ids:
            ids.append(row["config_id"])
    extra: dict[tuple, str] = {}
    for (study, _task, _label), ids in groups.items():
        if len(ids) < 2:
            continue
        for cid, text in telling_apart({c: flats[c] for c in ids}).items():
            extra[(study, cid)] = text or f"config {cid[:6]}"
    for row in rows:
        row["extra"] = extra.get((row["study"], row["config_id"]), "")
        if row["extra"]:
            row["label"] += f", {row['extra']}"
            row["short"] += f", {row['extra']}"


def run_table(records: Mapping[str, RunRecord], manifest: Manifest,
              fraction: float = THRESHOLD) -> pd.DataFrame:
    """One row per (study, stored run): summary columns, label, axis values, steps to threshold.

    ``config_id`` names the run's configuration over seeds (the unit of a
    leaderboard row and a figure line); ``label``/``short`` name it by the axes
    the study varies, plus ``extra`` (the axes that differ) where several
    configurations of a study and task share those values, e.g. after an
    edited suite was rerun into the same directory.
    """
    membership = studies_of(manifest)
    levels = manifest.get("solved_levels") or {}
    rows, flats = [], {}
    for study in manifest["studies"]:
        varying = study.get("varying", [])
        for rid in study["run_ids"]:
            rec = records.get(rid)
            if rec is None:
                continue
            row = summary_row(rec, membership.get(rid, []))
            # the steps the run unrolls (copy memory: its delay + 20), for "T=" labels
            row["T"] = rec.get("sequence_length") or row["seq_len"]
            cid = record_config_id(rec)
            if cid not in flats:
                flats[cid] = flat_config(rec)
            row.update(study=study["name"], config_id=cid, label=label(rec["config"], varying),
                       short=short_label(rec["config"], varying),
                       reason=(rec.get("health") or {}).get("reason", ""),
                       steps_to_threshold=steps_to_threshold(rec.get("evals", []),
                                                             rec.get("chance_loss"), fraction))
            row["solved"], row["steps_to_solved"] = solved(rec, levels.get(rid))
            row["solved_level"] = levels.get(rid)
            for key in varying:  # None where the key is another task's parameter
                row[f"axis:{key}"] = (axis_value(rec["config"], key) if applies(key, rec["task"])
                                      else None)
            rows.append(row)
    _disambiguate(rows, flats)
    return pd.DataFrame(rows)


def _mode(values: Iterable[Any]) -> str:
    """The most common non-empty string (ties: the first seen; "" for none)."""
    vals = [v for v in values if isinstance(v, str) and v]
    return Counter(vals).most_common(1)[0][0] if vals else ""


def _diagnosis(grp: pd.DataFrame) -> dict[str, str]:
    """``diagnosis``: the seeds' labels counted (:func:`suite.health.diagnosis.over_seeds`,
    "vanishing 2/2" or "mixed: vanishing 1, healthy 1"); ``diagnosis_class``: the
    label when all seeds agree, else ``mixed``."""
    if "diagnosis" not in grp:
        return {"diagnosis": "", "diagnosis_class": ""}
    text, cls = over_seeds(v if isinstance(v, str) else None for v in grp["diagnosis"])
    return {"diagnosis": text, "diagnosis_class": cls}


def leaderboard(runs: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per (study, task, configuration), in study order, best loss first.

    A configuration is a ``config_id``: the runs of one resolved configuration
    over seeds, never runs that only share a label. Each entry has ``n`` (seeds), ``ok``/``diverged``/``failed`` counts,
    ``loss``/``metric`` as ``(mean, low, high, n)`` over the runs that ended
    with a value, ``loss_vs_chance`` (mean), ``steps`` (median steps to
    threshold over the runs that reached it) with ``reached``, ``solved`` (runs
    solved, None without a solved level) and ``solved_steps`` (median steps to
    solved over the solved runs), the diagnosis counted over seeds (:func:`_diagnosis`),
    and ``run_ids``.
    ``loss`` is :func:`log_ci` (geometric mean), ``metric`` :func:`mean_ci`.
    """
    if runs.empty:
        return []
    out = []
    for (study, task, cid), grp in runs.groupby(["study", "task", "config_id"], sort=False):
        reached = grp["steps_to_threshold"].dropna()
        status = grp["status"].value_counts()
        lvc = [v for v in grp["loss_vs_chance"] if v is not None and math.isfinite(v)]
        out.append({
            "study": study, "task": task, "config_id": cid, "label": grp["label"].iloc[0],
            "seq_len": grp["seq_len"].iloc[0], "T": grp["T"].iloc[0],
            "n": len(grp), "ok": int(status.get("ok", 0)),
            "diverged": int(status.get("diverged", 0)), "failed": int(status.get("failed", 0)),
            "loss": log_ci(grp["final_val_loss"]), "metric": mean_ci(grp["final_metric"]),
            **_solved_stats(grp),
            "metric_name": _mode(grp["metric"]), "chance": grp["chance_loss"].iloc[0],
            "loss_vs_chance": float(np.mean(lvc)) if lvc else None,
            "steps": float(reached.median()) if len(reached) else None, "reached": len(reached),
            **_diagnosis(grp),
            "run_ids": list(grp["run_id"]),
        })
    order = {name: i for i, name in enumerate(dict.fromkeys(runs["study"]))}
    out.sort(key=lambda e: (order[e["study"]], e["task"],
                            math.inf if e["loss_vs_chance"] is None else e["loss_vs_chance"]))
    return out


def _solved_stats(grp: pd.DataFrame) -> dict[str, Any]:
    """``solved`` (count of solved runs, None without a level) and ``solved_steps`` (median)."""
    if "solved" not in grp or grp["solved"].isna().all():
        return {"solved": None, "solved_steps": None}
    steps = grp["steps_to_solved"].dropna()
    return {"solved": int((grp["solved"] == True).sum()),  # noqa: E712 - object column
            "solved_steps": float(steps.median()) if len(steps) else None}


#: The solved level, as a fraction of the chance loss, of a task that declares none (the
#: steps-to-threshold level): where the outcome colour turns fully green.
DEFAULT_SOLVED_FRACTION = 0.1


def outcome_colour(lvc: float | None, solved: float | None = None) -> str:
    """Background colour for loss/chance on the task's own scale, the same meaning on every task:
    red at chance or worse (1), green at and beyond the task's solved level ``solved`` (a
    fraction of chance; default :data:`DEFAULT_SOLVED_FRACTION`), yellow halfway on a log scale.
    So a language model at 0.65 of its unigram baseline with a bigram solved level of 0.8 is
    green, and an adding run at 0.3 of chance (solved at 0.1) is yellow-orange."""
    if lvc is None:
        return "#d9d9d9"
    level = solved if solved is not None and 0 < solved < 1 else DEFAULT_SOLVED_FRACTION
    x = 1 - min(max(math.log(max(lvc, 1e-300)) / math.log(level), 0.0), 1.0)  # level -> 0, 1 -> 1
    r, g, b, _ = matplotlib.colormaps["RdYlGn_r"](x)
    return matplotlib.colors.to_hex((0.45 + 0.55 * r, 0.45 + 0.55 * g, 0.45 + 0.55 * b))  # pastel


def _solved_fraction(row: Mapping[str, Any]) -> float | None:
    """A run-table row's solved level as a fraction of its chance loss (None if unknown)."""
    level, chance = row.get("solved_level"), row.get("chance_loss")
    if not (isinstance(level, (int, float)) and isinstance(chance, (int, float))):
        return None
    if not (math.isfinite(level) and math.isfinite(chance) and level > 0 and chance > 0):
        return None
    return float(level) / float(chance)


def outcome_matrix(board: list[dict[str, Any]], study: dict[str, Any],
                   runs: pd.DataFrame) -> dict[str, Any] | None:
    """Mean loss/chance over the study's axes: rows = task (x first axes), columns = last axis.

    The axes of a row are those of the study that apply to its task: in a study
    over ``adding.seq_len`` and ``copy_memory.seq_len``, adding rows are spread
    over columns by ``adding.seq_len`` and copy-memory rows by
    ``copy_memory.seq_len`` (``column_axis`` names both).

    Returns:
        ``{"column_axis", "columns": [...], "rows": [{"label", "cells": [{"text", "colour"}]}]}``
        or None for a study without runs.
    """
    varying = study.get("varying", [])
    entries = [e for e in board if e["study"] == study["name"]]
    sub = runs[runs["study"] == study["name"]] if not runs.empty else runs
    if not entries or sub.empty:
        return None
    by_config = {e["config_id"]: e for e in entries}
    columns: list[str] = []
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    col_keys: list[str] = []
    scale: dict[str, float | None] = {}  # config_id -> its task's solved level / chance
    for r in sub.to_dict("records"):
        mine = [k for k in varying if applies(k, r["task"])]
        col_key = mine[-1] if mine else None
        col = fmt_value(r[f"axis:{col_key}"]) if col_key else "all"
        row = " · ".join([f"{r['task']} (T={r['T']})"]
                         + [f"{k}={fmt_value(r[f'axis:{k}'])}" for k in mine[:-1]]
                         + ([r["extra"]] if r["extra"] else []))
        if col not in columns:
            columns.append(col)
        if col_key and col_key not in col_keys:
            col_keys.append(col_key)
        rows.setdefault(row, {})[col] = by_config[r["config_id"]]
        scale[r["config_id"]] = _solved_fraction(r)
    table = []
    for row, cells in rows.items():
        line = []
        for col in columns:
            e = cells.get(col)
            lvc = e["loss_vs_chance"] if e else None
            text = "–" if e is None else (fmt(lvc, 3) if lvc is not None else
                                         f"{e['diverged']} diverged" if e["diverged"] else "no result")
            line.append({"text": text, "colour": outcome_colour(lvc, scale.get(e["config_id"]) if e else None)})
        table.append({"label": row, "cells": line})
    return {"column_axis": " / ".join(col_keys), "columns": columns, "rows": table}
