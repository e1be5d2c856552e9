"""A study's answer in words, from its claims' verdicts and its numbers.

A study's claims state what the literature expects its question's answer to
be (docs/suite-files.md "Claims": write the question so that the claims, holding, answer
it yes). The answer's first word follows from their verdicts only:

* **Yes**: every claim holds;
* **No**: none holds and at least one fails;
* **Partly**: some hold, and others fail or cannot be checked;
* **Not settled**: every claim is inconclusive.

It then lists the claims by verdict with the numbers observed, and ends with
the data sentence of the study (best and worst configuration per task). A
study without claims gets the data sentence alone, introduced as such: with
nothing stated to check, the suite gives numbers rather than a yes or no.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from suite.claims import counts, observed_text, target_text


def verdict_word(results: Sequence[Mapping[str, Any]]) -> str | None:
    """``Yes``, ``No``, ``Partly`` or ``Not settled`` for a study's claims (None without claims)."""
    if not results:
        return None
    n = counts(results)
    if n["holds"] == len(results):
        return "Yes"
    if n["holds"] == 0:
        return "No" if n["fails"] else "Not settled"
    return "Partly"


def claim_brief(result: Mapping[str, Any]) -> str:
    """``'TEXT' (METRIC OP TARGET; observed ...)`` for one claim."""
    over = {"any": ", for at least one seed", "median": ", median over seeds"}.get(
        result.get("over", "all"), "")
    text = (f"\u201c{result['text']}\u201d ({result['metric']} {result['op']} "
            f"{target_text(result)}{over}; observed {observed_text(result)}")
    return text + (f"; {result['reason']})" if result["reason"] else ")")


def answer(results: Sequence[Mapping[str, Any]], data: str) -> str:
    """The overview's answer to one study.

    Args:
        results: The study's claim results (:func:`suite.claims.evaluate`), in order.
        data: The study's data sentence (:func:`suite.report.build.study_answer`).

    Returns:
        ``"Yes: ..."``, ``"No: ..."``, ``"Partly: ..."``, ``"Not settled: ..."``,
        or ``"No claims to check; the data: ..."`` for a study without claims.
    """
    word = verdict_word(results)
    if word is None:
        return f"No claims to check; the data: {data}".strip()
    n = counts(results)
    parts = [f"{word}: {n['holds']} of {len(results)} claims hold."]
    for verdict, heading in (("holds", "Holds"), ("fails", "Fails"),
                             ("inconclusive", "Cannot be checked")):
        chosen = [claim_brief(r) for r in results if r["verdict"] == verdict]
        if chosen:
            parts.append(f"{heading}: " + "; ".join(chosen) + ".")
    return " ".join(parts + ([data] if data else []))


def claim_row(result: Mapping[str, Any]) -> dict[str, Any]:
    """A claim result for the claims table: its fields plus ``target_f`` and ``observed_f`` texts."""
    return {**result, "target_f": target_text(result), "observed_f": observed_text(result)}


#: Axes whose studies are read from the loss curves (they change how training moves, not
#: where the gradient reaches at the start); every other study's key figure is the
#: temporal profile, the lecture's picture of vanishing and exploding.
CONVERGENCE_AXES = ("clipnorm", "global_clipnorm", "clipvalue", "batchnorm", "bn_gamma",
                    "optimizer", "learning_rate", "steps", "batch_size")
#: The key figure's kind for each reading (names of :mod:`suite.report.study_figures`).
KEY_FIGURES = {"convergence": "convergence", "profile": "temporal profile"}
#: At most this many configurations of a task are named in the answer (best first, then
#: the worst); the table and the claims below have every one.
NAMED_CONFIGS = 3


def key_figure_kind(varying: Sequence[str]) -> str:
    """The kind of figure that answers a study varying ``varying`` at a glance."""
    if any(axis in CONVERGENCE_AXES for axis in varying):
        return KEY_FIGURES["convergence"]
    return KEY_FIGURES["profile"]


def _percent(lvc: float) -> str:
    """A share of the chance loss in words: ``0.31%``, ``12%``, ``1.3x``."""
    if lvc >= 1.5:
        return f"{lvc:.1f}x"
    pct = 100 * lvc
    return f"{pct:.2g}%" if pct < 10 else f"{pct:.0f}%"


def _config_phrase(entry: Mapping[str, Any]) -> str:
    """``cell=gru 0.31%`` or ``clipnorm=0 diverged (2 of 2)``."""
    label = entry["label"] or "default"
    if entry["loss_vs_chance"] is None:
        if entry["diverged"]:
            return f"{label} diverged ({entry['diverged']} of {entry['n']})"
        return f"{label} no final loss"
    return f"{label} {_percent(entry['loss_vs_chance'])}"


def numbers_sentence(entries: Sequence[Mapping[str, Any]]) -> str:
    """One sentence with the decisive numbers: per task, its configurations' final loss as a
    share of chance (mean over seeds), best first; diverged configurations named as such.

    ``entries`` are the study's leaderboard entries (:func:`suite.report.aggregate.leaderboard`,
    best loss first within a task).
    """
    parts = []
    for task in dict.fromkeys(e["task"] for e in entries):
        mine = [e for e in entries if e["task"] == task]
        named = mine if len(mine) <= NAMED_CONFIGS else [*mine[:NAMED_CONFIGS - 1], mine[-1]]
        phrases = [_config_phrase(e) for e in named]
        if len(named) < len(mine):
            phrases.insert(-1, f"… ({len(mine) - len(named)} more)")
        parts.append(f"{task} (T={mine[0]['T']}): " + ", ".join(phrases))
    if not parts:
        return ""
    return "Final loss as a share of the chance loss: " + "; ".join(parts) + "."


def overview(results: Sequence[Mapping[str, Any]], entries: Sequence[Mapping[str, Any]],
             varying: Sequence[str]) -> dict[str, Any]:
    """A study's entry in the report's overview, read like the answer page of a lesson.

    Args:
        results: The study's claim results (:func:`suite.claims.evaluate`), in order.
        entries: Its leaderboard entries (for the decisive numbers).
        varying: The axes it varies (for the key figure).

    Returns:
        ``word`` (:func:`verdict_word`, None without claims), ``short`` (one or two plain
        sentences: the verdict with the claim count, then :func:`numbers_sentence`),
        ``evidence`` (``[(heading, [claim brief, ...]), ...]`` by verdict, every claim, for a
        folded ``<details>``) and ``key_kind`` (:func:`key_figure_kind`).
    """
    word = verdict_word(results)
    numbers = numbers_sentence(entries)
    if word is None:
        short = f"No claims to check. {numbers}".strip()
    else:
        n = counts(results)
        extra = ", ".join(f"{n[v]} {label}" for v, label in (("fails", "fail"),
                                                              ("inconclusive", "cannot be checked"))
                          if n[v])
        short = (f"{word}: {n['holds']} of {len(results)} claims hold"
                 + (f" ({extra})" if extra else "") + f". {numbers}").strip()
    evidence = []
    for verdict, heading in (("holds", "Holds"), ("fails", "Fails"),
                             ("inconclusive", "Cannot be checked")):
        chosen = [claim_brief(r) for r in results if r["verdict"] == verdict]
        if chosen:
            evidence.append((heading, chosen))
    return {"word": word, "short": short, "evidence": evidence, "key_kind": key_figure_kind(varying)}
