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
  while the figures are drawn.

The records come parsed: every command reads them once (``load_records``) and
hands them over (``loaded=``); runs are grouped by configuration
(``config_id``), never by label (see :mod:`suite.report.aggregate`).

Every string from a suite file, plugin or corpus reaches the HTML through
jinja2's autoescaping. Sections (in order): overview (claims that hold; per
study: question, answer in words from its claims and numbers, outcome matrix),
leaderboard, one section per study (claims table, convergence, gradient
health, steps to solved, factor effects, runs), manifest.
"""
from __future__ import annotations

import gc
import math
import multiprocessing
import os
from pathlib import Path
from typing import Any, Callable

import jinja2
import pandas as pd

from suite import claims as claim_checks
from suite.env import TEMPLATES_DIR
from suite.report import answers, ecdf, figures, position
from suite.report.aggregate import THRESHOLD, leaderboard, outcome_matrix, run_table
from suite.report.svgchart import MAX_POINTS, line_chart
from suite.results import SCHEMA_VERSION, atomic_write_text, load_records

TEMPLATES = TEMPLATES_DIR  # the checkout's templates/, or the installed package data
ENV_KEYS = ("python", "tensorflow", "keras", "cpu", "devices", "git_commit")

CAPTIONS = {
    "convergence": "Validation loss (log scale) against training step: median over seeds, band = "
                   "min to max over seeds; dashed = chance level. A line on the dashed one learned "
                   "nothing.",
    "gradient norm": "Global gradient norm before clipping as a rolling median over 20 steps (log "
                     "scale): the median smooths single-step spikes away, so a bump here is a rise "
                     "that lasted about 10 steps or more, not a count of spikes; each run's page "
                     "has its per-step norms. Right, where a run clips: the fraction of steps "
                     "whose norm exceeded the clip threshold (rolling mean over 50 steps).",
    "temporal profile": "One panel per configuration: ||dL/dh_k|| against the distance T-k back "
                        "from the scored step, at initialisation (grey, dashed) and at the end "
                        "(colour), one line per seed. A straight falling line is exponential "
                        "vanishing (slope = log rho); a flat line carries the gradient across "
                        "the whole sequence.",
    "profile over training": "The temporal profile of one run per configuration (first seed) at "
                             "every probe, relative to distance 0 (log10): dark columns on the "
                             "right mean the gradient from distant steps has vanished; read "
                             "upwards to see training change it.",
    "spectra and saturation": "Left: largest singular value of the recurrent kernel; middle: mean "
                              "over steps and 4 probe examples of the largest singular value of "
                              "the step Jacobian ds_t/ds_t-1 (s = h, or (h, c) for the LSTM; "
                              "dotted: 1). A mean above 1 does not mean the gradient explodes: "
                              "each step stretches most along its own direction, and the product "
                              "over many steps can still shrink (see the Lyapunov figure). Right: "
                              "fraction of gate units whose derivative is below 0.05 (tanh: "
                              "|tanh a| > 0.975, 5% of its maximum; sigmoid: s < 0.053 or "
                              "s > 0.947, 20% of its maximum 0.25; relu SimpleRNN: dead units).",
    "Lyapunov exponent and Jacobian products": (
        "One panel per configuration (first seed with the numbers), from its last trajectory "
        "probe, against the distance d = T-k (log scale). Black: the measured gradient profile "
        "||dL/dh_k|| / ||dL/dh_T||. Red: the textbook bound, the product of the largest "
        "singular values sigma_max(J_t) of the d step Jacobians J_t = ds_t/ds_t-1. Teal: the "
        "norm of their product ||J_T-1 ... J_T-d|| (dots: the distances where it is computed). "
        "Yellow, dashed: exp(lambda_1 d), lambda_1 the largest Lyapunov exponent (QR "
        "re-orthonormalisation along the trajectory; in the title, per step). Products and "
        "exponent are geometric means over 4 probe examples. Why a per-step norm above 1 need "
        "not explode: the bound multiplies each step's largest stretch, each along its own "
        "direction, while the product norm and lambda_1 measure the growth that a gradient "
        "crossing the steps actually gets; a bound far above the norm means those directions do "
        "not line up. For one example the measured ratio cannot exceed the product norm; the "
        "profile averages 32 examples and the products 4, so small crossings are sampling."),
    "factor effects": "Final validation loss as a fraction of chance against one axis the study "
                      "varies, pooled over its other axes (colour: the cell, where the cell varies "
                      "too): dots are runs, diamonds the mean with a 95% t-interval, dashed = "
                      "chance. Diverged runs have no final loss and appear only in the tables.",
}


def fmt_num(value: Any, digits: int = 3) -> str:
    """A number to ``digits`` significant digits; '–' for missing or non-finite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


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
        if isinstance(row.get(k), float):
            row[k] = int(row[k])
    row["fmt"] = {k: fmt_num(row.get(k)) for k in SHOWN_COLUMNS}
    row["v"] = {k: _sortkey(row.get(k)) for k in SHOWN_COLUMNS}
    return row


#: Configurations drawn per figure at most: the best and worst halves by final loss/chance.
MAX_CONFIGS = 12


def shown_configs(tsub: pd.DataFrame, limit: int = MAX_CONFIGS) -> tuple[pd.DataFrame, str]:
    """The runs of at most ``limit`` configurations (best and worst by mean loss/chance)."""
    means = tsub.groupby("config_id", sort=False)["loss_vs_chance"].mean()
    if len(means) <= limit:
        return tsub, ""
    order = means.fillna(math.inf).sort_values(kind="stable").index.tolist()
    keep = set(order[: limit // 2] + order[-(limit - limit // 2):])
    note = (f" Showing the {limit // 2} best and {limit - limit // 2} worst of {len(means)} "
            "configurations by final loss/chance; all are in the tables.")
    return tsub[tsub["config_id"].isin(keep)], note


def _study_figures(records, sub: pd.DataFrame, study: dict[str, Any]) -> list[dict[str, Any]]:
    varying = study.get("varying", []) or ["cell"]
    legend = ", ".join(varying)
    out = []
    for task in study["tasks"]:
        tsub, note = shown_configs(sub[sub["task"] == task])
        if tsub.empty:
            continue
        title = f"{task} (T={tsub['T'].iloc[0]})"
        makers: list[tuple[str, Callable[..., str | None], tuple]] = [
            ("convergence", figures.convergence, (legend,)),
            ("gradient norm", figures.gradient_norms, (legend,)),
            ("temporal profile", figures.profiles, ()),
            ("profile over training", figures.profile_heatmaps, ()),
            ("spectra and saturation", figures.spectra, (legend,)),
            ("Lyapunov exponent and Jacobian products", figures.lyapunov, ()),
        ]
        for kind, make, extra in makers:
            src = make(records, tsub, title, *extra)
            if src:
                out.append({"task": task, "kind": kind, "src": src, "caption": CAPTIONS[kind] + note,
                            "axis": ""})
            else:  # one line instead of empty axes
                out.append({"task": task, "kind": kind, "src": None, "axis": "", "caption": "",
                            "empty": figures.nothing_to_draw(kind, records, tsub)})
        src = ecdf.steps_to_solved(tsub, title, legend)
        if src:
            out.append({"task": task, "kind": "steps to solved", "src": src,
                        "caption": ecdf.CAPTION + note, "axis": ""})
        src = position.figure(records, tsub, title, legend)
        if src:
            out.append({"task": task, "kind": "loss by context length", "src": src,
                        "caption": position.CAPTION + note, "axis": ""})
    for axis in study.get("varying", []):
        hue = "cell" if axis != "cell" and "cell" in study["varying"] else None
        src = figures.factor_effects(sub, axis, hue, f"{study['name']}: effect of {axis}")
        if src:
            out.append({"task": "all tasks", "kind": "factor effects", "src": src,
                        "caption": CAPTIONS["factor effects"], "axis": axis})
    return out


def run_page_context(rec: dict[str, Any]) -> dict[str, Any]:
    """Charts and tables of one run's detail page."""
    rec = {"diverged_step": None, "failed_step": None, "steps_done": 0, "error": None,
           "chance_loss": None, "health": {}, **rec}
    curves, evals, probes = rec.get("curves", {}), rec.get("evals", []), rec.get("probes") or []
    steps = list(range(1, len(curves.get("loss", [])) + 1))
    charts = [line_chart(
        [{"x": steps, "y": curves.get("loss", []), "label": "batch loss", "colour": "#9ab"},
         {"x": [e["step"] for e in evals], "y": [e.get("val_loss") for e in evals],
          "label": "validation loss", "colour": "#1f5fa8"}],
        "loss", "step", "loss", hline=rec.get("chance_loss"))]
    layers = sorted(k for k in curves if k.startswith("gn/"))
    colours = ["#d1495b", "#edae49", "#00798c", "#30638e", "#6a4c93"]
    charts.append(line_chart(
        [{"x": steps, "y": curves.get("grad_norm", []), "label": "global (pre-clip)", "colour": "#333"}]
        + [{"x": steps, "y": curves[k], "label": k[3:], "colour": colours[i % len(colours)]}
           for i, k in enumerate(layers)], "gradient norm before clipping", "step", "norm"))
    if probes:
        charts.append(line_chart(
            [{"x": list(range(len(p["profile"]))), "y": p["profile"],
              "label": f"step {p['step']}", "colour": c, "dash": d}
             for p, c, d in ((probes[0], "#888", "4 3"), (probes[-1], "#1f5fa8", None))],
            "temporal profile ||dL/dh_k||", "distance T-k", "norm"))
        kern = [(p["step"], (p.get("kernel") or {}).get("sigma_max")) for p in probes]
        charts.append(line_chart(
            [{"x": [p["step"] for p in probes], "y": [p.get("rho") for p in probes],
              "label": "rho (profile decay per step)", "colour": "#1f5fa8"},
             {"x": [s for s, v in kern if v is not None], "y": [v for _, v in kern if v is not None],
              "label": "kernel sigma_max", "colour": "#d1495b"},
             {"x": [p["step"] for p in probes if "jacobian_sigma_mean" in p],
              "y": [p["jacobian_sigma_mean"] for p in probes if "jacobian_sigma_mean" in p],
              "label": "mean step-Jacobian norm", "colour": "#00798c"}],
            "spectral numbers over training", "step", "value", logy=False, hline=1.0))
    flat = {k: v for k, v in rec["config"].items() if k != "task_params"}
    flat.update({f"{rec['task']}.{k}": v for k, v in rec["config"]["task_params"].items()})
    return {"rec": rec, "charts": charts, "config": flat, "max_points": MAX_POINTS,
            "final": rec.get("final", {}), "health": (rec.get("health") or {}).get("summary", {})}


def _environments(records: dict[str, dict]) -> list[dict[str, Any]]:
    envs: dict[tuple, int] = {}
    for rec in records.values():
        env = rec.get("env") or {}
        key = tuple(", ".join(v) if isinstance(v, list) else v for v in (env.get(k) for k in ENV_KEYS))
        envs[key] = envs.get(key, 0) + 1
    return [dict(zip(ENV_KEYS, k), runs=n) for k, n in envs.items()]


def jinja_env() -> jinja2.Environment:
    """The templates' environment: autoescaping on, undefined names are errors, ``num`` filter."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
                             undefined=jinja2.StrictUndefined)
    env.filters["num"] = lambda v: fmt_num(v, 5)
    return env


def write_page(path: Path, text: str) -> None:
    """Writes a derived page via a temporary file and a rename (no fsync: ``report`` rebuilds it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


#: Run pages per worker process at least: with fewer, forking costs more than it saves.
PAGES_PER_WORKER = 250
#: What forked page writers inherit (``out``, ``manifest``, ``records``): nothing is pickled.
_JOB: dict[str, Any] = {}


def _write_pages(rids: list[str]) -> int:
    """Writes the run pages of ``rids`` from :data:`_JOB`; returns how many."""
    out, manifest, records = _JOB["out"], _JOB["manifest"], _JOB["records"]
    template = jinja_env().get_template("run.html.j2")  # compiled once per process
    for rid in rids:
        write_page(out / "detail" / f"{rid}.html",
                   template.render(suite=manifest, **run_page_context(records[rid])))
    return len(rids)


def start_run_pages(out: Path, manifest: dict[str, Any], records: dict[str, dict]) -> Callable[[], None]:
    """Starts writing ``out/detail/<run id>.html`` for every record; returns a function that waits.

    With at least ``2 * PAGES_PER_WORKER`` records and more than one core,
    forked worker processes (one per core; they inherit the parsed records)
    write the pages while the caller draws the figures; otherwise they are
    written here and now. The pages share ``detail/style.css`` (a copy of
    ``templates/style.css``) rather than each inlining it.
    """
    detail = out / "detail"
    detail.mkdir(parents=True, exist_ok=True)
    write_page(detail / "style.css", (TEMPLATES / "style.css").read_text(encoding="utf-8"))
    _JOB.update(out=out, manifest=manifest, records=records)
    ids = list(records)
    workers = min(os.cpu_count() or 1, len(ids) // PAGES_PER_WORKER)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        try:
            _write_pages(ids)
        finally:
            _JOB.clear()
        return lambda: None
    gc.freeze()  # the children's collector leaves the inherited records alone (no copy-on-write)
    pool = multiprocessing.get_context("fork").Pool(workers)
    pending = pool.map_async(_write_pages, [ids[i:i + 100] for i in range(0, len(ids), 100)], chunksize=1)
    pool.close()

    def wait() -> None:
        try:
            pending.get()
        finally:
            pool.terminate()
            pool.join()
            gc.unfreeze()
            _JOB.clear()
    return wait


def _studies(records: dict[str, dict], manifest: dict[str, Any], runs: pd.DataFrame,
             board: list[dict[str, Any]], verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The template context of each study section (``verdicts``: :func:`suite.claims.evaluate`)."""
    studies = []
    for i, study in enumerate(manifest["studies"], 1):
        sub = runs[runs["study"] == study["name"]] if not runs.empty else runs
        entries = [e for e in board if e["study"] == study["name"]]
        mine = [v for v in verdicts if v["study"] == study["name"]]
        studies.append({
            "anchor": f"study-{i}", "name": study["name"], "question": study.get("question", ""),
            "varying": study.get("varying", []),
            "answer": answers.answer(mine, study_answer(entries)),
            "claims": [answers.claim_row(v) for v in mine],
            "claim_counts": claim_checks.counts(mine),
            "matrix": outcome_matrix(board, study, runs), "board": [_board_row(e) for e in entries],
            "rows": [_run_row(r) for r in sub.to_dict("records")],
            "figures": _study_figures(records, sub, study) if not sub.empty else [],
            "missing": len(study["run_ids"]) - len(sub)})
    return studies


def _manifest_context(records: dict[str, dict], manifest: dict[str, Any]) -> dict[str, Any]:
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


def build_report(out: Path, manifest: dict[str, Any], fraction: float = THRESHOLD,
                 loaded: tuple[dict[str, dict], list[str]] | None = None) -> Path:
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
    wait_for_pages = start_run_pages(out, manifest, records)
    try:
        page = jinja_env().get_template("report.html.j2").render(
            suite=manifest, studies=_studies(records, manifest, runs, board, verdicts),
            warnings=warnings, threshold=fraction, claim_counts=claim_checks.counts(verdicts),
            n_claims=len(verdicts), **_manifest_context(records, manifest))
    finally:
        wait_for_pages()
    path = out / "index.html"
    atomic_write_text(path, page)
    return path
