"""Validation in depth of what is read back: run records field by field, manifests.

:func:`suite.store.schema.validate_record` checks a record's top-level fields; a
record whose *inner* values have the wrong type (``final.val_loss = "low"``,
string curve values, string eval steps, a config without ``cell``) passed it
and crashed ``report``, ``check`` and ``compare`` (issue 19). Every command
reads records through ``load_records``, which now also asks
:func:`record_problems`: a record with a problem is skipped with one warning
naming its file and the field (``final.val_loss is str, not a number or
null``), as corrupt ones are. :func:`manifest_problems` does the same for
``suite.json``, which ``load_manifest`` then refuses (exit 2, naming the field).

What is checked is what the readers use: the nested types of
:class:`suite.store.schema.RunRecord`'s ``config``, ``final``, ``timing``,
``curves``, ``evals``, ``probes``, ``health``, ``task_info`` (a corpus entry)
and ``env``; identifiers that become file names are safe single path
components. Numbers are int or float, never bool; any finite value is
accepted (1e308 too). Non-finite numbers are stored as null; a file written
with ``NaN`` by a non-strict writer is read with them turned into null
(:func:`finite`). Unknown extra fields are allowed (plugins add some).

TF-free, standard library only (bottom layer: no import of config or results).
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping

#: Identifiers that become file names (run ids, config ids): a safe single path component.
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

#: Config keys every stored record has (schema 1 on), by expected kind. Axes added later
#: (``bn_gamma``, ``clipvalue``) are optional: when present they must be numbers.
CONFIG_KEYS: dict[str, str] = {
    "task": "str", "seed": "int", "task_params": "dict",
    "cell": "str", "activation": "str", "recurrent_initializer": "str",
    "kernel_initializer": "str", "batchnorm": "str", "optimizer": "str",
    "steps": "int", "batch_size": "int", "eval_every": "int", "eval_size": "int",
    "probe_every": "int", "hidden": "int", "depth": "int",
    "learning_rate": "number", "clipnorm": "number", "global_clipnorm": "number",
}
CONFIG_OPTIONAL = {"bn_gamma": "number", "clipvalue": "number"}

#: ``final``: numbers (or null), the metric's name, the evaluation step.
FINAL_KEYS = {"val_loss": "number?", "metric_value": "number?", "max_grad_norm": "number?",
              "clip_rate": "number?", "val_loss_batch_stats": "number?", "metric": "str?",
              "eval_step": "int?"}
HEALTH_SUMMARY_KEYS = {"rho": "number?", "reach": "number?", "rho_init": "number?",
                       "reach_init": "number?", "kernel_sigma_max": "number?",
                       "grad_spike_ratio": "number?", "jacobian_sigma_max": "number?",
                       "jacobian_sigma_mean": "number?", "diagnosis": "str?"}
PROBE_KEYS = {"step": "int?", "rho": "number?", "reach": "number?", "loss": "number?",
              "profile": "numbers?"}

_NUM = (int, float)


def _kind_ok(value: Any, kind: str) -> bool:
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if value is None:
        return optional
    if isinstance(value, bool):
        return kind == "bool"
    if kind == "number":
        return isinstance(value, _NUM)
    if kind == "int":
        return isinstance(value, int)
    if kind == "str":
        return isinstance(value, str)
    if kind == "dict":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind == "numbers":
        return numbers_ok(value)
    raise ValueError(kind)


_WORDS = {"number": "a number", "int": "an integer", "str": "a string", "dict": "an object",
          "list": "a list", "numbers": "a list of numbers"}


def _expected(kind: str) -> str:
    return _WORDS[kind.rstrip("?")] + (" or null" if kind.endswith("?") else "")


def _got(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:30]}{'...' if len(text) > 30 else ''}"


def numbers_ok(values: Any) -> bool:
    """Whether ``values`` is a list of numbers or nulls (no bool, no string)."""
    return isinstance(values, list) and set(map(type, values)) <= {int, float, type(None)}


def _fields(doc: Any, kinds: Mapping[str, str], where: str, required: bool = False) -> list[str]:
    """Problems of the keys of ``doc`` listed in ``kinds`` (absent ones are fine unless required)."""
    if not isinstance(doc, dict):
        return [f"{where} is {_got(doc)}, not an object"]
    out = []
    for key, kind in kinds.items():
        if key not in doc:
            if required:
                out.append(f"{where}.{key} is missing")
        elif not _kind_ok(doc[key], kind):
            out.append(f"{where}.{key} is {_got(doc[key])}, not {_expected(kind)}")
    return out


def config_problems(cfg: Any, where: str = "config") -> list[str]:
    """Problems of a resolved run configuration as stored (record or manifest)."""
    problems = _fields(cfg, CONFIG_KEYS, where, required=True)
    if not problems:
        problems = _fields(cfg, CONFIG_OPTIONAL, where)
    return problems


def _numbers_dict(doc: Any, where: str) -> list[str]:
    if not isinstance(doc, dict):
        return [f"{where} is {_got(doc)}, not an object"]
    return [f"{where}.{k} is {_got(v)}, not a number or null" for k, v in doc.items()
            if v is not None and (isinstance(v, bool) or not isinstance(v, _NUM))]


def _curves(curves: Any) -> list[str]:
    if not isinstance(curves, dict):
        return [f"curves is {_got(curves)}, not an object"]
    return [f"curves.{k} is not a list of numbers or nulls" for k, v in curves.items()
            if not numbers_ok(v)]


def _evals(evals: Any) -> list[str]:
    if not isinstance(evals, list):
        return [f"evals is {_got(evals)}, not a list"]
    for i, row in enumerate(evals):
        where = f"evals[{i}]"
        if not isinstance(row, dict):
            return [f"{where} is {_got(row)}, not an object"]
        if isinstance(row.get("step"), bool) or not isinstance(row.get("step"), int):
            return [f"{where}.step is {_got(row.get('step'))}, not an integer"]
        bad = _numbers_dict({k: v for k, v in row.items() if k != "step"}, where)
        if bad:
            return bad
    return []


def _probes(probes: Any) -> list[str]:
    if not isinstance(probes, list):
        return [f"probes is {_got(probes)}, not a list"]
    for i, probe in enumerate(probes):
        bad = _fields(probe, PROBE_KEYS, f"probes[{i}]")
        if bad:
            return bad
    return []


def _health(health: Any) -> list[str]:
    if not isinstance(health, dict):
        return [f"health is {_got(health)}, not an object"]
    bad = _fields(health, {"reason": "str?", "profile_length": "int?"}, "health")
    if "summary" in health:
        bad += _fields(health["summary"], HEALTH_SUMMARY_KEYS, "health.summary")
    return bad


def _task_info(info: Any) -> list[str]:
    if not isinstance(info, dict):
        return [f"task_info is {_got(info)}, not an object"]
    corpus = info.get("corpus")
    if corpus is None:
        return []
    return corpus_problems(corpus, "task_info.corpus")


def corpus_problems(corpus: Any, where: str) -> list[str]:
    """Problems of a corpus entry (``describe()["corpus"]``): an object with a string
    ``sha256`` and plain values (strings, numbers, booleans, null)."""
    if not isinstance(corpus, dict):
        return [f"{where} is {_got(corpus)}, not an object with a 'sha256' string"]
    if not isinstance(corpus.get("sha256"), str):
        return [f"{where}.sha256 is {_got(corpus.get('sha256'))}, not a string"]
    return [f"{where}.{k} is {_got(v)}, not a string, number, boolean or null"
            for k, v in corpus.items() if v is not None and not isinstance(v, (str, int, float))]


def _env(env: Any) -> list[str]:
    if not isinstance(env, dict):
        return [f"env is {_got(env)}, not an object"]
    for k, v in env.items():
        if isinstance(v, list) and not all(isinstance(x, str) for x in v):
            return [f"env.{k} is a list of other things than strings"]
    return []


def record_problems(rec: Mapping[str, Any]) -> list[str]:
    """The nested problems of a record whose top-level fields already validate
    (:func:`suite.store.schema.validate_record`); empty: valid. The first problem of
    each part is reported."""
    problems = []
    for key in ("run_id", "config_id"):
        if not SAFE_ID.match(rec[key]):
            problems.append(f"{key} {rec[key][:40]!r} is not a safe id ({SAFE_ID.pattern})")
    problems += config_problems(rec["config"])[:1]
    if not problems:
        if rec["config"]["task"] != rec["task"] or rec["config"]["seed"] != rec["seed"]:
            problems.append("task or seed differs from config.task or config.seed")
    if rec["steps_done"] < 0:
        problems.append(f"steps_done is {rec['steps_done']}, not >= 0")
    problems += _fields(rec["final"], FINAL_KEYS, "final")[:1]
    problems += _numbers_dict(rec["timing"], "timing")[:1]
    checks = {"curves": _curves, "evals": _evals, "probes": _probes, "health": _health,
              "task_info": _task_info, "env": _env}
    for key, check in checks.items():
        if key in rec:
            problems += check(rec[key])[:1]
    if rec.get("loss_by_position") is not None and not numbers_ok(rec["loss_by_position"]):
        problems.append("loss_by_position is not a list of numbers or nulls")
    return problems


def _study_problems(study: Any, i: int, runs: Mapping[str, Any]) -> list[str]:
    where = f"studies[{i}]"
    bad = _fields(study, {"name": "str", "tasks": "list", "run_ids": "list"}, where, required=True)
    if bad:
        return bad
    bad = _fields(study, {"question": "str?", "varying": "list?", "claims": "list?"}, where)
    if bad:
        return bad
    ids = study["run_ids"]
    if not all(isinstance(r, str) for r in ids):
        return [f"{where}.run_ids holds other things than run ids"]
    unknown = [r for r in ids if r not in runs]
    if unknown:
        return [f"{where}.run_ids: {unknown[0]!r} is not in runs"]
    if not all(isinstance(c, dict) for c in study.get("claims") or []):
        return [f"{where}.claims holds other things than objects"]
    return []


def manifest_problems(manifest: Mapping[str, Any]) -> list[str]:
    """The problems of a migrated ``suite.json`` (empty: valid); the first few are reported."""
    problems = _fields(manifest, {"name": "str", "runs": "dict", "studies": "list"}, "suite.json",
                       required=True)
    if problems:
        return [p.replace("suite.json.", "") for p in problems]
    for rid, cfg in manifest["runs"].items():
        if not SAFE_ID.match(rid):
            return [f"runs: {rid[:40]!r} is not a safe run id"]
        bad = config_problems(cfg, f"runs.{rid}")
        if bad:
            return bad[:1]
    for i, study in enumerate(manifest["studies"]):
        bad = _study_problems(study, i, manifest["runs"])
        if bad:
            return bad
    levels = manifest.get("solved_levels", {})
    bad = _numbers_dict(levels, "solved_levels") if levels is not None else []
    if bad:
        return bad[:1]
    return [p for p in (_fields(manifest, {"tasks_paths": "list?", "task_origins": "dict?"},
                                "suite.json")) if p][:1]


def finite(doc: Any) -> Any:
    """``doc`` with non-finite floats replaced by None (records store them as null)."""
    if isinstance(doc, float):
        return doc if math.isfinite(doc) else None
    if isinstance(doc, dict):
        return {k: finite(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [finite(v) for v in doc]
    return doc
