"""The report's overview reads like an answer page: a short answer with the decisive numbers,
the study's key figure beside it, and every claim's evidence folded below."""
from __future__ import annotations

import re

import pytest
from conftest import run_cli
from test_claims import FAILS, HOLDS, add_claims

from suite.report.answers import key_figure_kind, numbers_sentence, overview


def entry(label, lvc, task="adding", diverged=0, n=2):
    return {"task": task, "T": 100, "label": label, "loss_vs_chance": lvc, "diverged": diverged, "n": n}


def claim(verdict, text):
    return {"verdict": verdict, "text": text, "metric": "loss_vs_chance", "op": "<", "value": 0.5,
            "than": None, "factor": 1.0, "reference": None, "reason": "",
            "observed": [{"label": "cell=gru", "seed": 0, "text": "0.02313"}]}


def test_the_key_figure_follows_what_the_study_varies():
    assert key_figure_kind(["cell"]) == "temporal profile"
    assert key_figure_kind(["recurrent_initializer"]) == "temporal profile"
    assert key_figure_kind(["clipnorm", "adding.seq_len"]) == "convergence"
    assert key_figure_kind(["cell", "batchnorm"]) == "convergence"


def test_the_numbers_sentence_names_the_best_and_the_worst():
    entries = [entry("cell=gru", 0.0031), entry("cell=lstm", 0.02), entry("cell=simple_rnn", 0.997),
               entry("cell=gru", 0.30, task="copy_memory"), entry("clipnorm=0", None, "copy_memory", 2)]
    text = numbers_sentence(entries)
    assert text == ("Final loss as a share of the chance loss: adding (T=100): cell=gru 0.31%, "
                    "cell=lstm 2%, cell=simple_rnn 100%; copy_memory (T=100): cell=gru 30%, "
                    "clipnorm=0 diverged (2 of 2).")
    many = [entry(f"g={i}", 0.1 * (i + 1)) for i in range(6)]
    assert numbers_sentence(many).endswith("g=0 10%, g=1 20%, … (3 more), g=5 60%.")
    assert numbers_sentence([]) == ""


def test_the_short_answer_is_short_and_the_evidence_complete():
    results = [claim("holds", "the tanh RNN stays at chance"), claim("fails", "LSTM ends below 5%"),
               claim("inconclusive", "char_lm gains context")]
    out = overview(results, [entry("cell=gru", 0.0031), entry("cell=simple_rnn", 0.997)], ["cell"])
    assert out["word"] == "Partly"
    assert out["short"] == ("Partly: 1 of 3 claims hold (1 fail, 1 cannot be checked). Final loss as "
                            "a share of the chance loss: adding (T=100): cell=gru 0.31%, cell=simple_rnn 100%.")
    assert len(re.findall(r"[.!?](?: |$)", out["short"])) <= 2  # one or two sentences
    assert "0.02313" not in out["short"]  # per-seed numbers live in the evidence
    assert [h for h, _ in out["evidence"]] == ["Holds", "Fails", "Cannot be checked"]
    briefs = [b for _, chosen in out["evidence"] for b in chosen]
    assert len(briefs) == 3 and all("observed cell=gru seed 0: 0.02313" in b for b in briefs)
    assert out["key_kind"] == "temporal profile"
    none = overview([], [entry("cell=gru", 0.5)], ["cell"])
    assert none["word"] is None and none["short"].startswith("No claims to check. Final loss")


def test_outcome_colours_mean_the_same_on_every_task():
    """Red at chance, green at the task's own solved level: char_lm's 0.65 of its unigram
    baseline (solved at the bigram's 0.80) is green, not the red of an adding run at chance."""
    from suite.report.aggregate import outcome_colour

    red, green = outcome_colour(1.0), outcome_colour(0.01)
    assert outcome_colour(1.3) == red and outcome_colour(0.1) == green  # default level 0.1
    assert outcome_colour(0.65, solved=0.80) == green == outcome_colour(0.80, solved=0.80)
    assert outcome_colour(0.65) not in (red, green)  # without a level: part of the way
    assert outcome_colour(1.0, solved=0.80) == red
    halfway = outcome_colour(0.9, solved=0.81)  # sqrt(0.81): halfway on the log scale
    assert halfway == outcome_colour(0.1 ** 0.5) not in (red, green)
    assert outcome_colour(None) == "#d9d9d9"


def test_the_outcome_matrix_colours_each_task_by_its_solved_level():
    import pandas as pd

    from suite.report.aggregate import outcome_colour, outcome_matrix

    runs = pd.DataFrame([
        {"study": "cells", "task": task, "T": 50, "extra": "", "config_id": f"{task}-lstm",
         "axis:cell": "lstm", "solved_level": level, "chance_loss": chance}
        for task, level, chance in (("char_lm", 3.75, 4.68), ("adding", None, 1 / 6))])
    board = [{"study": "cells", "config_id": f"{task}-lstm", "loss_vs_chance": 0.65, "diverged": 0}
             for task in ("char_lm", "adding")]
    matrix = outcome_matrix(board, {"name": "cells", "varying": ["cell"]}, runs)
    (lm,), (add,) = (row["cells"] for row in matrix["rows"])
    assert lm["colour"] == outcome_colour(0.01) != add["colour"]  # green on char_lm's own scale
    assert add["colour"] == outcome_colour(0.65)


@pytest.mark.slow
def test_the_overview_in_the_report(example_copy, tasks):
    """Built report: per study the short answer, the key figure beside it, the evidence folded."""
    add_claims(example_copy, tasks, {"cells": [HOLDS, FAILS]})
    assert run_cli("report", str(example_copy)).returncode == 0
    page = (example_copy / "index.html").read_text()
    overview_html = page.split('<section id="overview">', 1)[1].split("</section>", 1)[0]
    blocks = overview_html.split('<div class="study-answer">')[1:]
    assert len(blocks) == 5  # the example suite's studies
    cells = blocks[0]
    assert re.search(r'<b class="word word-partly">Partly</b>: 1 of 2 claims hold \(1 fail\)\. '
                     r"Final loss as a share of the chance loss: adding \(T=12\): ", cells)
    assert "<details class=\"evidence\"><summary>Claims: 1 of 2 hold." in cells
    folded = cells.split("<details", 1)[1]
    assert "The tanh RNN stays at chance" in folded and "GRU ends 10x below" in folded
    assert re.search(r'<figure class="key-figure"><a href="#study-1"><img src="data:image/png;base64,'
                     r'[^"]+" alt="temporal profile for adding">', cells)
    clipping = blocks[1]  # varies clipnorm: read from the loss curves
    assert 'alt="convergence for adding"' in clipping and "<details" not in clipping
