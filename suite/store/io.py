"""Reading and writing the store: atomic writes, records and the manifest read back.

Layout of an output directory::

    suite.json        manifest: suite name and file text, studies, run configs
    runs/<id>.json    one record per finished run (ok, diverged or failed)
    logs/<id>.log     the worker's stderr
    summary.csv       one row per run (rewritten after every suite run)
    index.html        the report

Every file is written by :func:`atomic_write_text` (JSON by
:func:`atomic_write_json`): to a temporary file in the target's directory,
then renamed into place (``os.replace``), so a killed run never leaves a
record that looks complete. Every command reads a result set through
:func:`read_results` (or its parts :func:`load_records` and
:func:`load_manifest`): documents of an older schema are migrated
(:mod:`suite.store.migrate`) and checked (:func:`suite.store.schema.validate_record`,
:func:`suite.store.schema.validate_manifest`), so readers see the current
version only. One of a *newer* schema is never read, rerun or overwritten: the
reader skips it with a warning that says to upgrade the suite, and a writer
(``load_records(out, for_writing=True)``) stops with :class:`SuiteError`.
This module does not import TensorFlow: the report reads only stored data.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import math
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, cast

import orjson

from suite import deepcheck, ids, safeio
from suite.api import SuiteError
from suite.runs import summary_csv
from suite.store.migrate import MANIFEST_UPDATES, RECORD_UPDATES, is_newer, migrate, schema_problem
from suite.store.schema import (
    REQUIRED,
    SCHEMA_VERSION,
    Manifest,
    RunRecord,
    validate_manifest,
    validate_record,
)


def atomic_write_text(path: Path, text: str, root: Path | None = None) -> None:
    """Writes ``text`` to ``path`` via a synced, uniquely named temporary file and a rename,
    never through a symlink, refusing a path outside ``root`` (:func:`suite.safeio.write_text`)."""
    safeio.write_text(path, text, root=root)


def _clean(obj: Any) -> Any:
    """Replaces NaN/Inf by None so records are strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def atomic_write_json(path: Path, obj: Any, root: Path | None = None) -> None:
    """Atomically writes ``obj`` as strict JSON (NaN/Inf become null)."""
    atomic_write_text(path, json.dumps(_clean(obj), indent=1, sort_keys=True, allow_nan=False),
                      root)


def record_path(out: Path, run_id: str) -> Path:
    return Path(out) / "runs" / f"{run_id}.json"


def read_json(path: Path) -> Any:
    """Parses a JSON file with orjson (about 5x faster than ``json`` on run records).

    Files orjson refuses (for example NaN written by a non-strict writer) are
    parsed again with the standard library, so both accept the same files; its
    non-finite numbers become None (records store them as null).
    """
    data = Path(path).read_bytes()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return deepcheck.finite(json.loads(data))


def read_record(path: Path, for_writing: bool = False) -> tuple[RunRecord | None, str | None]:
    """One file of ``runs/``: ``(record of the current schema, None)`` or ``(None, warning)``.

    Args:
        path: The file.
        for_writing: Default False. True: a record of a newer schema raises
            SuiteError instead of giving a warning.
    """
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
    problems = validate_record(rec) or deepcheck.record_problems(rec)  # nested types too
    if problems:
        return None, f"skipped {name}: not a valid run record ({'; '.join(problems)})"
    return cast(RunRecord, rec), None  # validated: a RunRecord


def _recover_task_versions(records: dict[str, RunRecord]) -> None:
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
                rec["task_version"] = version
                rec["config_id"] = ids.config_id(rec["config"], version)
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
        if folder.exists() or folder.is_symlink():
            raise SuiteError(f"{folder}: not a directory (it holds the run records)")
        return records, warnings
    files: dict[str, str] = {}
    with _collector_paused():
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue
            rec, warning = read_record(path, for_writing)
            if rec is None:
                warnings.append(str(warning))
            elif _keep_duplicate(rec["run_id"], path.name, files, warnings):
                records[rec["run_id"]] = rec
    _recover_task_versions(records)
    return records, warnings


def _keep_duplicate(rid: str, name: str, files: dict[str, str], warnings: list[str]) -> bool:
    """Whether the record of ``rid`` in ``runs/NAME`` is used: one run id, one record.

    The rule for two files with one run id: the file named ``<run_id>.json``
    (the one the suite writes) wins; between two others, the first by name.
    The other is skipped with a warning naming both files.
    """
    if rid not in files:
        files[rid] = name
        return True
    first = files[rid]
    keep = name == f"{rid}.json"
    if keep:
        files[rid] = name
    warnings.append(f"duplicate run id {rid} in runs/{first} and runs/{name}: used "
                    f"runs/{name if keep else first} (the file named by the run id wins), "
                    f"skipped runs/{first if keep else name}")
    return keep


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


def write_summary(out: Path, manifest: Manifest, records: Mapping[str, RunRecord],
                  axes: Iterable[str] = ()) -> Path:
    """Writes ``summary.csv`` (one row per run in the manifest that has a record; see
    :func:`suite.runs.summary_csv`).

    Args:
        out: The result directory.
        manifest: Its manifest.
        records: Its records by run id.
        axes: Axis names that get a column even where no stored config has them
            (the run axes of :data:`suite.axes.AXES`, passed by the commands).
    """
    path = Path(out) / "summary.csv"
    atomic_write_text(path, summary_csv(manifest, records, axes=axes), root=Path(out))
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
        manifest = migrate(manifest, MANIFEST_UPDATES)
    except (KeyError, TypeError, ValueError) as err:
        raise SuiteError(f"{path}: {err}") from None
    problems = validate_manifest(manifest) or deepcheck.manifest_problems(manifest)
    if problems:
        raise SuiteError(f"{path}: not a valid manifest ({'; '.join(problems)})")
    return manifest  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class Results:
    """A result set as every command reads it (:func:`read_results`).

    Attributes:
        out: The output directory.
        manifest: ``suite.json``, migrated and validated; None if the reader
            allowed it to be missing (``verify`` of bare records).
        records: Run records by run id, migrated and validated.
        warnings: What reading skipped (corrupt, foreign, invalid or newer files).
    """

    out: Path
    manifest: Manifest | None
    records: dict[str, RunRecord]
    warnings: list[str]


def read_results(out: Path | str, *, manifest: bool = True) -> Results:
    """The one accessor of a result set: its manifest and its records, current schema only.

    Args:
        out: The output directory.
        manifest: Default True: ``suite.json`` must be readable (else SuiteError).
            False: a missing or unreadable manifest gives ``manifest=None``.

    Raises:
        SuiteError: If the manifest is required and missing, unreadable or invalid.
    """
    out = Path(out)
    if manifest:
        man: Manifest | None = load_manifest(out)
    else:
        try:
            man = load_manifest(out)
        except SuiteError:
            man = None
    records, warnings = load_records(out)
    return Results(out, man, records, warnings)
