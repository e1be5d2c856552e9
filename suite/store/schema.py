"""The run-record and manifest schema: their types, validators and the record constructor.

**The run-record schema** is :class:`RunRecord` (every field documented there);
:func:`run_record` is the one constructor producers use. :func:`validate_record`
and :func:`validate_manifest` are the one entry point each for checking a
document read back (the store calls them on every read, after migration:
:mod:`suite.store.io`). Older documents are brought to :data:`SCHEMA_VERSION`
by :mod:`suite.store.migrate`. No file access here.
"""
from __future__ import annotations

import types
from typing import (
    Any,
    Literal,
    NotRequired,
    Required,
    TypedDict,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from suite import ids

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
        xla: Whether the run was compiled with XLA (:mod:`suite.model.xla`): ``setting``
            (the ``xla`` axis), ``compiled``, ``why`` and ``op_determinism`` (TensorFlow's,
            off when compiled). (Added within schema 2; absent from older records.)
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
    xla: NotRequired[dict[str, Any]]


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
            (:func:`suite.claim_spec.parse_claim`; absent from older manifests: none).
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

_MANIFEST_TYPES = _field_types(Manifest)

#: The fields every manifest of the current schema has (the ``Required`` ones of :class:`Manifest`).
MANIFEST_FIELDS_REQUIRED = _required_fields(Manifest)


def validate_manifest(manifest: Any) -> list[str]:
    """Checks ``manifest`` (``suite.json``) against :class:`Manifest`; returns the problems.

    As :func:`validate_record`: the required fields are present, every
    top-level field has its documented type (``bool`` is not an ``int``),
    ``schema_version`` is :data:`SCHEMA_VERSION`; and every study is a table.
    Unknown extra fields are allowed.
    """
    if not isinstance(manifest, dict):
        return [f"a manifest is a JSON object, not {type(manifest).__name__}"]
    problems = [f"missing {k}" for k in MANIFEST_FIELDS_REQUIRED if k not in manifest]
    for key, allowed in _MANIFEST_TYPES.items():
        value = manifest.get(key)
        if key in manifest and (isinstance(value, bool) or not isinstance(value, allowed)):
            problems.append(f"{key} is {type(value).__name__}, not "
                            f"{' or '.join(t.__name__ for t in allowed)}")
    if "schema_version" in manifest and manifest["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema_version is {manifest['schema_version']!r}, not {SCHEMA_VERSION}")
    studies = manifest.get("studies")
    if isinstance(studies, list):
        problems += [f"studies[{i}] is {type(s).__name__}, not dict"
                     for i, s in enumerate(studies) if not isinstance(s, dict)]
    return problems
