"""The HTML report, rendered from stored results only (no TensorFlow, no training).

``build_report(DIR)`` reads ``DIR/suite.json`` and ``DIR/runs/*.json`` and
writes ``DIR/index.html``: one self-contained file (figures are inline PNG,
no scripts or styles from the network) made from ``templates/report.html.j2``
with autoescaping, so every string from a suite file, plugin or corpus is
escaped.

Per study: its question, a computed answer, a table of runs, one convergence
figure per task (validation loss against step, log scale, chance level
dashed, seeds as separate lines), the pre-clip gradient norm against step, and
the temporal gradient profile (||dL/dh_k|| against distance T - k) at
initialisation and at the end of training.
"""
from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from suite.results import atomic_write_text, load_records, studies_of, summary_row  # noqa: E402

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LABEL_KEYS = ("cell", "activation", "hidden", "depth", "recurrent_initializer", "kernel_initializer",
              "batchnorm", "optimizer", "learning_rate", "clipnorm", "global_clipnorm")


def _lines(df: pd.DataFrame, x: str, y: str, ax, legend: bool = True, lw: float = 1.0) -> None:
    """One line per (config, seed), coloured by config, log y axis."""
    sns.lineplot(data=df, x=x, y=y, hue="config", units="seed", estimator=None, ax=ax, lw=lw,
                 alpha=0.85, legend=legend)
    ax.set_yscale("log")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def config_label(cfg: dict[str, Any], varying: list[str]) -> str:
    """Label of a configuration by the axes its study varies (or the cell)."""
    keys = varying or ["cell"]
    parts = []
    for key in keys:
        if "." in key:
            value = cfg["task_params"].get(key.split(".", 1)[1])
        else:
            value = cfg.get(key)
        parts.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
    return ", ".join(parts)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _task_records(records: dict[str, dict], run_ids: list[str], task: str):
    """The stored records of ``run_ids`` that belong to ``task``."""
    for rid in run_ids:
        rec = records.get(rid)
        if rec is not None and rec["task"] == task:
            yield rec


def _frame(records: dict[str, dict], run_ids: list[str], task: str, varying: list[str]) -> pd.DataFrame:
    rows = []
    for rec in _task_records(records, run_ids, task):
        label = config_label(rec["config"], varying)
        for ev in rec.get("evals", []):
            if ev.get("val_loss") is not None:
                rows.append({"step": ev["step"], "val_loss": ev["val_loss"], "config": label,
                             "seed": rec["seed"]})
    return pd.DataFrame(rows)


def convergence_figure(records, run_ids, task, varying, chance) -> str | None:
    """Validation loss against step (log y), one line per seed, chance dashed."""
    df = _frame(records, run_ids, task, varying)
    if df.empty:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    _lines(df, "step", "val_loss", ax, lw=1.4)
    if chance:
        ax.axhline(chance, color="black", ls="--", lw=1, label=f"chance ({chance:.3g})")
    ax.set_xlabel("step")
    ax.set_ylabel("validation loss")
    ax.set_title(task)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def gradnorm_figure(records, run_ids, task, varying) -> str | None:
    """Pre-clip global gradient norm against step (log y), smoothed over 20 steps."""
    frames = []
    for rec in _task_records(records, run_ids, task):
        if not rec.get("curves", {}).get("grad_norm"):
            continue
        g = pd.Series(rec["curves"]["grad_norm"], dtype="float64")
        frames.append(pd.DataFrame({"step": range(1, len(g) + 1),
                                    "grad_norm": g.rolling(20, min_periods=1).median(),
                                    "config": config_label(rec["config"], varying),
                                    "seed": rec["seed"]}))
    if not frames:
        return None
    df = pd.concat(frames)
    df = df[df["grad_norm"] > 0]
    if df.empty:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    _lines(df, "step", "grad_norm", ax)
    ax.set_ylabel("pre-clip gradient norm")
    ax.set_title(f"{task}: gradient norm before clipping (rolling median of 20 steps)")
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def profile_figure(records, run_ids, task, varying) -> str | None:
    """||dL/dh_k|| against distance T - k, at initialisation and at the end (log y)."""
    rows = []
    for rec in _task_records(records, run_ids, task):
        probes = rec.get("probes") or []
        if not probes:
            continue
        for when, probe in (("initialisation", probes[0]), ("end of training", probes[-1])):
            for d, v in enumerate(probe["profile"]):
                if v and v > 0:
                    rows.append({"distance T-k": d, "norm": v, "when": when, "seed": rec["seed"],
                                 "config": config_label(rec["config"], varying)})
    if not rows:
        return None
    df = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.4), sharey=True)
    for ax, when in zip(axes, ("initialisation", "end of training")):
        sub = df[df["when"] == when]
        if not sub.empty:
            _lines(sub, "distance T-k", "norm", ax, legend=(when == "end of training"))
        ax.set_yscale("log")
        ax.set_title(f"{task}: {when}")
        ax.set_ylabel("||dL/dh_k||")
    if axes[1].get_legend() is not None:
        axes[1].legend(fontsize=8, loc="best")
    return _png(fig)


def study_answer(rows: list[dict[str, Any]]) -> str:
    """One or two sentences answering the study from its numbers."""
    ok = [r for r in rows if r["loss_vs_chance"] is not None]
    sentences = [] if ok else ["No run of this study ended with a validation loss."]
    for task, grp in (pd.DataFrame(ok).groupby("task", sort=False) if ok else ()):
        means = grp.groupby("label")["loss_vs_chance"].mean().sort_values()
        best, worst = means.index[0], means.index[-1]
        text = f"On {task}, {best} reached {100 * means.iloc[0]:.1f}% of the chance loss"
        if len(means) > 1:
            text += f"; {worst} ended at {100 * means.iloc[-1]:.1f}%"
        sentences.append(text + " (mean over seeds).")
    bad = [r for r in rows if r["status"] != "ok"]
    if bad:
        sentences.append(f"{len(bad)} run(s) did not finish normally: " + ", ".join(sorted(
            {f"{r['label']} ({r['status']}"
             + (f" at step {r['diverged_step']})" if r.get("diverged_step") else ")") for r in bad}))
            + ".")
    return " ".join(sentences)


def build_report(out: Path, manifest: dict[str, Any]) -> Path:
    """Renders ``out/index.html`` from the manifest and stored records.

    Args:
        out: The suite output directory.
        manifest: The parsed ``suite.json``.

    Returns:
        The path of the written report.
    """
    out = Path(out)
    records, warnings = load_records(out)
    membership = studies_of(manifest)
    studies = []
    for study in manifest["studies"]:
        varying = study.get("varying", [])
        rows = []
        for rid in study["run_ids"]:
            rec = records.get(rid)
            if rec is None:
                continue
            row = summary_row(rec, membership.get(rid, []))
            row["label"] = config_label(rec["config"], varying)
            row["reason"] = (rec.get("health") or {}).get("reason", "")
            row["fmt"] = {k: _fmt(v) for k, v in row.items()}
            rows.append(row)
        figures = []
        for task in study["tasks"]:
            chance = next((r["chance_loss"] for r in rows if r["task"] == task), None)
            for kind, fn, caption in (
                ("convergence", lambda: convergence_figure(records, study["run_ids"], task, varying, chance),
                 "Validation loss (log scale) against training step; one line per seed; dashed: "
                 "the chance level. Lower is better; a line on the dashed one learned nothing."),
                ("gradient norm", lambda: gradnorm_figure(records, study["run_ids"], task, varying),
                 "Global gradient norm before clipping; spikes are exploding gradients, a collapse "
                 "towards zero is a stalled run."),
                ("temporal profile", lambda: profile_figure(records, study["run_ids"], task, varying),
                 "||dL/dh_k|| against the distance T-k back from the scored step. A straight falling "
                 "line is exponential vanishing (slope = ln rho); a flat line carries the gradient "
                 "across the whole sequence."),
            ):
                src = fn()
                if src:
                    figures.append({"task": task, "kind": kind, "src": src, "caption": caption})
        studies.append({"name": study["name"], "question": study.get("question", ""),
                        "answer": study_answer(rows), "rows": rows, "figures": figures,
                        "missing": len(study["run_ids"]) - len(rows)})
    envs = {}
    for rec in records.values():
        env = rec.get("env") or {}
        key = tuple(env.get(k) for k in ("python", "tensorflow", "keras", "cpu", "git_commit"))
        envs[key] = envs.get(key, 0) + 1
    counts: dict[str, int] = {}
    for rid in manifest["runs"]:
        status = records[rid]["status"] if rid in records else "missing"
        counts[status] = counts.get(status, 0) + 1
    corpora = {}
    for rec in records.values():
        corpus = (rec.get("task_info") or {}).get("corpus")
        if corpus:
            corpora[corpus["sha256"]] = corpus
    env_j = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                               autoescape=jinja2.select_autoescape(["html", "j2"]),
                               undefined=jinja2.StrictUndefined)
    page = env_j.get_template("report.html.j2").render(
        suite=manifest, studies=studies, counts=counts, warnings=warnings,
        environments=[dict(zip(("python", "tensorflow", "keras", "cpu", "git_commit"), k), runs=n)
                      for k, n in envs.items()],
        corpora=list(corpora.values()))
    path = out / "index.html"
    atomic_write_text(path, page)
    return path

