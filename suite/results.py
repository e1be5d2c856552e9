"""The results store: one JSON record per run, written atomically.

Layout of an output directory::

    suite.json        manifest: suite name and file text, studies, run configs
    runs/<id>.json    one record per finished run (ok, diverged or failed)
    logs/<id>.log     the worker's stderr
    summary.csv       one row per run (rewritten after every suite run)
    index.html        the report

A record is written to a temporary file in ``runs/`` and renamed into place
(``os.replace``), so a killed run never leaves a record that looks complete.
This module does not import TensorFlow: the report reads only stored data.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from suite.api import SuiteError

#: Version of the run-record and manifest format written to results directories.
SCHEMA_VERSION = 1

#: Statuses that count as finished: rerunning a suite skips these runs.
FINISHED = ("ok", "diverged")

SUMMARY_COLUMNS = (
    "run_id", "study", "task", "cell", "activation", "hidden", "depth", "recurrent_initializer",
    "kernel_initializer", "batchnorm", "optimizer", "learning_rate", "clipnorm", "global_clipnorm",
    "seq_len", "seed", "status", "steps_done", "final_val_loss", "chance_loss", "loss_vs_chance",
    "metric", "final_metric", "diverged_step", "max_grad_norm", "clip_rate", "wall_s", "finished_at",
    "error", "rho", "reach", "diagnosis", "rho_init", "reach_init", "kernel_sigma_max",
)


#: Fields every stored run record has, whatever its status.
REQUIRED = ("run_id", "status", "task", "seed", "config")


def atomic_write_text(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` via a synced temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _clean(obj: Any) -> Any:
    """Replaces NaN/Inf by None so records are strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def atomic_write_json(path: Path, obj: Any) -> None:
    """Atomically writes ``obj`` as strict JSON (NaN/Inf become null)."""
    atomic_write_text(path, json.dumps(_clean(obj), indent=1, sort_keys=True, allow_nan=False))


def record_path(out: Path, run_id: str) -> Path:
    return Path(out) / "runs" / f"{run_id}.json"


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_records(out: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Reads every run record under ``out/runs``.

    Returns:
        ``(records by run id, warnings)``; corrupt files, foreign files and
        records of an unknown schema version are skipped with a warning.
    """
    records: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    folder = Path(out) / "runs"
    if not folder.is_dir():
        return records, warnings
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix != ".json":
            warnings.append(f"skipped foreign file runs/{path.name}")
            continue
        try:
            rec = read_json(path)
        except (OSError, ValueError) as err:
            warnings.append(f"skipped corrupt record runs/{path.name}: {err}")
            continue
        if not isinstance(rec, dict) or rec.get("schema_version") != SCHEMA_VERSION:
            ver = rec.get("schema_version") if isinstance(rec, dict) else None
            warnings.append(f"skipped runs/{path.name}: unknown schema version {ver!r} "
                            f"(this suite reads {SCHEMA_VERSION})")
            continue
        missing = [k for k in REQUIRED if k not in rec]
        if missing:
            warnings.append(f"skipped runs/{path.name}: not a run record (missing {', '.join(missing)})")
            continue
        records[rec["run_id"]] = rec
    return records, warnings


def studies_of(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """Run id -> names of the studies that contain it."""
    out: dict[str, list[str]] = {}
    for study in manifest.get("studies", []):
        for rid in study["run_ids"]:
            out.setdefault(rid, []).append(study["name"])
    return out


def summary_row(rec: dict[str, Any], studies: Iterable[str]) -> dict[str, Any]:
    """The summary.csv row of one record."""
    cfg, final = rec["config"], rec.get("final", {})
    chance = rec.get("chance_loss")
    loss = final.get("val_loss")
    row = {k: cfg.get(k) for k in SUMMARY_COLUMNS}
    row.update(
        run_id=rec["run_id"], study=";".join(studies), seq_len=cfg["task_params"].get("seq_len"),
        status=rec["status"], steps_done=rec.get("steps_done"), final_val_loss=loss,
        chance_loss=chance, loss_vs_chance=(loss / chance if loss is not None and chance else None),
        metric=final.get("metric"), final_metric=final.get("metric_value"),
        diverged_step=rec.get("diverged_step"), max_grad_norm=final.get("max_grad_norm"),
        clip_rate=final.get("clip_rate"), wall_s=rec.get("timing", {}).get("wall_s"),
        finished_at=rec.get("finished_at"), error=rec.get("error"),
    )
    for key, value in rec.get("health", {}).get("summary", {}).items():
        row[key] = value
    return row


def write_summary(out: Path, manifest: dict[str, Any], records: dict[str, dict[str, Any]]) -> Path:
    """Writes ``summary.csv`` (one row per run in the manifest that has a record)."""
    membership = studies_of(manifest)
    rows = [summary_row(records[rid], membership.get(rid, [])) for rid in manifest["runs"]
            if rid in records]
    extra = sorted({k for r in rows for k in r} - set(SUMMARY_COLUMNS))
    text_rows = [{k: ("" if v is None else v) for k, v in r.items()} for r in rows]
    path = Path(out) / "summary.csv"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(SUMMARY_COLUMNS) + extra, lineterminator="\n")
    writer.writeheader()
    writer.writerows(text_rows)
    atomic_write_text(path, buf.getvalue())
    return path


def load_manifest(out: Path) -> dict[str, Any]:
    """Reads ``DIR/suite.json``; SuiteError if it is missing or unreadable."""
    path = Path(out) / "suite.json"
    try:
        manifest = read_json(path)
    except FileNotFoundError:
        raise SuiteError(f"{out}: no suite.json here; is this a suite output directory?") from None
    except (OSError, ValueError) as err:
        raise SuiteError(f"{path}: unreadable manifest ({err})") from None
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise SuiteError(f"{path}: schema version {manifest.get('schema_version')!r} is not "
                         f"{SCHEMA_VERSION}")
    return manifest
