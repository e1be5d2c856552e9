"""One training run in a fresh process: ``python -m suite.execution.worker SPEC.json``.

The spec (:func:`suite.execution.spec.worker_spec`, written by the runner) holds the run id, the resolved
configuration, the plugin folders and the thread count. The worker trains,
then writes the run record atomically to ``runs/<id>.json``. An exception in
the run is recorded as status ``failed`` with its message; the process still
exits 0, so only a worker that dies without a word needs the runner's help.
"""
from __future__ import annotations

import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from suite.api import horizon, sequence_length
from suite.env import environment
from suite.execution.spec import WorkerSpec, describe_error, plain_text, utc_now
from suite.health.diagnosis import summarise
from suite.health.probe import make_probe
from suite.model.run_loop import RunFailed, train
from suite.model.xla import use_xla
from suite.registry import discover
from suite.store.io import atomic_write_json, read_json
from suite.store.schema import RunRecord, run_record


def final_numbers(result: dict[str, Any], primary: str) -> dict[str, Any]:
    """Headline numbers of a finished run: last evaluation and gradient stats.

    A diverged run has no final loss or metric (its weights are not usable);
    its last evaluation stays in ``evals``.
    """
    evals = result.get("evals") or []
    last = evals[-1] if evals and result.get("status") == "ok" else {}
    norms = [g for g in result.get("curves", {}).get("grad_norm", []) if g is not None and math.isfinite(g)]
    clipped = result.get("curves", {}).get("clipped", [])
    return {"val_loss": last.get("val_loss"), "metric": primary, "metric_value": last.get(primary),
            "eval_step": last.get("step"), "val_loss_batch_stats": last.get("val_loss_batch_stats"),
            "max_grad_norm": max(norms) if norms else None,
            "clip_rate": (sum(clipped) / len(clipped)) if clipped else None}


def clip_config(config: dict[str, Any]) -> dict[str, float]:
    """The run's positive clip settings (``clipnorm``, ``global_clipnorm``; empty: no clipping)."""
    return {k: float(config[k]) for k in ("clipnorm", "global_clipnorm", "clipvalue")
            if config.get(k, 0) > 0}


def recurrent_kernel(config: dict[str, Any], gpus: int) -> dict[str, Any]:
    """Which recurrent kernel a run can use: cuDNN needs a GPU, an LSTM or GRU layer (Keras has
    none for SimpleRNN), default activations and no recurrent dropout (the suite uses none),
    so recurrent BatchNorm, which runs a custom cell, never can."""
    if config["cell"] == "simple_rnn":
        why = "SimpleRNN has no cuDNN kernel in Keras"
    elif config["batchnorm"] in ("recurrent", "recurrent_sum"):
        why = "recurrent BatchNorm runs a custom cell"
    else:
        why = ""
    if not gpus:
        return {"device": "CPU", "cudnn": False, "why_not": "no GPU"}
    return {"device": "GPU", "cudnn": not why, "why_not": why}


def tf_environment() -> dict[str, Any]:
    """TensorFlow and Keras versions, thread pools and devices of this process."""
    return {"tensorflow": tf.__version__, "keras": keras.__version__,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "devices": [d.device_type for d in tf.config.list_logical_devices()]}


def configure_threads(threads: int) -> None:
    """Sets TensorFlow's intra- and inter-op thread pools (0 keeps TF's default)."""
    if threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def run_spec(spec: WorkerSpec) -> RunRecord:
    """Trains the run described by ``spec`` and returns its record (:class:`RunRecord`)."""
    t0 = time.perf_counter()
    started = utc_now()
    configure_threads(int(spec.get("threads", 0)))
    config = spec["config"]
    record: dict[str, Any] = {}
    task, length = None, None
    try:
        task = discover(spec.get("tasks_paths", []))[config["task"]]
        record["task_info"] = task.describe(config["task_params"])
        length = sequence_length(task, config["task_params"])
        record["horizon"] = horizon(task, config["task_params"])
        result = train(config, task, make_probe=make_probe)
        record.update(result)
        record["final"] = final_numbers(result, task.primary_metric)
        record["health"] = summarise(result, horizon=record["horizon"], clip=clip_config(config))
    except Exception as err:  # noqa: BLE001 - failures are data
        cause = err.error if isinstance(err, RunFailed) else err
        if isinstance(err, RunFailed):
            record.update(err.partial)
        record.update(status="failed", error=describe_error(cause),
                      traceback=plain_text(traceback.format_exc(limit=8)))
    except SystemExit as err:  # a task's code ended the process: a fault named, not an exit code
        record.update(status="failed", error=f"sys.exit({err.code!r}) was called during the run of "
                      f"task '{config['task']}' (task code must raise, not exit)",
                      traceback=plain_text(traceback.format_exc(limit=8)))
    if "xla" not in record:  # a run that failed before it finished: what was asked
        compiled, why = use_xla(config)
        record["xla"] = {"setting": config.get("xla", "auto"), "compiled": compiled, "why": why,
                         "op_determinism": not compiled}
    record["env"] = {**environment(), **tf_environment()}
    gpus = sum(1 for d in record["env"].get("devices", []) if "GPU" in str(d))
    record["kernel"] = recurrent_kernel(config, gpus)
    record.setdefault("timing", {})["wall_s"] = time.perf_counter() - t0
    return run_record(spec["run_id"], config, started_at=started, finished_at=utc_now(),
                      task_version=getattr(task, "version", None), sequence_length=length,
                      **record)


def main(argv: list[str]) -> int:
    spec = read_json(Path(argv[1]))
    record = run_spec(spec)
    atomic_write_json(Path(spec["record_path"]), record)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main(sys.argv))
