"""The figures of one study section, with their captions (every caption says what is drawn).

A study's figures are independent jobs (:func:`jobs`: one per task, one per
varied axis), so that :mod:`suite.report.pages` can draw them in worker
processes.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import pandas as pd

from suite.report import ecdf, figures, init_figures, position
from suite.runs import label_keys

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


def task_figures(records: dict[str, dict], sub: pd.DataFrame, study: dict[str, Any],
                 task: str) -> list[dict[str, Any]]:
    """The figures of one study on one task: convergence, gradient health, steps to solved,
    loss by context length; a figure with nothing to draw becomes one line saying why.

    Args:
        records: Run records by id.
        sub: The study's rows of :func:`~suite.report.aggregate.run_table`.
        study: The study (manifest entry).
        task: The task.

    Returns:
        Figure entries (``task``, ``kind``, ``src``, ``caption``, ``axis``; ``empty`` when
        ``src`` is None); empty when the study has no run of ``task``.
    """
    legend = ", ".join(label_keys(study.get("varying"), task))  # the axes the labels name
    tsub, note = shown_configs(sub[sub["task"] == task])
    if tsub.empty:
        return []
    title = f"{task} (T={tsub['T'].iloc[0]})"
    makers: list[tuple[str, Callable[..., str | None], tuple]] = [
        ("convergence", figures.convergence, (legend,)),
        ("gradient norm", figures.gradient_norms, (legend,)),
        ("temporal profile", figures.profiles, ()),
        ("profile over training", figures.profile_heatmaps, ()),
        ("spectra and saturation", figures.spectra, (legend,)),
        ("Lyapunov exponent and Jacobian products", figures.lyapunov, ()),
    ]
    out = []
    for kind, make, extra in makers:
        try:
            src = make(records, tsub, title, *extra)
        except (ValueError, OverflowError) as err:  # e.g. a loss of 1e308: no axis limits
            figures.plt.close("all")
            out.append({"task": task, "kind": kind, "src": None, "axis": "", "caption": "",
                        "empty": f"{kind}: not drawn, values beyond the plotting range ({err})"})
            continue
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
    for kind, src in init_figures.figures(records, sub[sub["task"] == task], study, title, legend):
        out.append({"task": task, "kind": kind, "src": src, "axis": "",
                    "caption": init_figures.CAPTIONS[kind]})  # every configuration
    return out


def factor_figures(sub: pd.DataFrame, study: dict[str, Any], axis: str) -> list[dict[str, Any]]:
    """The factor-effects figure of one axis the study varies (empty if nothing to draw)."""
    hue = "cell" if axis != "cell" and "cell" in study["varying"] else None
    src = figures.factor_effects(sub, axis, hue, f"{study['name']}: effect of {axis}")
    return [{"task": "all tasks", "kind": "factor effects", "src": src,
             "caption": CAPTIONS["factor effects"], "axis": axis}] if src else []


def jobs(study: dict[str, Any]) -> list[tuple[str, str]]:
    """The study's figure jobs, in report order: ``("task", name)`` then ``("axis", name)``."""
    return [("task", t) for t in study["tasks"]] + [("axis", a) for a in study.get("varying", [])]


def make(job: tuple[str, str], records: dict[str, dict], sub: pd.DataFrame,
         study: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures of one of :func:`jobs` (none when the study has no runs)."""
    if sub.empty:
        return []
    kind, name = job
    if kind == "task":
        return task_figures(records, sub, study, name)
    try:
        return factor_figures(sub, study, name)
    except (ValueError, OverflowError) as err:  # e.g. a loss of 1e308: no axis limits
        figures.plt.close("all")
        return [{"task": "all tasks", "kind": "factor effects", "src": None, "axis": name,
                 "caption": "", "empty": f"not drawn, values beyond the plotting range ({err})"}]
