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

**The run-record schema** is :class:`RunRecord` (every field documented there);
:func:`run_record` is the one constructor producers use, and
:func:`validate_record` checks a record against the schema. Records and
manifests of an older schema are migrated on read (``update_to_N``, as asv
does): :func:`load_records` and :func:`load_manifest` hand out the current
version only. One of a *newer* schema is never read, rerun or overwritten: the
reader skips it with a warning that says to upgrade the suite, and a writer
(``load_records(out, for_writing=True)``) stops with :class:`SuiteError`.
"""
from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import tempfile
import types
from pathlib import Path
from typing import (
    Any,
    Callable,
    Iterator,
    Literal,
    NotRequired,
    Required,
    TypedDict,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

import orjson

from suite import ids
from suite.api import SuiteError

# What a run is to a reader lives in suite.runs; these names stay importable from here.
from suite.runs import (  # noqa: F401
    SHORT_CONTEXT,
    SUMMARY_COLUMNS,
    context_gain,
    studies_of,
    summary_csv,
    summary_row,
)

#: Version of the run-record and manifest format written to results directories.
#: 2: records gained ``config_id`` and ``sequence_length`` (schema-1 records and
#: manifests are migrated on read, see :func:`update_to_2`).
SCHEMA_VERSION = 2

#: Statuses that count as finished: rerunning a suite skips these runs.
FINISHED = ("ok", "diverged")

#: Fields that make a JSON file a run record at all, in every schema version (a file that
#: lacks one is skipped as "not a run record").
REQUIRED = ("run_id", "status", "task", "seed", "config")

Status = Literal["ok", "diverged", "failed"]

#: The values of :attr:`RunRecord.status`.
STATUSES: tuple[str, ...] = ("ok", "diverged", "failed")


class RunRecord(TypedDict, total=False):
    """One run's record, ``runs/<run_id>.json`` (schema version :data:`SCHEMA_VERSION`).

    Build one with :func:`run_record`; check one with :func:`validate_record`.
    Required fields are in every record whatever its status; the others are
    absent where the run ended before producing them (a run that failed before
    its task loaded has no ``task_version``, a worker that died has no curves).
    Non-finite floats are stored as ``null``.

    Attributes:
        schema_version: :data:`SCHEMA_VERSION` of the writer (older records are
            migrated on read, so in memory it is always the current version).
        stored_schema_version: In memory only, never written: the version a
            record had on disk when :func:`load_records` migrated it (the report
            lists the versions as stored).
        run_id: :func:`suite.ids.run_id` of ``config`` and ``task_version``; the
            record's file name.
        config_id: :func:`suite.ids.config_id`: the run id without the seed. The
            seeds of one resolved configuration share it; the report groups by it.
            (Schema 2; migrated records get it from ``config`` and ``task_version``.)
        config: The resolved run configuration (every axis, ``task``,
            ``task_params`` and ``seed``), as in the manifest.
        seed: The run seed (``config["seed"]``).
        task: The task name (``config["task"]``).
        sequence_length: The number of time steps the run unrolls
            (``suite.api.sequence_length``; copy memory: ``seq_len + 20``), or
            None if unknown. (Schema 2; migrated records get the first probe's
            profile length, else ``task_params["seq_len"]``; a run whose worker
            died gets ``task_params["seq_len"]``, the protocol's default.)
        status: ``ok`` (trained all steps), ``diverged`` (stopped at a
            non-finite or exploding loss) or ``failed`` (an exception, or the
            worker died).
        started_at: Start, ISO 8601 in UTC (seconds).
        finished_at: End, ISO 8601 in UTC (seconds).
        steps_done: Training steps completed (0 if none).
        timing: Seconds: ``wall_s`` (the worker, start to record), and for runs
            that trained ``first_step_s``, ``ms_per_step`` (median after the
            first), ``train_s``, ``total_s``. Empty for a worker that died.
        final: Headline numbers: ``val_loss``, ``metric`` (the task's primary
            metric name), ``metric_value``, ``eval_step``, ``max_grad_norm``,
            ``clip_rate``, ``val_loss_batch_stats`` (None where not measured; loss and metric are None for a
            run that did not finish ok). Empty for a failed run without results.
        task_version: The task's version (part of the run id); absent if the
            task never loaded.
        task_info: ``task.describe(task_params)``: baselines, corpus fingerprint.
        error: Why the run stopped early (divergence reason or ``Type: message``,
            prefixed ``out of memory:`` for memory exhaustion), else None.
        traceback: The last frames of the exception of a failed run.
        failed_step: The step that raised, in a run that failed while training.
        diverged_step: The step whose loss or gradient norm diverged, else None.
        chance_loss: The task's chance loss for these parameters.
        curves: Per training step: ``loss``, ``grad_norm`` (pre-clip, global),
            ``clipped`` (1.0 where clipping acted), ``gn/<layer>`` per-layer norms.
        evals: Validation rows ``{"step", "val_loss", <metric>: value, ...}`` at
            step 0 and every ``eval_every`` steps (inference mode); a BatchNorm
            model's rows also have ``val_loss_batch_stats`` (BatchNorm with the
            statistics of each evaluation batch, as in training).
        loss_by_position: For a per-step head (a language model), the last
            evaluation's mean validation loss at each position of the window:
            entry t-1 is the loss with t characters of context. None for a
            last-step head; absent from older records.
        probes: Gradient-health probes at step 0, every ``probe_every`` steps and
            at the end: ``step``, ``loss``, ``profile`` (``||dL/dh_k||`` by
            distance back), ``rho``, ``reach``, LSTM ``profile_c``; some also
            ``kernel``, ``jacobian_*``, ``saturation`` and ``lyapunov_1``,
            ``lyapunov_spectrum``, ``product_bound``, ``product_norm`` (natural
            logs; or ``products_skipped`` with the reason) (see
            :mod:`suite.health.probe` and :mod:`suite.health.lyapunov`).
        model: ``parameters``: trainable parameter count.
        health: :func:`suite.health.diagnosis.summarise`: ``summary`` (``rho``,
            ``reach``, ``diagnosis``, ...), ``reason``, ``profile_length``.
        env: Python, NumPy, TensorFlow and Keras versions, platform, CPU, git
            commit, thread pools and devices of the worker.
        kernel: The recurrent kernel the run could use: ``device``, ``cudnn``
            and ``why_not``. (Added within schema 1, absent from older records.)
        horizon: The task's dependency horizon in steps (``suite.api.horizon``),
            None for a task without one. (Added within schema 2; absent from older
            records and from a run whose task never loaded: unknown, so the
            diagnosis reports the reach only.)
    """

    schema_version: Required[int]
    stored_schema_version: NotRequired[int]
    run_id: Required[str]
    config_id: Required[str]
    config: Required[dict[str, Any]]
    seed: Required[int]
    task: Required[str]
    sequence_length: Required[int | None]
    status: Required[Status]
    started_at: Required[str]
    finished_at: Required[str]
    steps_done: Required[int]
    timing: Required[dict[str, Any]]
    final: Required[dict[str, Any]]
    task_version: NotRequired[str]
    task_info: NotRequired[dict[str, Any]]
    error: NotRequired[str | None]
    traceback: NotRequired[str]
    failed_step: NotRequired[int]
    diverged_step: NotRequired[int | None]
    chance_loss: NotRequired[float | None]
    curves: NotRequired[dict[str, list[Any]]]
    evals: NotRequired[list[dict[str, Any]]]
    loss_by_position: NotRequired[list[float | None] | None]
    probes: NotRequired[list[dict[str, Any]]]
    model: NotRequired[dict[str, Any]]
    health: NotRequired[dict[str, Any]]
    env: NotRequired[dict[str, Any]]
    kernel: NotRequired[dict[str, Any]]
    horizon: NotRequired[int | None]


class Manifest(TypedDict, total=False):
    """``suite.json``: what a suite invocation asked for (written by the runner).

    Attributes:
        schema_version: :data:`SCHEMA_VERSION` of the writer (migrated on read).
        name: The suite's name.
        source: The suite file's path or built-in name.
        suite_text: The suite file's text as run.
        tasks_paths: Extra plugin folders (``--tasks-path``, absolute), of this
            invocation and of earlier ones into the same directory.
        task_origins: Task name -> where that task came from, for every task
            of the runs (:meth:`suite.registry.Origin.as_dict`: ``kind``
            ``builtin``, ``entry_point`` or ``folder``; ``file``; ``folder`` for
            a ``--tasks-path`` folder; ``entry_point``, ``distribution`` and
            ``version`` for an entry point). ``verify`` finds plugins with it.
            Absent from older manifests: only ``tasks_paths`` is known.
        studies: ``{"name", "question", "tasks", "varying", "run_ids", "claims"}``
            each; ``claims`` are the study's checked claims
            (:func:`suite.config.parse_claim`; absent from older manifests: none).
        runs: Run id -> resolved configuration, for every run of the suite.
        solved_levels: Run id -> the validation loss at which the run counts as
            solved (:func:`suite.api.solved_level`; None: the task declares
            none). Absent from older manifests: no solved levels.
        written_at: When it was written, ISO 8601 in UTC.
    """

    schema_version: Required[int]
    name: Required[str]
    runs: Required[dict[str, dict[str, Any]]]
    studies: Required[list[dict[str, Any]]]
    source: str
    suite_text: str
    tasks_paths: list[str]
    task_origins: dict[str, dict[str, str]]
    solved_levels: dict[str, float | None]
    written_at: str


def _types(annotation: Any) -> tuple[type, ...]:
    """The runtime types a resolved field annotation allows (``float`` admits ``int``)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(t for arg in get_args(annotation) for t in _types(arg))
    if get_origin(annotation) is Literal:
        return tuple({type(a) for a in get_args(annotation)})
    base = get_origin(annotation) or annotation
    if base is float:
        return (int, float)
    return (base,) if isinstance(base, type) else (object,)


def _field_types(cls: type) -> dict[str, tuple[type, ...]]:
    """Field name -> allowed runtime types, from a TypedDict's annotations."""
    return {k: _types(v) for k, v in get_type_hints(cls).items()}


def _required_fields(cls: type) -> tuple[str, ...]:
    """The ``Required[...]`` fields of a TypedDict (``__required_keys__`` misses them in 3.11
    when annotations are strings, as under ``from __future__ import annotations``)."""
    hints = get_type_hints(cls, include_extras=True)
    return tuple(k for k, v in hints.items() if get_origin(v) is Required)


_RECORD_TYPES = _field_types(RunRecord)

#: The fields every record of the current schema has (the ``Required`` ones of :class:`RunRecord`).
RECORD_FIELDS_REQUIRED = _required_fields(RunRecord)


def validate_record(rec: Any) -> list[str]:
    """Checks ``rec`` against :class:`RunRecord`; returns the problems (empty: valid).

    Checks that the required fields are present, that every top-level field
    has its documented type (``bool`` is not an ``int`` here), that
    ``schema_version`` is :data:`SCHEMA_VERSION` and that ``status`` is one of
    :data:`STATUSES`. Unknown extra fields are allowed (plugins may add some).
    """
    if not isinstance(rec, dict):
        return [f"a record is a JSON object, not {type(rec).__name__}"]
    problems = [f"missing {k}" for k in RECORD_FIELDS_REQUIRED if k not in rec]
    for key, allowed in _RECORD_TYPES.items():
        if key in rec and (isinstance(rec[key], bool) or not isinstance(rec[key], allowed)):
            problems.append(f"{key} is {type(rec[key]).__name__}, not "
                            f"{' or '.join(t.__name__ for t in allowed)}")
    if "schema_version" in rec and rec["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema_version is {rec['schema_version']!r}, not {SCHEMA_VERSION}")
    if "status" in rec and rec["status"] not in STATUSES:
        problems.append(f"status is {rec['status']!r}, not one of {', '.join(STATUSES)}")
    return problems


def default_sequence_length(config: dict[str, Any]) -> int | None:
    """The task protocol's default sequence length: the integer ``seq_len`` parameter, else None."""
    seq_len = (config.get("task_params") or {}).get("seq_len")
    return seq_len if isinstance(seq_len, int) and not isinstance(seq_len, bool) else None


def run_record(run_id: str, config: dict[str, Any], *, status: str, started_at: str,
               finished_at: str, task_version: str | None = None,
               sequence_length: int | None = None, **fields: Any) -> RunRecord:
    """Builds a record of the current schema; the one constructor every producer uses.

    Args:
        run_id: The run id.
        config: The resolved run configuration (``seed`` and ``task`` are taken
            from it).
        status: ``ok``, ``diverged`` or ``failed``.
        started_at: Start time, ISO 8601 in UTC.
        finished_at: End time, ISO 8601 in UTC.
        task_version: The task's version; default None: unknown (the task never
            loaded), stored only when known.
        sequence_length: Steps the run unrolls (:func:`suite.api.sequence_length`);
            default None: ``config["task_params"]["seq_len"]``, the protocol's
            default (None if that is not an integer).
        **fields: Any other :class:`RunRecord` fields. ``steps_done`` defaults
            to 0, ``timing`` and ``final`` to ``{}``.

    Raises:
        ValueError: If the result does not validate (a bug in the producer).
    """
    if sequence_length is None:
        sequence_length = default_sequence_length(config)
    rec: dict[str, Any] = {"steps_done": 0, "timing": {}, "final": {}, **fields}
    rec.update(schema_version=SCHEMA_VERSION, run_id=run_id,
               config_id=ids.config_id(config, task_version), config=config, seed=config["seed"],
               task=config["task"], sequence_length=sequence_length, status=status,
               started_at=started_at, finished_at=finished_at)
    if task_version is not None:
        rec["task_version"] = task_version
    problems = validate_record(rec)
    if problems:
        raise ValueError(f"run record {run_id} does not match the schema: {'; '.join(problems)}")
    return rec  # type: ignore[return-value]


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
    """Parses a JSON file with orjson (about 5x faster than ``json`` on run records).

    Files orjson refuses (for example NaN written by a non-strict writer) are
    parsed again with the standard library, so both accept the same files.
    """
    data = Path(path).read_bytes()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def update_to_2(rec: dict[str, Any]) -> dict[str, Any]:
    """Migrates a schema-1 run record to schema 2.

    Adds ``config_id`` (from ``config`` and ``task_version``) and
    ``sequence_length`` (the first probe's profile length, else
    ``task_params["seq_len"]``, else None), and the ``steps_done`` (0),
    ``timing`` and ``final`` (``{}``) that a schema-1 worker left out when a run
    failed before its task loaded.
    """
    probes = rec.get("probes") or [{}]
    profile = probes[0].get("profile") if isinstance(probes[0], dict) else None
    length = len(profile) if profile else default_sequence_length(rec["config"])
    new = {"steps_done": 0, "timing": {}, "final": {}, **rec}
    new.update(schema_version=2, config_id=ids.config_id(rec["config"], rec.get("task_version")),
               sequence_length=length)
    return new


def update_manifest_to_2(manifest: dict[str, Any]) -> dict[str, Any]:
    """Migrates a schema-1 manifest to schema 2 (the same fields)."""
    return {**manifest, "schema_version": 2}


#: ``update_to_N`` for records and manifests: N -> the function that takes N - 1 to N.
RECORD_UPDATES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {2: update_to_2}
MANIFEST_UPDATES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {2: update_manifest_to_2}

#: The oldest schema version this code migrates.
OLDEST_SCHEMA = 1


class NewerSchemaError(ValueError):
    """A record or manifest written by a newer suite than this one."""


def is_newer(version: Any) -> bool:
    """Whether ``version`` is a schema version newer than this code's :data:`SCHEMA_VERSION`."""
    return isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION


def schema_problem(version: Any) -> str | None:
    """Why a document of schema ``version`` cannot be read (None: it can, maybe migrated)."""
    if isinstance(version, int) and not isinstance(version, bool):
        if is_newer(version):
            return (f"unknown schema version {version} (newer than {SCHEMA_VERSION}, the newest "
                    f"this suite reads); upgrade the suite to read it")
        if version >= OLDEST_SCHEMA:
            return None
    return (f"unknown schema version {version!r} (this suite reads {OLDEST_SCHEMA} to "
            f"{SCHEMA_VERSION})")


def migrate(doc: dict[str, Any], updates: dict[int, Callable[[dict[str, Any]], dict[str, Any]]],
            ) -> dict[str, Any]:
    """Brings a record or manifest to :data:`SCHEMA_VERSION` with its ``update_to_N`` steps.

    Args:
        doc: The document as read (not modified).
        updates: :data:`RECORD_UPDATES` or :data:`MANIFEST_UPDATES`.

    Raises:
        NewerSchemaError: If ``doc`` is of a newer schema.
        ValueError: If its schema version is unknown.
    """
    version = doc.get("schema_version")
    problem = schema_problem(version)
    if problem:
        raise (NewerSchemaError if is_newer(version) else ValueError)(problem)
    for step in range(version + 1, SCHEMA_VERSION + 1):
        doc = updates[step](doc)
    return doc


def _read_record(path: Path, for_writing: bool) -> tuple[dict[str, Any] | None, str | None]:
    """One file of ``runs/``: ``(record of the current schema, None)`` or ``(None, warning)``."""
    name = f"runs/{path.name}"
    if path.suffix != ".json":
        return None, f"skipped foreign file {name}"
    try:
        rec = read_json(path)
    except (OSError, ValueError) as err:
        return None, f"skipped corrupt record {name}: {err}"
    if not isinstance(rec, dict):
        return None, f"skipped {name}: not a run record (a JSON {type(rec).__name__})"
    try:
        problem = schema_problem(rec.get("schema_version"))
        if for_writing and is_newer(rec.get("schema_version")):
            raise _newer_error(path, rec["schema_version"], "rerun or overwrite")
        if problem:
            return None, f"skipped {name}: {problem}"
        missing = [k for k in REQUIRED if k not in rec]
        if missing:
            return None, f"skipped {name}: not a run record (missing {', '.join(missing)})"
        stored = rec["schema_version"]
        rec = migrate(rec, RECORD_UPDATES)
        if stored != SCHEMA_VERSION:
            rec["stored_schema_version"] = stored
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        return None, f"skipped {name}: cannot migrate it to schema {SCHEMA_VERSION} ({err!r})"
    problems = validate_record(rec)
    if problems:
        return None, f"skipped {name}: not a valid run record ({'; '.join(problems)})"
    return rec, None


def _recover_task_versions(records: dict[str, dict[str, Any]]) -> None:
    """Gives records without ``task_version`` (a worker that died) their task's version.

    The version is the one of another record of the same task for which
    ``run_id(config, version)`` reproduces the record's run id; ``config_id``
    and ``sequence_length`` then follow that of the configuration's other seeds.
    """
    versions: dict[str, set[str]] = {}
    lengths: dict[str, Any] = {}
    for rec in records.values():
        if "task_version" in rec:
            versions.setdefault(rec["task"], set()).add(rec["task_version"])
            lengths.setdefault(rec["config_id"], rec["sequence_length"])
    for rec in records.values():
        if "task_version" in rec:
            continue
        for version in sorted(versions.get(rec["task"], ())):
            if ids.run_id(rec["config"], version) == rec["run_id"]:
                rec.update(task_version=version, config_id=ids.config_id(rec["config"], version))
                rec["sequence_length"] = lengths.get(rec["config_id"], rec["sequence_length"])
                break


def load_records(out: Path, *, for_writing: bool = False,
                 ) -> tuple[dict[str, RunRecord], list[str]]:
    """Reads every run record under ``out/runs``, migrated to :data:`SCHEMA_VERSION`.

    Args:
        out: The output directory.
        for_writing: Default False. True for a writer (the runner): a record
            or ``suite.json`` of a newer schema raises instead of being skipped,
            so that it is never rerun or overwritten.

    Returns:
        ``(records by run id, warnings)``. Corrupt files, foreign files,
        records that do not validate and records of an unknown or newer schema
        version are skipped with a warning (a newer one's says to upgrade the
        suite). Records of an older schema are migrated in memory, never skipped.

    Raises:
        SuiteError: With ``for_writing``, if a record or the manifest is of a
            newer schema.
    """
    records: dict[str, RunRecord] = {}
    warnings: list[str] = []
    if for_writing:
        _refuse_newer_manifest(Path(out) / "suite.json")
    folder = Path(out) / "runs"
    if not folder.is_dir():
        return records, warnings
    with _collector_paused():
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue
            rec, warning = _read_record(path, for_writing)
            if warning:
                warnings.append(warning)
            else:
                records[rec["run_id"]] = rec
    _recover_task_versions(records)
    return records, warnings


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses Python's cyclic garbage collector while records are parsed.

    Parsed JSON holds no reference cycles, but every new list and dict counts
    towards the collector's thresholds, and each full collection walks all
    records parsed so far: at 10,000 records that made parsing 3x slower
    (32 s against 10 s). The collector is restored on exit, also on error.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _refuse_newer_manifest(path: Path) -> None:
    """SuiteError if ``path`` is a manifest of a newer schema (unreadable ones are let be)."""
    try:
        version = read_json(path).get("schema_version")
    except (OSError, ValueError, AttributeError):
        return
    if is_newer(version):
        raise _newer_error(path, version, "overwrite")


def _newer_error(path: Path, version: int, what: str) -> SuiteError:
    """The one-line error of a writer that finds a file of a newer schema."""
    return SuiteError(f"{path}: written by a newer version of the suite (schema version {version}; "
                      f"this one reads up to {SCHEMA_VERSION}); refusing to {what} it: upgrade "
                      f"the suite, or use another --out")


def write_summary(out: Path, manifest: dict[str, Any], records: dict[str, dict[str, Any]]) -> Path:
    """Writes ``summary.csv`` (one row per run in the manifest that has a record; see
    :func:`suite.runs.summary_csv`)."""
    path = Path(out) / "summary.csv"
    atomic_write_text(path, summary_csv(manifest, records))
    return path


def load_manifest(out: Path) -> Manifest:
    """Reads ``DIR/suite.json``, migrated to :data:`SCHEMA_VERSION`.

    Raises:
        SuiteError: If it is missing, unreadable, or of an unknown or newer
            schema (the message then says to upgrade the suite).
    """
    path = Path(out) / "suite.json"
    try:
        manifest = read_json(path)
    except FileNotFoundError:
        raise SuiteError(f"{out}: no suite.json here; is this a suite output directory?") from None
    except (OSError, ValueError) as err:
        raise SuiteError(f"{path}: unreadable manifest ({err})") from None
    if not isinstance(manifest, dict):
        raise SuiteError(f"{path}: unreadable manifest (a JSON {type(manifest).__name__})")
    try:
        return migrate(manifest, MANIFEST_UPDATES)  # type: ignore[return-value]
    except (KeyError, TypeError, ValueError) as err:
        raise SuiteError(f"{path}: {err}") from None
