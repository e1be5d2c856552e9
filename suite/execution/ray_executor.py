"""``--executor ray``: the same runs as Ray tasks, for a cluster (or many local cores).

Each run is one Ray task declared with ``max_calls=1``, so it trains in a
fresh worker process that exits afterwards (the same isolation as the local
executor), with ``cpus`` CPUs (default 1, also its TensorFlow thread count)
and ``gpus`` GPUs (default 0). The worker returns the record; the driver
writes it atomically into the same store, so resume, ``report`` and
``verify`` work exactly as with local runs. A task that raises or whose
worker dies is recorded as ``failed`` with the error.

Connecting: ``--address ADDR`` (or ``RAY_ADDRESS``) joins an existing cluster;
without either, Ray starts a local one. The code reaches the workers as Ray's
``working_dir`` (this checkout without ``reports/``, ``.git`` and test data)
unless ``ship_code=False``, for clusters where the suite is installed on
every node. If Ray is already initialised in this process (as in the tests),
that instance is used and left running.

Ray is optional: ``pip install -r requirements-ray.txt``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

from suite.api import SuiteError
from suite.env import ROOT
from suite.execution.spec import WorkerSpec, failed_record, utc_now, worker_spec
from suite.results import atomic_write_json, record_path

EXCLUDES = ["reports/", ".git/", "tests/data/", "**/__pycache__/", ".venv/", "*.log"]


def _import_ray():
    try:
        import ray
    except ImportError:
        raise SuiteError("--executor ray needs Ray: pip install -r requirements-ray.txt") from None
    return ray


def _train(spec: WorkerSpec) -> dict[str, Any]:
    """Body of the Ray task: trains one run in this (fresh) worker process.

    The worker module (TensorFlow) is imported here, in the Ray worker, never in the driver.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from suite.execution.worker import run_spec

    return run_spec(spec)


def connect(address: str | None = None, ship_code: bool = True) -> bool:
    """Initialises Ray unless it already is; returns whether this call started it."""
    ray = _import_ray()
    if ray.is_initialized():
        return False
    runtime_env: dict[str, Any] = {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}}
    if ship_code:
        runtime_env.update(working_dir=str(ROOT), excludes=EXCLUDES)
    else:
        runtime_env["env_vars"]["PYTHONPATH"] = str(ROOT)
    try:
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, runtime_env=runtime_env,
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    except Exception as err:  # noqa: BLE001 - any connection problem is the user's to fix
        raise SuiteError(f"cannot start or join Ray (address {address or 'local'}): "
                         f"{type(err).__name__}: {err}") from None
    return True


def execute(runs: dict[str, dict[str, Any]], out: Path, pending: list[str], tasks_paths: list[str],
            cpus: float = 1, gpus: float = 0) -> Iterator[tuple[str, str]]:
    """Runs ``pending`` as Ray tasks; yields ``(run_id, status)`` as each record is written.

    Args:
        runs: Resolved configurations by run id.
        out: The output directory (records go to ``out/runs``).
        pending: Run ids, in submission order (longest first).
        tasks_paths: Extra plugin folders (must exist on the workers too).
        cpus: CPUs per run (default 1), also its TensorFlow thread count.
        gpus: GPUs per run (default 0).
    """
    ray = _import_ray()
    remote = ray.remote(max_calls=1)(_train).options(num_cpus=cpus, num_gpus=gpus)
    refs = {}
    for rid in pending:
        spec = worker_spec(rid, runs[rid], tasks_paths, max(1, int(cpus)), record_path(out, rid))
        refs[remote.remote(spec)] = (rid, utc_now())
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            ref = ready[0]
            rid, started = refs.pop(ref)
            try:
                record = ray.get(ref)
            except Exception as err:  # noqa: BLE001 - a crashed task is a failed run
                record = failed_record(rid, runs[rid], f"Ray task failed: {type(err).__name__}: {err}",
                                       started)
            atomic_write_json(record_path(out, rid), record)
            yield rid, record["status"]
    finally:
        for ref in refs:
            ray.cancel(ref, force=True)
