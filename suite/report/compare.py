"""``compare DIR_A DIR_B``: what changed between two result sets of the same runs.

Runs are matched by run id (a hash of the resolved configuration and the task
version), so two directories made by the same suite file with different code
or library versions line up run by run. A run *changed outcome* when its
status or diagnosis differs, or its final validation loss moved by more than
``tolerance`` (relative, default 5%). Curves that are bit-identical are
reported as such. The page is one self-contained HTML file (stored data only,
no TensorFlow), written atomically.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from suite.report import figures
from suite.report.html import fmt_num, jinja_env
from suite.runs import label as run_label
from suite.runs import title as run_title
from suite.store.io import atomic_write_text, load_records, read_json
from suite.store.schema import RunRecord

#: Default relative change of a final loss that counts as changed (``compare --tolerance``).
TOLERANCE = 0.05
ENV_FIELDS = ("python", "tensorflow", "keras", "numpy", "cpu", "devices", "platform", "git_commit")


def _loss(rec: RunRecord) -> float | None:
    return (rec.get("final") or {}).get("val_loss")


def relative_change(a: float | None, b: float | None) -> float | None:
    """``(b - a) / |a|``; None when either is missing or a is 0."""
    if a is None or b is None or a == 0:
        return None
    return (b - a) / abs(a)


def varying_keys(recs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Config keys (and TASK.PARAM keys) whose values differ between runs, cell first."""
    keys = ["cell"]
    for key in sorted({k for r in recs for k in r["config"]} - {"cell", "seed", "task", "task_params"}):
        if len({repr(r["config"].get(key)) for r in recs}) > 1:
            keys.append(key)
    for key in sorted({f"{r['task']}.{k}" for r in recs for k in r["config"]["task_params"]}):
        task, param = key.split(".", 1)
        if len({repr(r["config"]["task_params"].get(param)) for r in recs if r["task"] == task}) > 1:
            keys.append(key)
    return keys


def compare_records(rec_a: RunRecord, rec_b: RunRecord, tolerance: float,
                    keys: list[str] | None = None) -> dict[str, Any]:
    """How one run differs between two result sets (``keys``: config axes for its label)."""
    la, lb = _loss(rec_a), _loss(rec_b)
    change = relative_change(la, lb)
    diag_a = (rec_a.get("health") or {}).get("summary", {}).get("diagnosis")
    diag_b = (rec_b.get("health") or {}).get("summary", {}).get("diagnosis")
    reasons = []
    if rec_a["status"] != rec_b["status"]:
        reasons.append(f"status {rec_a['status']} -> {rec_b['status']}")
    if diag_a != diag_b:
        reasons.append(f"diagnosis {diag_a} -> {diag_b}")
    if change is not None and abs(change) > tolerance:
        reasons.append(f"loss {100 * change:+.1f}%")
    identical = (rec_a.get("curves") == rec_b.get("curves") and rec_a.get("evals") == rec_b.get("evals"))
    return {"run_id": rec_a["run_id"], "task": rec_a["task"], "seed": rec_a["seed"],
            "label": run_label(rec_a["config"], keys),
            "status_a": rec_a["status"], "status_b": rec_b["status"], "loss_a": la, "loss_b": lb,
            "change": change, "diag_a": diag_a, "diag_b": diag_b, "identical": identical,
            "changed": bool(reasons), "reasons": "; ".join(reasons)}


def env_differences(recs_a: Sequence[RunRecord], recs_b: Sequence[RunRecord]) -> list[dict[str, str]]:
    """Environment fields whose sets of values differ between the two result sets."""
    out = []
    for key in ENV_FIELDS:
        va = sorted({str((r.get("env") or {}).get(key)) for r in recs_a})
        vb = sorted({str((r.get("env") or {}).get(key)) for r in recs_b})
        if va != vb:
            out.append({"field": key, "a": ", ".join(va), "b": ", ".join(vb)})
    return out


def scatter(rows: list[dict[str, Any]], name_a: str, name_b: str) -> str | None:
    """Final validation loss in A against B (log-log), one dot per run, y = x dashed."""
    pts = [(r["loss_a"], r["loss_b"], r["changed"]) for r in rows
           if r["loss_a"] and r["loss_b"] and 1e-300 < r["loss_a"] < 1e300 and 1e-300 < r["loss_b"] < 1e300]
    if not pts:
        return None
    fig, ax = figures.plt.subplots(figsize=(4.2, 4.0))
    for changed, colour, label in ((False, "#4a78b5", "within tolerance"), (True, "#c62828", "changed")):
        sel = [(a, b) for a, b, c in pts if c == changed]
        if sel:
            ax.scatter([a for a, _ in sel], [b for _, b in sel], s=16, color=colour, label=label)
    lo = min(min(a, b) for a, b, _ in pts) / 1.5
    hi = max(max(a, b) for a, b, _ in pts) * 1.5
    ax.plot([lo, hi], [lo, hi], ls="--", color="black", lw=1)
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi),
           xlabel=f"final val loss: {name_a}", ylabel=f"final val loss: {name_b}")
    ax.legend(fontsize=8)
    return figures.png(fig)


def build_comparison(dir_a: Path, dir_b: Path, out: Path, tolerance: float = TOLERANCE) -> dict[str, Any]:
    """Writes the comparison page to ``out`` and returns its counts.

    Returns:
        ``{"matched", "identical", "changed", "only_a", "only_b", "path"}``.
    """
    recs_a, warn_a = load_records(dir_a)
    recs_b, warn_b = load_records(dir_b)
    name_a = read_json(Path(dir_a) / "suite.json").get("name", str(dir_a))
    name_b = read_json(Path(dir_b) / "suite.json").get("name", str(dir_b))
    both = [rid for rid in recs_a if rid in recs_b]
    keys = varying_keys([recs_a[rid] for rid in both])
    rows = [compare_records(recs_a[rid], recs_b[rid], tolerance, keys) for rid in both]
    rows.sort(key=lambda r: (not r["changed"], -abs(r["change"] or 0.0)))
    only_a = [recs_a[r] for r in recs_a if r not in recs_b]
    only_b = [recs_b[r] for r in recs_b if r not in recs_a]
    titles = {}  # the runs in one side only, titled by what varies over that side's runs
    for recs, only in ((recs_a, only_a), (recs_b, only_b)):
        side_keys = varying_keys(list(recs.values())) if only else []
        titles.update({rec["run_id"]: run_title(rec["config"], rec.get("sequence_length"), side_keys)
                       for rec in only})

    for r in rows:
        r["fmt"] = {k: fmt_num(r[k], 4) for k in ("loss_a", "loss_b")}
        r["fmt"]["change"] = "–" if r["change"] is None else f"{100 * r['change']:+.2f}%"
    counts = {"matched": len(rows), "identical": sum(r["identical"] for r in rows),
              "changed": sum(r["changed"] for r in rows), "only_a": len(only_a), "only_b": len(only_b)}
    page = jinja_env().get_template("compare.html.j2").render(
        dir_a=str(dir_a), dir_b=str(dir_b), name_a=name_a, name_b=name_b, rows=rows,
        only_a=only_a, only_b=only_b, titles=titles, counts=counts, tolerance=tolerance,
        warnings=[f"{dir_a}: {w}" for w in warn_a] + [f"{dir_b}: {w}" for w in warn_b],
        env_diff=env_differences(list(recs_a.values()), list(recs_b.values())),
        figure=scatter(rows, f"A ({name_a})", f"B ({name_b})"))
    atomic_write_text(Path(out), page)
    return {**counts, "path": Path(out)}
