"""The long-range view of a language model: loss against context length.

For a per-step head (char-level language modelling), each finished run stores
the last evaluation's mean validation loss at every position of the window
(``loss_by_position``; entry t-1 is the loss with t inputs of context). A cell
that uses long-range context keeps lowering its loss as the context grows; one
whose gradient from distant steps vanishes flattens out after a few steps
(Karpathy, Johnson & Fei-Fei 2015 measure the same on character models).

:func:`suite.runs.context_gain` is the number summary.csv and the claims
use: the loss at a short context minus the loss over the end of the window.
"""
from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from suite.report.figures import palette, png

CAPTION = ("Validation loss at each position of the window at the end of training, i.e. "
           "against the context the model has seen (1 to T inputs); median over seeds, band "
           "min-max. A curve that keeps falling to the right uses long-range context; one that "
           "flattens early gains nothing from what lies further back. Finished runs only.")


def figure(records: dict[str, dict[str, Any]], runs: pd.DataFrame, title: str,
           legend_title: str, unit: str = "validation loss") -> str | None:
    """Loss against context length per configuration (median over seeds, band min-max).

    Args:
        records: Run records by id.
        runs: Rows of one study and task (``config_id``, ``short``, ``run_id``, ``status``).
        title: The figure title.
        legend_title: The legend title (the axes the study varies).
        unit: The y label. Default ``"validation loss"``.

    Returns:
        An inline PNG, or None when no finished run of a task without a horizon
        (a language model) has ``loss_by_position``.
    """
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    groups = [(g["short"].iloc[0], list(g["run_id"])) for _, g in runs.groupby("config_id", sort=False)]
    colours = palette([lab for lab, _ in groups])
    drawn = False
    for lab, ids in groups:
        curves = [records[rid].get("loss_by_position") for rid in ids
                  if records[rid].get("status") == "ok" and records[rid].get("horizon") is None]
        curves = [[math.nan if v is None else v for v in c] for c in curves if c]
        if not curves:
            continue
        df = pd.DataFrame(curves).T
        df.index = np.arange(1, len(df) + 1)
        ax.plot(df.index, df.median(axis=1), color=colours[lab], lw=1.5, label=lab)
        if df.shape[1] > 1:
            ax.fill_between(df.index, df.min(axis=1), df.max(axis=1), color=colours[lab],
                            alpha=0.2, lw=0)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set(xlabel="context length (inputs seen)", ylabel=unit, title=title)
    ax.legend(title=legend_title or None, fontsize=8, title_fontsize=8, loc="best")
    return png(fig)
