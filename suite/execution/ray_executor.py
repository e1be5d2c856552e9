"""``--executor ray``: the same runs as Ray tasks, for a cluster (or many local cores).

Each run is one Ray task declared with ``max_calls=1``, so it trains in a
fresh worker process that exits afterwards (the same isolation as the local
executor), with ``cpus`` CPUs (default 1, also its TensorFlow thread count)
and ``gpus`` GPUs (default 0). The worker returns the record; the driver
writes it atomically into the same store, so resume, ``report`` and
``verify`` work exactly as with local runs.

Failures: a task whose worker process or node dies (a node lost, preempted or
out of memory) is retried up to ``retries`` times (default
:data:`DEFAULT_RETRIES`), on any node with room; Ray reruns it from the start,
so its record is the same as a first attempt's. When the retries are spent,
the run is recorded ``failed`` with the cause first (``node died (after 3
attempts): NodeDiedError: ...``, ``worker died ...``, ``out of memory ...``;
:func:`describe_failure`) and the next invocation reruns it. An exception inside the run is not retried (the worker records it as a
``failed`` run itself). Records are written by the driver only, one file per
run, atomically; if the driver dies, its tasks die with it, what finished is
kept, and rerunning the command resumes.

Each record's ``env["ray"]`` says where and when it ran: ``node_id``,
``node_ip``, ``pid``, and Unix times ``submitted`` (driver), ``task_started``
(the task entered its worker process) and ``run_ended`` (training and the
record done, in the worker).

Connecting: ``--address ADDR`` (or ``RAY_ADDRESS``) joins an existing cluster;
without either, Ray starts a local one. Run from a checkout, the code reaches
the workers as Ray's ``working_dir`` (this checkout without ``reports/``,
``.git`` and test data) unless ``ship_code=False`` (``--no-ship-code``), for
clusters where the suite is at the same path on every node. An installed suite
(``pip install .``; :data:`suite.env.CHECKOUT` false) ships nothing by default:
its folder is ``site-packages``, which must not be uploaded, so the workers
import the suite installed on their own node (:func:`runtime_env`). If Ray is
already initialised in this process (as in the tests), that instance is used
and left running.

Ray is optional: ``pip install -r requirements-ray.txt``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterator

from suite.api import SuiteError
from suite.env import CHECKOUT, ROOT
from suite.execution.spec import WorkerSpec, failed_record, utc_now, worker_spec
from suite.store.io import atomic_write_json, record_path

EXCLUDES = ["reports/", ".git/", "tests/data/", "**/__pycache__/", ".venv/", "*.log"]

#: Retries of a run whose worker process or node died (Ray's ``max_retries``): 3 attempts.
DEFAULT_RETRIES = 2

#: Ray's exceptions for a lost worker or node, by class name, and how a record names the cause.
SYSTEM_FAILURES = {"NodeDiedError": "node died", "LocalRayletDiedError": "node died",
                   "WorkerCrashedError": "worker died", "OutOfMemoryError": "out of memory"}


def _import_ray():
    try:
        import ray
    except ImportError:
        raise SuiteError("--executor ray needs Ray: pip install -r requirements-ray.txt") from None
    return ray


def _train(spec: WorkerSpec, submitted: float) -> dict[str, Any]:
    """Body of the Ray task: trains one run in this (fresh) worker process.

    The worker module (TensorFlow) is imported here, in the Ray worker, never in the driver.

    Args:
        spec: The run.
        submitted: When the driver submitted it (Unix time), kept in ``env["ray"]``.
    """
    entered = time.time()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import ray

    from suite.execution.worker import run_spec

    record = run_spec(spec)
    context = ray.get_runtime_context()
    record.setdefault("env", {})["ray"] = {
        "node_id": context.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
        "pid": os.getpid(), "submitted": submitted, "task_started": entered, "run_ended": time.time()}
    return record


def describe_failure(err: BaseException, retries: int) -> str:
    """The ``error`` of a run whose Ray task failed, its cause first.

    Args:
        err: What ``ray.get`` raised.
        retries: The retries the task had (spent when a system failure reaches the driver).

    Returns:
        E.g. ``node died (after 3 attempts): NodeDiedError: ...``; ``Ray task failed: ...``
        for any other error.
    """
    text = " ".join(f"{type(err).__name__}: {err}".split())
    cause = SYSTEM_FAILURES.get(type(err).__name__)
    if cause is None:
        return f"Ray task failed: {text}"
    return f"{cause} (after {retries + 1} attempt{'s' if retries else ''}): {text}"


def runtime_env(ship_code: bool | None = None, checkout: bool = CHECKOUT,
                root: Path = ROOT) -> dict[str, Any]:
    """Ray's ``runtime_env`` for the workers: how the suite's code reaches them.

    Args:
        ship_code: True: upload ``root`` as the ``working_dir`` (checkouts only);
            False: ship nothing; None (default): ship a checkout, not an installed suite.
        checkout: Whether the suite runs from a checkout (default :data:`suite.env.CHECKOUT`).
        root: The folder holding the ``suite`` package (default :data:`suite.env.ROOT`).

    Returns:
        ``{"env_vars": ..., "working_dir": root, "excludes": EXCLUDES}`` when shipping;
        without shipping, a checkout's workers get ``PYTHONPATH=root`` (the checkout at the
        same path on every node) and an installed suite's nothing (their own installation).

    Raises:
        SuiteError: ``ship_code=True`` for an installed suite (its ``root`` is
            ``site-packages``, which is never uploaded).
    """
    if ship_code and not checkout:
        raise SuiteError(f"cannot ship the code of an installed suite (it would upload {root}); "
                         "install the suite on every node and run without shipping")
    env: dict[str, Any] = {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}}
    if checkout and ship_code is not False:
        env.update(working_dir=str(root), excludes=EXCLUDES)
    elif checkout:
        env["env_vars"]["PYTHONPATH"] = str(root)
    return env


def connect(address: str | None = None, ship_code: bool | None = None) -> bool:
    """Initialises Ray unless it already is; returns whether this call started it.

    Args:
        address: The cluster's address (default: ``RAY_ADDRESS``, else a local Ray).
        ship_code: Whether to upload the checkout as the ``working_dir``; None (default):
            yes from a checkout, no for an installed suite (:func:`runtime_env`).
    """
    ray = _import_ray()
    if ray.is_initialized():
        return False
    env = runtime_env(ship_code)
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        ray.init(address=address, runtime_env=env,
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    except Exception as err:  # noqa: BLE001 - any connection problem is the user's to fix
        hint = ""
        if address and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
            hint = ("; a cluster with token authentication needs RAY_AUTH_MODE=token "
                    "and RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH in this environment")
        raise SuiteError(f"cannot start or join Ray (address {address or 'local'}): "
                         f"{type(err).__name__}: {err}{hint}") from None
    return True


def execute(runs: dict[str, dict[str, Any]], out: Path, pending: list[str], tasks_paths: list[str],
            cpus: float = 1, gpus: float = 0,
            retries: int = DEFAULT_RETRIES) -> Iterator[tuple[str, str]]:
    """Runs ``pending`` as Ray tasks; yields ``(run_id, status)`` as each record is written.

    Args:
        runs: Resolved configurations by run id.
        out: The output directory (records go to ``out/runs``).
        pending: Run ids, in submission order (longest first).
        tasks_paths: Extra plugin folders (must exist on the workers too).
        cpus: CPUs per run (default 1), also its TensorFlow thread count.
        gpus: GPUs per run (default 0).
        retries: Retries of a run whose worker or node died (default :data:`DEFAULT_RETRIES`).
    """
    ray = _import_ray()
    remote = ray.remote(max_calls=1)(_train).options(num_cpus=cpus, num_gpus=gpus,
                                                      max_retries=retries, retry_exceptions=False)
    refs = {}
    for rid in pending:
        spec = worker_spec(rid, runs[rid], tasks_paths, max(1, int(cpus)), record_path(out, rid))
        refs[remote.remote(spec, time.time())] = (rid, utc_now())
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            ref = ready[0]
            rid, started = refs.pop(ref)
            try:
                record = ray.get(ref)
            except Exception as err:  # noqa: BLE001 - a crashed task is a failed run
                record = failed_record(rid, runs[rid], describe_failure(err, retries), started)
            atomic_write_json(record_path(out, rid), record, root=out)  # refuses paths outside out
            yield rid, record["status"]
    finally:
        for ref in refs:
            ray.cancel(ref, force=True)
