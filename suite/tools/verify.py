"""``python run_suite.py verify DIR [--sample N]``: are stored runs reproducible here?

Reruns N recorded runs (a deterministic sample: the first N run ids in sorted
order, or all with ``--sample 0``) in fresh worker processes, into a temporary
directory, and compares their curves, evaluations and probes with the stored
ones. Prints, per run, ``identical`` or where the two first differ, and which
environment fields (versions, CPU, git commit, threads) differ.

Task plugins are found where the result set says they came from (the
manifest's ``tasks_paths`` and ``task_origins``; installed entry points are
found anyway), or in the ``--tasks-path`` folders when given; a task that
cannot be found stops ``verify`` with one line saying where it came from.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from suite.api import SuiteError
from suite.env import ROOT
from suite.execution.spec import worker_argv, worker_env, worker_spec
from suite.registry import find_stored_tasks
from suite.store.io import load_manifest, load_records, read_json

COMPARED = ("curves", "evals", "probes", "status", "diverged_step")
ENV_FIELDS = ("python", "tensorflow", "keras", "numpy", "cpu", "cpu_count", "git_commit",
              "intra_op_threads", "inter_op_threads", "tf_enable_onednn_opts")


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The JSON path where ``a`` and ``b`` first differ, with both values, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: present in only one"
            diff = first_difference(a[key], b[key], f"{path}.{key}")
            if diff:
                return diff
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            diff = first_difference(x, y, f"{path}[{i}]")
            if diff:
                return diff
        return None if len(a) == len(b) else f"{path}: length {len(a)} vs {len(b)}"
    return None if a == b else f"{path}: stored {a!r}, rerun {b!r}"


def rerun(record: dict[str, Any], tasks_paths: list[str], workdir: Path) -> dict[str, Any]:
    """Trains the run of ``record`` again in a fresh worker and returns the new record."""
    rid = record["run_id"]
    spec = worker_spec(rid, record["config"], tasks_paths,
                       record.get("env", {}).get("intra_op_threads") or 0, workdir / f"{rid}.json")
    spec_path = workdir / f"{rid}.spec.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run(worker_argv(spec_path), cwd=ROOT, env=worker_env(), capture_output=True,
                          text=True)
    if proc.returncode != 0 or not (workdir / f"{rid}.json").exists():
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        raise SuiteError(f"verify: rerun of {rid} failed (exit {proc.returncode}): {last}")
    return read_json(workdir / f"{rid}.json")


def verify(out: Path, sample: int, tasks_paths: list[str],
           workers: int = 1) -> tuple[int, int, list[str]]:
    """Reruns ``sample`` stored runs of ``out``; returns (identical, checked, report lines).

    Args:
        out: A suite output directory.
        sample: Runs to rerun (0: all).
        tasks_paths: Plugin folders; empty: those the result set remembers.
        workers: Reruns at once (default 1), each a fresh worker process with the thread
            count its record stores; the lines come in run-id order whatever the count.

    Raises:
        SuiteError: nothing to check, or a task of the chosen runs cannot be found.
    """
    records, warnings = load_records(out)
    ids = sorted(rid for rid, r in records.items() if r.get("status") in ("ok", "diverged"))
    if not ids:
        raise SuiteError(f"verify: {out} has no finished run to check")
    chosen = ids if sample == 0 else ids[:sample]
    try:
        manifest: dict[str, Any] = dict(load_manifest(out))
    except SuiteError:
        manifest = {}  # records without a manifest: only --tasks-path and installed plugins
    try:
        tasks_paths, _ = find_stored_tasks({records[r]["task"] for r in chosen}, manifest, tasks_paths)
    except SuiteError as err:
        raise SuiteError(f"verify: {out}: {err}") from None
    lines, same = [f"warning: {w}" for w in warnings], 0
    with tempfile.TemporaryDirectory(prefix="rnn-verify-") as tmp, \
            ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        reruns = pool.map(lambda rid: rerun(records[rid], tasks_paths, Path(tmp)), chosen)
        for rid, new in zip(chosen, reruns):
            old = records[rid]
            diff = first_difference({k: old.get(k) for k in COMPARED}, {k: new.get(k) for k in COMPARED})
            env_diff = [f"{k}: {old.get('env', {}).get(k)!r} -> {new.get('env', {}).get(k)!r}"
                        for k in ENV_FIELDS if old.get("env", {}).get(k) != new.get("env", {}).get(k)]
            if diff is None:
                same += 1
                lines.append(f"{rid}  identical")
            else:
                lines.append(f"{rid}  DIFFERS at {diff}")
            if env_diff:
                lines.append("    environment: " + "; ".join(env_diff))
    lines.append(f"{same}/{len(chosen)} identical")
    return same, len(chosen), lines
