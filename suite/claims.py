"""Claims: expectations a suite file states about its results, checked against stored runs.

A ``[[study.claim]]`` (format: docs/suite-files.md "Claims"; parsed by
:func:`suite.claim_spec.parse_claim` and stored in the manifest's studies) names
runs of its study (``tasks`` and ``where``), a metric, an operator and either
a ``value`` or ``than`` (the median of the same metric over other runs, times
``factor``). Its verdict is

* **holds** / **fails**: the runs' values, combined over seeds by ``over``
  (``all``: every value satisfies it; ``any``: at least one does;
  ``median``: their median does), satisfy the comparison or not;
* **inconclusive**: no stored run matches, or a value that decides the
  verdict is missing (e.g. the final loss of a diverged run, or ``solved``
  where the task declares no solved level). With ``all``, one value that fails
  is enough to fail; with ``any``, one that holds is enough to hold.

Pure Python over stored records and the manifest (no TensorFlow, no pandas),
so ``run_suite.py check DIR`` and the report give the same verdicts.
"""
from __future__ import annotations

import math
import operator
import statistics
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from suite.runs import (  # noqa: F401  (solved, run_values, first_step_at_or_below: claims' API)
    THRESHOLD,
    first_step_at_or_below,
    fmt,
    label,
    matches,
    run_values,
    solved,
)
from suite.store.io import atomic_write_json

#: Version of the ``claims.json`` layout.
CLAIMS_VERSION = 1
VERDICTS = ("holds", "fails", "inconclusive")

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne}


def _fmt(value: Any) -> str:
    """A claim value as text: :func:`suite.runs.fmt`, where ``inf`` (a step never reached) reads
    ``not reached``."""
    return "not reached" if value == math.inf else fmt(value)


def _select(runs: list[dict[str, Any]], claim: Mapping[str, Any],
            where: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [r for r in runs if r["task"] in claim["tasks"] and matches(r["config"], where)]


def _combine(values: list[Any], op: str, target: Any, over: str) -> tuple[str, str]:
    """(verdict, reason) of values against ``op target`` combined by ``over``."""
    test = _OPS[op]
    present = [v for v in values if v is not None]
    missing = len(values) - len(present)
    if over == "median":
        if missing:
            return "inconclusive", f"{missing} of {len(values)} values missing"
        return ("holds" if test(statistics.median(present), target) else "fails"), ""
    passed = [test(v, target) for v in present]
    if over == "all" and not all(passed):
        return "fails", ""
    if over == "any" and any(passed):
        return "holds", ""
    if missing:
        return "inconclusive", f"{missing} of {len(values)} values missing"
    return ("holds" if over == "all" else "fails"), ""


def _observed(runs: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    return [{"run_id": r["run_id"], "task": r["task"], "label": r["label"], "seed": r["seed"],
             "value": r["values"].get(metric), "text": _fmt(r["values"].get(metric))}
            for r in runs]


def evaluate_claim(claim: Mapping[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The verdict of one claim over its study's runs (as built by :func:`evaluate`).

    Returns:
        The claim's fields plus ``verdict``, ``reason`` (why inconclusive, else
        ""), ``target`` (the number or value compared with; None when unknown),
        ``observed`` (``run_id``, ``task``, ``label``, ``seed``, ``value`` per
        matching run) and, with ``than``, ``reference`` (its observed runs and
        their ``median``).
    """
    out = {**claim, "verdict": "inconclusive", "reason": "", "target": claim["value"],
           "observed": [], "reference": None}
    mine = _select(runs, claim, claim["where"])
    out["observed"] = _observed(mine, claim["metric"])
    if not mine:
        out["reason"] = "no stored run matches 'where'"
        return out
    if claim["than"] is not None:
        ref = _select(runs, claim, {**claim["where"], **claim["than"]})
        observed = _observed(ref, claim["metric"])
        ref_values = [o["value"] for o in observed]
        median = (statistics.median(ref_values) if ref_values and None not in ref_values
                  else None)
        out["reference"] = {"observed": observed, "median": median}
        if median is None:
            out["reason"] = ("no stored run matches 'than'" if not ref
                             else "a value of the 'than' runs is missing")
            return out
        out["target"] = claim["factor"] * median
    values = [o["value"] for o in out["observed"]]
    if claim["metric"] == "solved" and all(v is None for v in values):
        out["reason"] = ("no solved level stored for these runs: the task declares none, or the "
                         "results predate solved levels")
        return out
    out["verdict"], out["reason"] = _combine(values, claim["op"], out["target"], claim["over"])
    return out


def study_runs(study: Mapping[str, Any], values: Mapping[str, dict[str, Any]],
               records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The stored runs of a study as claims see them, sorted by label, seed and run id."""
    varying = study.get("varying", [])
    runs = [{"run_id": rid, "task": records[rid]["task"], "seed": records[rid]["seed"],
             "config": records[rid]["config"], "label": label(records[rid]["config"], varying),
             "values": values[rid]}
            for rid in study["run_ids"] if rid in records]
    return sorted(runs, key=lambda r: (r["task"], r["label"], r["seed"], r["run_id"]))


def evaluate(manifest: Mapping[str, Any], records: Mapping[str, Mapping[str, Any]],
             fraction: float = THRESHOLD) -> list[dict[str, Any]]:
    """Every claim of every study of ``manifest``, in file order, with its verdict.

    Args:
        manifest: The parsed ``suite.json`` (its studies' ``claims`` and ``solved_levels``).
        records: Run records by id (``load_records``).
        fraction: Steps-to-threshold level as a fraction of chance (default 0.1).

    Returns:
        :func:`evaluate_claim` results, each with ``study`` (the study's name) added.
    """
    levels = manifest.get("solved_levels") or {}
    values = {rid: run_values(rec, levels.get(rid), fraction) for rid, rec in records.items()}
    results = []
    for study in manifest.get("studies", []):
        claims = study.get("claims") or []
        if not claims:
            continue
        runs = study_runs(study, values, records)
        results += [{**evaluate_claim(c, runs), "study": study["name"]} for c in claims]
    return results


def counts(results: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``{"holds": n, "fails": n, "inconclusive": n}``."""
    out = dict.fromkeys(VERDICTS, 0)
    for r in results:
        out[r["verdict"]] += 1
    return out


def target_text(result: Mapping[str, Any]) -> str:
    """What the claim compares with: ``0.9``, or ``0.1 x median of cell=simple_rnn (0.98) = 0.098``."""
    if result["than"] is None:
        return _fmt(result["value"])
    keys = ", ".join(f"{k}={_fmt(v)}" for k, v in result["than"].items())
    median = (result["reference"] or {}).get("median")
    factor = f"{result['factor']:g} x " if result["factor"] != 1.0 else ""
    text = f"{factor}median of {keys} ({_fmt(median)})"
    return text + (f" = {_fmt(result['target'])}" if factor and median is not None else "")


def observed_text(result: Mapping[str, Any]) -> str:
    """The observed values: ``cell=gru seed 0: 0.003, cell=gru seed 1: 0.004`` (or ``no runs``)."""
    obs = result["observed"]
    return ", ".join(f"{o['label']} seed {o['seed']}: {o['text']}" for o in obs) or "no runs"


def check_line(result: Mapping[str, Any]) -> str:
    """One line per claim for ``run_suite.py check``: verdict, id, text, source, test, numbers."""
    line = (f"{result['verdict'].upper():<12} {result['id']}: {result['text']} "
            f"[{result['source']}] -- {result['metric']} {result['op']} {target_text(result)} "
            f"over {result['over']}; observed {observed_text(result)}")
    return line + (f" ({result['reason']})" if result["reason"] else "")


def write_claims(out: Path, manifest: Mapping[str, Any], results: list[dict[str, Any]],
                 fraction: float = THRESHOLD) -> Path:
    """Writes ``out/claims.json``: ``{"version", "suite", "threshold", "counts", "claims"}``."""
    path = Path(out) / "claims.json"
    atomic_write_json(path, {"version": CLAIMS_VERSION, "suite": manifest.get("name"),
                             "threshold": fraction, "counts": counts(results),
                             "claims": results})
    return path
