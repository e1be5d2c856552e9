"""A study's answer in words, from its claims' verdicts and its numbers.

A study's claims state what the literature expects its question's answer to
be (README "Claims": write the question so that the claims, holding, answer
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
