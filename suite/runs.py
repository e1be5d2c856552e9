"""What a run *is* to a reader: selection, labels, number format, derived metrics, summary row.

The one definition, over stored data only (no TensorFlow, no pandas), used by
``--only`` (:mod:`suite.suite_file`), claims, the report's tables, figures and
pages, ``compare`` and the TensorBoard export:

* **Selection** (:func:`matches`): a run has every ``axis``/``TASK.PARAM``
  value of a ``where`` table. A ``TASK.PARAM`` key is scoped to its task: a
  run of another task has no such value (:data:`ABSENT`) and matches nothing.
  A boolean equals only the same boolean; other numbers compare as numbers;
  anything else compares as text.
* **Labels** (:func:`label`, :func:`short_label`): a configuration named by the
  axes its study varies that apply to its task (or its cell): a ``TASK.PARAM``
  axis of another task is left out. A run's one-line title for ``--dry-run`` and
  progress (:func:`title`) adds the task, length, seed and the settings that are on.
* **Number format** (:func:`fmt`): one rule for every number shown to a reader.
* **Steps to a threshold** (:func:`first_step_at_or_below`,
  :func:`steps_to_threshold`), **solved** (:func:`solved`), **context gain**
  (:func:`context_gain`) and every claim metric of a run (:func:`run_values`).
* **The summary row** (:func:`summary_row`) and ``summary.csv``'s columns
  (:func:`summary_columns`): the run's identity, *every* axis of its resolved
  config (in the config's order, so an axis added to the suite is a column
  without editing a list here), then the results.
"""
from __future__ import annotations

import csv
import io
import math
from typing import Any, Iterable, Mapping

#: Default steps-to-threshold level as a fraction of the chance loss (claims and report).
THRESHOLD = 0.1

#: The "short context" of :func:`context_gain`: this many inputs.
SHORT_CONTEXT = 5

#: Significant digits of a float in a label (enough to tell configured values apart).
LABEL_DIGITS = 6


class _Absent:
    """The value of a ``TASK.PARAM`` key for a run of another task: it matches nothing."""

    def __repr__(self) -> str:
        return "ABSENT"

    def __reduce__(self) -> str:
        return "ABSENT"  # unpickled as this module's ABSENT (the report's worker processes)


#: What :func:`value_of` returns for a ``TASK.PARAM`` key of another task.
ABSENT: Any = _Absent()


# ---------------------------------------------------------------------------------------- selection

def applies(key: str, task: str) -> bool:
    """Whether an ``axis``/``TASK.PARAM`` key applies to runs of ``task`` (a run axis always does)."""
    return "." not in key or key.split(".", 1)[0] == task


def value_of(cfg: Mapping[str, Any], key: str) -> Any:
    """A run axis (``cell``) or task parameter (``adding.seq_len``) of a resolved config.

    Returns:
        The value; None for an axis the config lacks; :data:`ABSENT` for a
        ``TASK.PARAM`` key of another task than the run's.
    """
    if "." in key:
        return cfg["task_params"].get(key.split(".", 1)[1]) if applies(key, cfg["task"]) else ABSENT
    return cfg.get(key)


def same_value(have: Any, want: Any) -> bool:
    """Whether a run's value equals a wanted one (one rule for ``--only``, ``where`` and ``than``).

    A boolean equals only the same boolean (``True`` is not ``1``); other
    numbers compare as numbers (``1`` is ``1.0``); anything else as text.
    :data:`ABSENT` equals nothing.
    """
    if have is ABSENT:
        return False
    if isinstance(have, bool) or isinstance(want, bool):
        return isinstance(have, bool) and isinstance(want, bool) and have == want
    if isinstance(have, (int, float)) and isinstance(want, (int, float)):
        return float(have) == float(want)
    return str(have) == str(want)


def matches(cfg: Mapping[str, Any], where: Mapping[str, Any], study: str | None = None) -> bool:
    """Whether a resolved config has every ``axis``/``TASK.PARAM`` value of ``where``.

    Args:
        cfg: A resolved run config.
        where: Wanted values; a ``study`` key (``--only study=NAME``) compares
            with ``study``.
        study: The study the run is selected in (for a ``study`` key).
    """
    for key, want in where.items():
        have = study if key == "study" else value_of(cfg, key)
        if not same_value(have, want):
            return False
    return True


# ---------------------------------------------------------------------------------- format, labels

def fmt(value: Any, digits: int = 4, missing: str = "missing") -> str:
    """The one number format of everything a reader sees.

    A float to ``digits`` significant digits (``%g``: no trailing zeros,
    exponent for very small or large values); a boolean ``true``/``false``;
    ``missing`` for None, :data:`ABSENT` and non-finite floats; anything else
    as ``str``.
    """
    if value is None or value is ABSENT or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def label_value(value: Any) -> str:
    """An axis value as a label shows it (:func:`fmt` with :data:`LABEL_DIGITS`)."""
    return fmt(value, LABEL_DIGITS)


def label_keys(varying: Iterable[str] | None, task: str) -> list[str]:
    """The axes a label of a ``task`` run names: those the study varies that apply to the task
    (not another task's ``TASK.PARAM``), else the cell."""
    return [k for k in varying or [] if applies(k, task)] or ["cell"]


def label(cfg: Mapping[str, Any], varying: Iterable[str] | None) -> str:
    """``cell=gru, adding.seq_len=100``: a configuration by the axes its study varies.

    In a study over ``adding.seq_len`` and ``copy_memory.seq_len``, an adding run
    is labelled by ``adding.seq_len`` only (:func:`label_keys`).
    """
    return ", ".join(f"{k}={label_value(value_of(cfg, k))}" for k in label_keys(varying, cfg["task"]))


def short_label(cfg: Mapping[str, Any], varying: Iterable[str] | None) -> str:
    """``gru, 100``: :func:`label` without the axis names."""
    return ", ".join(label_value(value_of(cfg, k)) for k in label_keys(varying, cfg["task"]))


#: Axes a run's title always shows when set (:func:`title`), besides task, length, cell and seed.
_TITLE_AXES = ("recurrent_initializer", "batchnorm", "clipnorm", "global_clipnorm", "clipvalue")


def title(cfg: Mapping[str, Any], length: int | None = None,
          varying: Iterable[str] | None = None) -> str:
    """A run in one line, for ``--dry-run`` and progress: ``adding T=100 lstm seed=0``.

    Task, the steps it unrolls (``T=``), cell, a non-tanh activation, a non-default
    initializer or BatchNorm (with its gamma), every clipping that is on, then every other
    axis its studies vary (:func:`label_keys`; e.g. ``impulse.drive=1``, or
    ``batchnorm=none`` in a study over BatchNorm), then the seed.
    :meth:`suite.suite_file.Suite.titles` adds what still tells runs of one suite apart.

    Args:
        cfg: The resolved run configuration.
        length: Steps the run unrolls (``Suite.lengths[run_id]``); None: no ``T=``.
        varying: The axes the run's studies vary (default none).
    """
    bits = [cfg["task"], *([f"T={length}"] if length is not None else []), cfg["cell"]]
    shown = {"task", "cell", "seed", *([f"{cfg['task']}.seq_len"] if length is not None else [])}
    if cfg["cell"] == "simple_rnn" and cfg.get("activation", "tanh") != "tanh":
        bits.append(str(cfg["activation"]))
        shown.add("activation")
    for key in _TITLE_AXES:
        value = cfg.get(key)
        if value in (None, "default", "none") or (not isinstance(value, str) and value <= 0):
            continue
        bits.append(f"{key}={label_value(value)}")
        shown.add(key)
        if key == "batchnorm" and str(value).startswith("recurrent") and "bn_gamma" in cfg:
            bits.append(f"bn_gamma={label_value(cfg['bn_gamma'])}")
            shown.add("bn_gamma")
    for key in label_keys(varying, cfg["task"]):
        if key not in shown:
            bits.append(f"{key}={label_value(value_of(cfg, key))}")
            shown.add(key)
    bits.append(f"seed={cfg['seed']}")
    return " ".join(bits)


def flat_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A resolved config as ``axis -> value``, task parameters as ``TASK.PARAM`` (no seed)."""
    flat = {k: v for k, v in cfg.items() if k not in ("seed", "task_params")}
    flat.update({f"{cfg['task']}.{k}": v for k, v in cfg["task_params"].items()})
    return flat


def distinguishing_axes(configs: list[dict[str, Any]]) -> list[str]:
    """Axes whose values differ between flat configs (in the order they first appear)."""
    keys = list(dict.fromkeys(k for c in configs for k in c))
    return [k for k in keys if len({repr(c.get(k)) for c in configs}) > 1]


def telling_apart(flats: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """For configurations that share a label, by id: ``steps=300, hidden=64``, the
    :func:`distinguishing_axes` of all of them with each one's values ("" where none differ)."""
    keys = distinguishing_axes([dict(f) for f in flats.values()])
    return {i: ", ".join(f"{k}={label_value(f.get(k))}" for k in keys) for i, f in flats.items()}


# ------------------------------------------------------------------------------------ derived metrics

def first_step_at_or_below(evals: Iterable[Mapping[str, Any]], level: float | None,
                           key: str = "val_loss") -> int | None:
    """The first evaluation step whose ``key`` (default ``val_loss``) is at or below ``level``
    (None if never, or without a level)."""
    if level is None:
        return None
    for ev in evals:
        loss = ev.get(key)
        if loss is not None and loss <= level:
            return int(ev["step"])
    return None


def steps_to_threshold(evals: Iterable[Mapping[str, Any]], chance: float | None,
                       fraction: float = THRESHOLD, key: str = "val_loss") -> int | None:
    """First evaluation step with ``key <= fraction * chance`` (None if never or no chance loss)."""
    return first_step_at_or_below(evals, fraction * chance if chance else None, key)


def solved(rec: Mapping[str, Any], level: float | None) -> tuple[bool | None, int | None]:
    """``(solved, steps_to_solved)`` of one run at the task's solved level.

    A run is solved when it finished ``ok`` with a final validation loss at or
    below ``level``; its steps-to-solved is then the first evaluation step at or
    below ``level``. An unsolved run has no steps-to-solved (not reached).

    Returns:
        ``(None, None)`` when there is no level, else ``(bool, step or None)``.
    """
    if level is None:
        return None, None
    loss = (rec.get("final") or {}).get("val_loss")
    ok = rec.get("status") == "ok" and loss is not None and loss <= level
    return ok, (first_step_at_or_below(rec.get("evals") or [], level) if ok else None)


def context_gain(by_position: list[float | None] | None, short: int = SHORT_CONTEXT) -> float | None:
    """Loss at a context of ``short`` inputs minus the mean loss over the last fifth of the window.

    The ``context_gain`` column of summary.csv: how much a language model
    gains from context beyond ``short`` inputs (see ``loss_by_position``);
    only for tasks without a horizon (a language model): where the loss
    needs one input ``horizon`` steps back (copy memory), the loss by
    position says where the recall steps are, not what context buys.

    Args:
        by_position: A record's ``loss_by_position``.
        short: Default :data:`SHORT_CONTEXT`.

    Returns:
        The gain in loss units (positive: longer context helps), or None when
        the window is shorter than ``2 * short`` or a value is missing.
    """
    if not by_position or len(by_position) < 2 * short:
        return None
    values = [math.nan if v is None else float(v) for v in by_position]
    tail = values[-max(1, len(values) // 5):]
    if not all(math.isfinite(v) for v in [values[short - 1], *tail]):
        return None
    return values[short - 1] - sum(tail) / len(tail)


def run_values(rec: Mapping[str, Any], level: float | None,
               fraction: float = THRESHOLD) -> dict[str, Any]:
    """Every claim metric of one run: its summary row plus the derived steps and ``solved``.

    ``steps_to_threshold`` and ``steps_to_solved`` are ``math.inf`` for a run that
    never got there (not reached counts as later than any step), and None only
    when there is no level (no chance loss, or no solved level). Non-finite
    floats of the summary row are None (missing).

    Args:
        rec: A run record.
        level: The run's solved level (manifest ``solved_levels``; None: none).
        fraction: Steps-to-threshold level as a fraction of chance (default 0.1).
    """
    row = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
           for k, v in summary_row(rec, []).items()}
    chance = rec.get("chance_loss")
    evals = rec.get("evals") or []
    step = steps_to_threshold(evals, chance, fraction)
    row["steps_to_threshold"] = None if not chance else math.inf if step is None else step
    # with batch statistics: a model without BatchNorm has one evaluation, the same in both
    if chance and any("val_loss_batch_stats" in ev for ev in evals):
        step = steps_to_threshold(evals, chance, fraction, "val_loss_batch_stats")
        row["steps_to_threshold_batch_stats"] = math.inf if step is None else step
    else:
        row["steps_to_threshold_batch_stats"] = row["steps_to_threshold"]
    row["solved"], step = solved(rec, level)
    row["steps_to_solved"] = None if level is None else math.inf if step is None else step
    return row


# -------------------------------------------------------------------------------------- summary row

#: summary.csv columns before the axes: which run, in which studies, of which task.
ID_COLUMNS = ("run_id", "study", "task")
#: summary.csv columns after the axes (the run's results; then any other health summary
#: key, sorted). The axes in between come from the runs' configs (:func:`summary_columns`).
RESULT_COLUMNS = (
    "seq_len", "sequence_length", "seed", "status", "steps_done", "final_val_loss", "chance_loss",
    "loss_vs_chance", "val_loss_batch_stats", "metric", "final_metric", "context_gain",
    "diverged_step", "max_grad_norm", "clip_rate", "wall_s", "finished_at", "error", "rho", "reach",
    "horizon", "growth", "spikes", "spike_rate", "spikes_held", "diagnosis", "diagnosis_init",
    "rho_init", "reach_init", "rho_q10", "rho_q50", "rho_q90", "reach_q10", "reach_q50", "reach_q90",
    "kernel_sigma_max",
)
#: The summary.csv columns every file has, whatever the axes.
SUMMARY_COLUMNS = ID_COLUMNS + RESULT_COLUMNS

_NOT_AXES = ("task", "seed", "task_params")


def axes_of(cfg: Mapping[str, Any]) -> list[str]:
    """The run axes of a resolved config, in its order (every key but task, seed and task_params)."""
    return [k for k in cfg if k not in _NOT_AXES]


def summary_columns(configs: Iterable[Mapping[str, Any]], extra: Iterable[str] = ()) -> list[str]:
    """summary.csv's header: :data:`ID_COLUMNS`, every axis of ``configs`` (first seen first),
    :data:`RESULT_COLUMNS`, then ``extra`` keys not among them, sorted."""
    axes = list(dict.fromkeys(k for cfg in configs for k in axes_of(cfg)))
    head = [*ID_COLUMNS, *axes, *RESULT_COLUMNS]
    return head + sorted(set(extra) - set(head))


def summary_row(rec: Mapping[str, Any], studies: Iterable[str]) -> dict[str, Any]:
    """The summary.csv row of one record: its identity, every axis of its config, its results."""
    cfg, final = rec["config"], rec.get("final", {})
    chance = rec.get("chance_loss")
    loss = final.get("val_loss")
    row: dict[str, Any] = {k: cfg.get(k) for k in ID_COLUMNS}
    row.update({k: cfg[k] for k in axes_of(cfg)})
    row.update({k: cfg.get(k) for k in RESULT_COLUMNS})
    row.update(
        run_id=rec["run_id"], study=";".join(studies), seq_len=cfg["task_params"].get("seq_len"),
        sequence_length=rec.get("sequence_length"),
        status=rec["status"], steps_done=rec.get("steps_done"), final_val_loss=loss,
        chance_loss=chance, loss_vs_chance=(loss / chance if loss is not None and chance else None),
        metric=final.get("metric"), final_metric=final.get("metric_value"),
        diverged_step=rec.get("diverged_step"), max_grad_norm=final.get("max_grad_norm"),
        clip_rate=final.get("clip_rate"), val_loss_batch_stats=final.get("val_loss_batch_stats"),
        context_gain=(context_gain(rec.get("loss_by_position"))
                      if rec["status"] == "ok" and rec.get("horizon") is None else None),
        wall_s=rec.get("timing", {}).get("wall_s"),
        finished_at=rec.get("finished_at"), error=rec.get("error"),
    )
    for key, value in rec.get("health", {}).get("summary", {}).items():
        row[key] = value
    return row


def studies_of(manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """Run id -> names of the studies that contain it."""
    out: dict[str, list[str]] = {}
    for study in manifest.get("studies", []):
        for rid in study["run_ids"]:
            out.setdefault(rid, []).append(study["name"])
    return out


def summary_csv(manifest: Mapping[str, Any], records: Mapping[str, Mapping[str, Any]],
                axes: Iterable[str] = ()) -> str:
    """The text of ``summary.csv``: one row per run of the manifest that has a record.

    Args:
        manifest: The parsed ``suite.json``.
        records: Run records by id.
        axes: Axis names that get a column even where no stored config has them
            (records older than the axis); the configs' own axes always do.
    """
    membership = studies_of(manifest)
    ids = [rid for rid in manifest["runs"] if rid in records]
    rows = [summary_row(records[rid], membership.get(rid, [])) for rid in ids]
    configs = [dict.fromkeys(axes), *(records[rid]["config"] for rid in ids)]
    columns = summary_columns(configs, (k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buf.getvalue()
