"""The worker spec, the worker's command line, and records of runs that ended without one.

TF-free, so the driver (local runner, Ray driver, ``verify``) never imports
TensorFlow. A *worker spec* is the one JSON document that tells a worker
process (:mod:`suite.execution.worker`) what to train; :func:`worker_spec` is
its only constructor.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import sys
from pathlib import Path
from typing import Any, TypedDict

from suite.env import ROOT
from suite.store.schema import RunRecord, run_record


class WorkerSpec(TypedDict):
    """What a worker needs to train one run.

    Attributes:
        run_id: The run id (:func:`suite.ids.run_id`).
        config: The resolved run configuration.
        tasks_paths: Extra plugin folders (absolute paths).
        threads: TensorFlow intra/inter-op threads (0: TensorFlow's default).
        record_path: Where the worker writes the record.
    """

    run_id: str
    config: dict[str, Any]
    tasks_paths: list[str]
    threads: int
    record_path: str


def worker_spec(run_id: str, config: dict[str, Any], tasks_paths: list[str], threads: int,
                record_path: Path | str) -> WorkerSpec:
    """The spec of one run (the only place a spec is built)."""
    return WorkerSpec(run_id=run_id, config=config, tasks_paths=list(tasks_paths),
                      threads=int(threads), record_path=str(record_path))


def worker_env() -> dict[str, str]:
    """The environment of a worker process: this checkout importable, TF logs quiet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def worker_argv(spec_path: Path) -> list[str]:
    """The command line that trains the run described by ``spec_path``."""
    return [sys.executable, "-m", "suite.execution.worker", str(spec_path)]


#: Terminal control sequences (colours, cursor moves: ECMA-48 CSI and OSC, other ESC pairs).
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def plain_text(text: str) -> str:
    """``text`` without terminal colour codes and other escape sequences (Keras colours its
    error messages on a terminal); stored errors are plain text."""
    return _ANSI.sub("", text)


def utc_now() -> str:
    """The current time, ISO 8601 in UTC (seconds)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def failed_record(run_id: str, config: dict[str, Any], error: str, started: str,
                  task_version: str | None = None) -> RunRecord:
    """The record of a run that ended without writing its own (worker died, task crashed).

    Used by both executors (local runner and Ray driver).

    Args:
        run_id: The run id.
        config: The resolved run configuration.
        error: What happened (colour codes stripped, cut to 2000 characters).
        started: When the run started, ISO 8601 in UTC.
        task_version: The task's version; default None: unknown to the driver
            (:func:`suite.store.io.load_records` recovers it from the run's
            siblings, for ``config_id``).
    """
    return run_record(run_id, config, status="failed", started_at=started, finished_at=utc_now(),
                      task_version=task_version, error=plain_text(error)[:2000], steps_done=0)


def describe_error(err: BaseException) -> str:
    """``Type: message`` on one line without colour codes, prefixed ``out of memory:`` for
    memory exhaustion (host or device)."""
    text = " ".join(plain_text(f"{type(err).__name__}: {err}").split())[:2000]
    oom = (isinstance(err, MemoryError) or type(err).__name__ == "ResourceExhaustedError"
           or "out of memory" in text.lower() or " OOM " in f" {text} ")
    return f"out of memory: {text}" if oom else text
