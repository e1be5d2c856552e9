"""The time-to-target figure: ECDF of steps-to-solved per configuration.

As COCO (Hansen et al. 2021, runtime ECDFs) and AlgoPerf (Dahl et al. 2023,
time-to-result) report optimisers: for each configuration, the fraction of its
seeds that had solved the task (:func:`suite.claims.solved`: finished ok at
or below the task's solved level) by each training step. A run that never
solved it counts in the denominator and never in the numerator, so a curve
ends at the configuration's success rate; higher and further left is better.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from suite.report.figures import palette, png
from suite.runs import fmt

CAPTION = ("Steps to solved, as an empirical cumulative distribution over seeds (as COCO and "
           "AlgoPerf report time to target): for each configuration, the fraction of its seeds "
           "that had solved the task by a step (solved: finished ok with a final validation "
           "loss at or below the task's solved level, reached first at that step). Unsolved "
           "runs are counted as not reached, so a curve ends at the success rate; the legend "
           "gives solved/seeds.")

#: Line styles, cycled, so that curves on top of each other stay visible.
STYLES = ("-", "--", "-.", ":")


def solved_levels(runs: pd.DataFrame) -> list[float]:
    """The distinct solved levels of these runs (empty when their task declares none)."""
    if "solved_level" not in runs:
        return []
    return sorted({float(v) for v in runs["solved_level"].dropna()})


def steps_to_solved(runs: pd.DataFrame, title: str, legend_title: str) -> str | None:
    """The ECDF figure for the rows of one study and task (:func:`~suite.report.aggregate.run_table`).

    Args:
        runs: Rows with ``config_id``, ``short``, ``solved``, ``steps_to_solved``,
            ``steps_done`` and ``solved_level``.
        title: The figure title.
        legend_title: The legend title (the axes the study varies).

    Returns:
        An inline PNG, or None when no run has a solved level.
    """
    levels = solved_levels(runs)
    if not levels:
        return None
    groups = [(g["short"].iloc[0], g) for _, g in runs.groupby("config_id", sort=False)]
    colours = palette([lab for lab, _ in groups])
    end = float(pd.to_numeric(runs["steps_done"], errors="coerce").max() or 1)
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    for i, (lab, g) in enumerate(groups):
        steps = np.sort(pd.to_numeric(g["steps_to_solved"], errors="coerce").dropna().to_numpy())
        n = len(g)
        xs = np.concatenate([[0.0], steps, [end]])
        ys = np.concatenate([[0.0], np.arange(1, len(steps) + 1) / n, [len(steps) / n]])
        ax.step(xs, ys, where="post", color=colours[lab], lw=1.5, ls=STYLES[i % len(STYLES)],
                label=f"{lab} ({len(steps)}/{n})")  # dashes keep overlapping curves visible
    level = ", ".join(fmt(v) for v in levels)
    ax.set(xlabel="step", ylabel="fraction of seeds solved", ylim=(-0.03, 1.03),
           xlim=(0, end * 1.03),  # a jump at the last step stays visible
           title=f"{title}: solved at val loss <= {level}")
    ax.legend(title=legend_title or None, fontsize=8, title_fontsize=8, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return png(fig)
