"""``report DIR --tensorboard``: each run's scalars as TensorBoard event files.

Writes ``DIR/tensorboard/<task>/<configuration>_seed<k>_<run id>/events.out.tfevents...``
so ``tensorboard --logdir DIR/tensorboard`` shows every run, grouped by task.
Scalars: ``train/batch_loss``, ``train/grad_norm`` (pre-clip, global),
``train/grad_norm/<layer>``, ``train/clipped`` per step; ``val/loss`` and the
task's metrics per evaluation; ``health/rho``, ``health/reach``,
``health/kernel_sigma_max``, ``health/jacobian_sigma_mean`` and
``health/saturation/<gate>`` per probe. Event files are written with
TensorFlow's record writer and ``Event`` protos (no ``tensorboard`` package
needed); the command line imports this module only when the export is asked for.
"""
from __future__ import annotations

import math
import re
import shutil
import time
from pathlib import Path
from typing import Iterator, Mapping

import tensorflow as tf
from tensorflow.core.framework import summary_pb2
from tensorflow.core.util import event_pb2

from suite.runs import label as run_label
from suite.store.schema import Manifest, RunRecord


def scalars(rec: RunRecord) -> Iterator[tuple[str, int, float | None]]:
    """(tag, step, value) for every scalar of a run record (None or non-finite where not measured)."""
    curves = rec.get("curves", {})
    names = {"loss": "train/batch_loss", "grad_norm": "train/grad_norm", "clipped": "train/clipped"}
    for key, values in curves.items():
        tag = names.get(key) or ("train/grad_norm/" + key[3:] if key.startswith("gn/") else f"train/{key}")
        for i, v in enumerate(values, 1):
            yield tag, i, v
    for ev in rec.get("evals", []):
        for key, v in ev.items():
            if key != "step":
                yield ("val/loss" if key == "val_loss" else f"val/{key}"), ev["step"], v
    for p in rec.get("probes") or []:
        yield "health/rho", p["step"], p.get("rho")
        yield "health/reach", p["step"], p.get("reach")
        yield "health/kernel_sigma_max", p["step"], (p.get("kernel") or {}).get("sigma_max")
        yield "health/jacobian_sigma_mean", p["step"], p.get("jacobian_sigma_mean")
        for gate, v in (p.get("saturation") or {}).items():
            yield f"health/saturation/{gate}", p["step"], v


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=:-]+", "_", text)[:80]


def export(out: Path, manifest: Manifest, records: Mapping[str, RunRecord]) -> Path:
    """Writes one event file per run under ``out/tensorboard`` (replacing an older export).

    Returns:
        The ``tensorboard`` folder.
    """
    varying: dict[str, list[str]] = {}
    for study in manifest.get("studies", []):
        for rid in study["run_ids"]:
            varying.setdefault(rid, study.get("varying", []))
    root = Path(out) / "tensorboard"
    if root.exists():
        shutil.rmtree(root)
    for rid, rec in records.items():
        label = _safe(run_label(rec["config"], varying.get(rid, [])).replace(", ", ","))
        folder = root / _safe(rec["task"]) / f"{label}_seed{rec['seed']}_{rid}"
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        path = folder / f"events.out.tfevents.{int(now)}.rnn-suite"
        with tf.io.TFRecordWriter(str(path)) as writer:
            writer.write(event_pb2.Event(wall_time=now, file_version="brain.Event:2").SerializeToString())
            for tag, step, value in scalars(rec):
                if value is None or not math.isfinite(value):
                    continue
                summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag,
                                                                               simple_value=value)])
                writer.write(event_pb2.Event(wall_time=now, step=int(step),
                                             summary=summary).SerializeToString())
    return root
