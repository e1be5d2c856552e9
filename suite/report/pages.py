"""Run pages, and the worker processes that draw a large report.

:class:`Background` writes ``DIR/detail/<run id>.html`` for every record
(:func:`run_page_context`) and draws every study's figures
(:mod:`suite.report.study_figures`). With many records or many figures and
more than one core (:func:`_workers`), forked worker processes (one per core;
they inherit the parsed records, nothing is pickled but the finished figures)
do both, figures first, while the caller renders the rest; otherwise they are
done here, in order. Either way the output is the same.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from suite.report import study_figures
from suite.report.html import TEMPLATES, jinja_env, write_page
from suite.report.svgchart import MAX_POINTS, line_chart
from suite.safeio import check_inside
from suite.store.schema import Manifest, RunRecord

#: Run pages per worker process at least: with fewer, forking costs more than it saves.
PAGES_PER_WORKER = 250
#: Figure jobs (a study's task or varied axis; about a second each) per worker at least.
FIGURE_JOBS_PER_WORKER = 4
#: What forked workers inherit (``out``, ``manifest``, ``records``, ``runs``): nothing is pickled.
_JOB: dict[str, Any] = {}


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


def _write_pages(rids: list[str]) -> int:
    """Writes the run pages of ``rids`` from :data:`_JOB`; returns how many."""
    out, manifest, records = _JOB["out"], _JOB["manifest"], _JOB["records"]
    template = jinja_env().get_template("run.html.j2")  # compiled once per process
    for rid in rids:
        write_page(out / "detail" / f"{rid}.html",
                   template.render(suite=manifest, **run_page_context(records[rid])))
    return len(rids)


def _study_rows(index: int) -> pd.DataFrame:
    """The :func:`~suite.report.aggregate.run_table` rows of study ``index`` (from :data:`_JOB`)."""
    runs, study = _JOB["runs"], _JOB["manifest"]["studies"][index]
    return runs[runs["study"] == study["name"]] if not runs.empty else runs


def _draw(index: int, job: tuple[str, str]) -> list[dict[str, Any]]:
    """One figure job of study ``index`` (:func:`suite.report.study_figures.jobs`)."""
    study = _JOB["manifest"]["studies"][index]
    return study_figures.make(job, _JOB["records"], _study_rows(index), study)


def _tensorflow_loaded() -> bool:
    """Whether this process has imported TensorFlow (``run`` and ``report`` never do)."""
    return "tensorflow" in sys.modules


def _workers(records: int, figure_jobs: int) -> int:
    """Worker processes for a report: one per core when there are at least
    ``2 * PAGES_PER_WORKER`` records or :data:`FIGURE_JOBS_PER_WORKER` figure jobs per core,
    else 0 (done in this process). Never in a process that has imported TensorFlow (a fork
    would inherit its thread pools' locks) or where ``fork`` does not exist."""
    if _tensorflow_loaded() or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    cores = os.cpu_count() or 1
    wanted = max(records // PAGES_PER_WORKER, figure_jobs // FIGURE_JOBS_PER_WORKER)
    workers = min(cores, wanted)
    return workers if workers >= 2 else 0


class Background:
    """Writes the run pages and draws the studies' figures, in worker processes when it pays.

    Args:
        out: The suite output directory (``detail/`` is created).
        manifest: The parsed ``suite.json``.
        records: Run records by id.
        runs: :func:`~suite.report.aggregate.run_table` of the records.
    """

    def __init__(self, out: Path, manifest: Manifest, records: Mapping[str, RunRecord],
                 runs: pd.DataFrame):
        detail = Path(out) / "detail"
        detail.mkdir(parents=True, exist_ok=True)
        check_inside(out, detail / "style.css")  # a symlinked detail/ would take the pages elsewhere
        write_page(detail / "style.css", (TEMPLATES / "style.css").read_text(encoding="utf-8"))
        _JOB.update(out=Path(out), manifest=manifest, records=records, runs=runs)
        self.jobs = [(i, job) for i, study in enumerate(manifest["studies"])
                     for job in study_figures.jobs(study)]
        ids = list(records)
        self.pool = None
        workers = _workers(len(ids), len(self.jobs))
        if workers:
            gc.freeze()  # the children's collector leaves the inherited records alone
            self.pool = multiprocessing.get_context("fork").Pool(workers)
            self.drawn: list[AsyncResult[Any]] | None = [self.pool.apply_async(_draw, job)
                                                         for job in self.jobs]
            self.pages = self.pool.map_async(_write_pages, [ids[i:i + 100]
                                                            for i in range(0, len(ids), 100)],
                                             chunksize=1)
            self.pool.close()
        else:
            self.drawn = None
            _write_pages(ids)

    def figures(self, index: int) -> list[dict[str, Any]]:
        """Every figure of study ``index`` (0-based, manifest order), in report order."""
        out: list[dict[str, Any]] = []
        for k, (i, job) in enumerate(self.jobs):
            if i == index:
                out += self.drawn[k].get() if self.drawn is not None else _draw(i, job)
        return out

    def wait(self) -> None:
        """Waits for the run pages, then releases the workers and what they inherited."""
        try:
            if self.pool is not None:
                self.pages.get()
        finally:
            if self.pool is not None:
                self.pool.terminate()
                self.pool.join()
                gc.unfreeze()
            _JOB.clear()
