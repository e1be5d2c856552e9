"""Stable identifiers of runs and configurations (TF-free, bottom layer).

* :func:`run_id`: a resolved run configuration (seed included) and its task
  version: the name of a run's record, ``runs/<run_id>.json``.
* :func:`config_id`: the same without the seed: the runs of one
  configuration over seeds share it, and the report groups by it (a
  leaderboard row, an interval, a figure line).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping


def _digest(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def run_id(config: Mapping[str, Any], task_version: str | None) -> str:
    """Stable 12-hex-digit id of a resolved run configuration and task version."""
    return _digest({"config": dict(config), "task_version": task_version})


def config_id(config: Mapping[str, Any], task_version: str | None) -> str:
    """Stable 12-hex-digit id of a configuration over seeds (``config`` minus ``seed``)."""
    rest = {k: v for k, v in config.items() if k != "seed"}
    return _digest({"config": rest, "task_version": task_version, "over": "seeds"})
