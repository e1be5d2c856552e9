"""The HTML report, rendered from stored results only (no TensorFlow, no training).

``build_report(DIR, manifest)`` reads ``DIR/runs/*.json`` and writes

* ``DIR/index.html``: one self-contained page (inline PNG figures, inline CSS
  and a few lines of inline script to sort tables; nothing from the network),
  made from ``templates/report.html.j2`` and one template per section in
  ``templates/sections/``;
* ``DIR/claims.json``: every claim's verdict with its numbers (:mod:`suite.claims`);
* ``DIR/detail/<run id>.html``: a page per run with its curves (inline SVG,
  long curves thinned: see :mod:`suite.report.svgchart`), numbers,
  configuration and a link to its stored record; the pages share
  ``DIR/detail/style.css``. With many records, forked processes write them
  and draw the figures (:mod:`suite.report.pages`).

The records come parsed: every command reads them once (``load_records``) and
hands them over (``loaded=``); runs are grouped by configuration
(``config_id``), never by label (see :mod:`suite.report.aggregate`).

Every string from a suite file, plugin or corpus reaches the HTML through
jinja2's autoescaping. The figures and their captions are in
:mod:`suite.report.study_figures`. Sections (in order): overview (claims that hold; per
study: question, answer in words from its claims and numbers, outcome matrix),
leaderboard, one section per study (claims table, convergence, gradient
health, steps to solved, factor effects, runs), manifest.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from suite import claims as claim_checks
from suite.report import answers
from suite.report.aggregate import THRESHOLD, leaderboard, outcome_matrix, run_table
from suite.report.html import fmt_num, jinja_env
from suite.report.pages import Background
from suite.store.io import atomic_write_text, load_records
from suite.store.schema import SCHEMA_VERSION, Manifest, RunRecord

ENV_KEYS = ("python", "tensorflow", "keras", "cpu", "devices", "git_commit")

def _sortkey(value: Any) -> str:
    """A ``data-v`` value for sorting: numbers as numbers, missing last."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return str(value)


def _ci(ci: tuple) -> dict[str, str]:
    mean, lo, hi, n = ci
    return {"mean": fmt_num(mean), "v": _sortkey(mean),
            "interval": f"[{fmt_num(lo)}, {fmt_num(hi)}]" if lo is not None else ""}


def study_answer(entries: list[dict[str, Any]]) -> str:
    """One or two sentences answering a study from its leaderboard entries."""
    sentences = []
    for task in dict.fromkeys(e["task"] for e in entries):
        done = [e for e in entries if e["task"] == task and e["loss_vs_chance"] is not None]
        if not done:
            sentences.append(f"On {task}, no configuration ended with a validation loss.")
            continue
        best, worst = done[0], done[-1]
        text = (f"On {task} (T={best['T']}), {best['label']} reached "
                f"{100 * best['loss_vs_chance']:.1f}% of the chance loss")
        if best["diagnosis"]:
            text += f" (diagnosis over seeds: {best['diagnosis']})"
        if len(done) > 1:
            text += f"; {worst['label']} ended at {100 * worst['loss_vs_chance']:.1f}%"
            if worst["diagnosis"]:
                text += f" (diagnosis over seeds: {worst['diagnosis']})"
        sentences.append(text + " (mean over seeds).")
    bad = [e for e in entries if e["diverged"] or e["failed"]]
    if bad:
        sentences.append("Did not finish normally: " + "; ".join(
            f"{e['label']} on {e['task']} ({e['diverged']} diverged, {e['failed']} failed of {e['n']})"
            for e in bad) + ".")
    return " ".join(sentences)


def _board_row(e: dict[str, Any]) -> dict[str, Any]:
    return {**e, "loss_f": _ci(e["loss"]), "metric_f": _ci(e["metric"]),
            "lvc_f": fmt_num(e["loss_vs_chance"]), "lvc_v": _sortkey(e["loss_vs_chance"]),
            "chance_f": fmt_num(e["chance"]), "steps_f": fmt_num(None if e["steps"] is None else round(e["steps"])), "steps_v": _sortkey(e["steps"]),
            "solved_v": _sortkey(None if e["solved"] is None else e["solved"] / e["n"]),
            "solved_steps_f": fmt_num(None if e["solved_steps"] is None else round(e["solved_steps"]))}


#: Columns that pandas may turn into floats (missing values) but are counts or steps.
INT_COLUMNS = ("seed", "steps_done", "diverged_step", "reach", "reach_init", "seq_len", "T",
               "steps_to_threshold")


#: Columns of the study tables shown formatted (``fmt``) and with a sort key (``v``).
SHOWN_COLUMNS = ("steps_done", "final_val_loss", "val_loss_batch_stats", "loss_vs_chance",
                 "final_metric", "max_grad_norm", "clip_rate", "rho", "reach")


def _run_row(r: dict[str, Any]) -> dict[str, Any]:
    """A row of :func:`run_table` (``to_dict("records")``) for the template: NaN -> None, ints."""
    row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
    for k in INT_COLUMNS:
        v = row.get(k)
        if isinstance(v, float):
            row[k] = int(v)
    row["fmt"] = {k: fmt_num(row.get(k)) for k in SHOWN_COLUMNS}
    row["v"] = {k: _sortkey(row.get(k)) for k in SHOWN_COLUMNS}
    return row


def _environments(records: Mapping[str, RunRecord]) -> list[dict[str, Any]]:
    envs: dict[tuple, int] = {}
    for rec in records.values():
        env = rec.get("env") or {}
        key = tuple(", ".join(v) if isinstance(v, list) else v for v in (env.get(k) for k in ENV_KEYS))
        envs[key] = envs.get(key, 0) + 1
    return [dict(zip(ENV_KEYS, k), runs=n) for k, n in envs.items()]


def _studies(manifest: Manifest, runs: pd.DataFrame, board: list[dict[str, Any]],
             verdicts: list[dict[str, Any]], drawn: Background) -> list[dict[str, Any]]:
    """The template context of each study section (``verdicts``: :func:`suite.claims.evaluate`;
    the figures come from ``drawn``)."""
    studies = []
    for i, study in enumerate(manifest["studies"], 1):
        sub = runs[runs["study"] == study["name"]] if not runs.empty else runs
        entries = [e for e in board if e["study"] == study["name"]]
        mine = [v for v in verdicts if v["study"] == study["name"]]
        studies.append({
            "anchor": f"study-{i}", "name": study["name"], "question": study.get("question", ""),
            "varying": study.get("varying", []),
            "answer": answers.answer(mine, study_answer(entries)),
            "overview": answers.overview(mine, entries, study.get("varying", [])),
            "claims": [answers.claim_row(v) for v in mine],
            "claim_counts": claim_checks.counts(mine),
            "matrix": outcome_matrix(board, study, runs), "board": [_board_row(e) for e in entries],
            "rows": [_run_row(r) for r in sub.to_dict("records")],
            "figures": drawn.figures(i - 1),
            "missing": len(study["run_ids"]) - len(sub)})
    return studies


def _manifest_context(records: Mapping[str, RunRecord], manifest: Manifest) -> dict[str, Any]:
    """Run counts, environments, corpora, seeds, kernels and schema versions for the manifest."""
    counts: dict[str, int] = {}
    for rid in manifest["runs"]:
        status = records[rid]["status"] if rid in records else "missing"
        counts[status] = counts.get(status, 0) + 1
    corpora = {}
    kernels: dict[str, int] = {}
    no_cudnn = []
    for rid, rec in records.items():
        corpus = (rec.get("task_info") or {}).get("corpus")
        if corpus:
            corpora[corpus["sha256"]] = corpus
        k = rec.get("kernel") or {}
        name = f"{k.get('device', 'unrecorded')}, " + ("cuDNN" if k.get("cudnn") else "generic kernel")
        kernels[name] = kernels.get(name, 0) + 1
        if k.get("device") == "GPU" and not k.get("cudnn"):
            no_cudnn.append({"run_id": rid, "task": rec["task"], "cell": rec["config"]["cell"],
                             "why": k.get("why_not", "")})
    return {"counts": counts, "environments": _environments(records),
            "corpora": list(corpora.values()), "seeds": sorted({r["seed"] for r in records.values()}),
            "kernels": kernels, "no_cudnn": no_cudnn,
            "schema_versions": sorted({r.get("stored_schema_version", r["schema_version"])
                                       for r in records.values()}) or [SCHEMA_VERSION],
            "current_schema": SCHEMA_VERSION}


def build_report(out: Path, manifest: Manifest, fraction: float = THRESHOLD,
                 loaded: tuple[Mapping[str, RunRecord], list[str]] | None = None) -> Path:
    """Renders ``out/index.html``, ``out/detail/*.html`` and ``out/claims.json`` from stored records.

    The claims (:mod:`suite.claims`) are checked at the default steps-to-threshold
    fraction whatever ``fraction`` is, so ``claims.json`` agrees with ``check``.

    Args:
        out: The suite output directory.
        manifest: The parsed ``suite.json``.
        fraction: Steps-to-threshold level as a fraction of chance loss (default 0.1).
        loaded: ``load_records(out)`` when the caller has it already, as every
            command does (default: read here).

    Returns:
        The path of the written index page.
    """
    out = Path(out)
    records, warnings = loaded if loaded is not None else load_records(out)
    runs = run_table(records, manifest, fraction)
    board = leaderboard(runs)
    verdicts = claim_checks.evaluate(manifest, records)  # at the default threshold, as `check`
    claim_checks.write_claims(out, manifest, verdicts)
    drawn = Background(out, manifest, records, runs)  # run pages and figures
    try:
        page = jinja_env().get_template("report.html.j2").render(
            suite=manifest, studies=_studies(manifest, runs, board, verdicts, drawn),
            warnings=warnings, threshold=fraction, claim_counts=claim_checks.counts(verdicts),
            n_claims=len(verdicts), **_manifest_context(records, manifest))
    finally:
        drawn.wait()
    path = out / "index.html"
    atomic_write_text(path, page)
    return path
