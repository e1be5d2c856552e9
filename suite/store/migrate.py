"""Migrations of stored documents to the current schema (``update_to_N``, as asv does).

Records and manifests of an older schema are migrated on read
(:func:`migrate`; :mod:`suite.store.io` hands out the current version only),
and ``run_suite.py update DIR`` rewrites them on disk
(:func:`suite.store.update.update`). A document of a *newer* schema is never
migrated: :func:`schema_problem` says to upgrade the suite. No file access here.
"""
from __future__ import annotations

from typing import Any, Callable

from suite import ids
from suite.store.schema import SCHEMA_VERSION, default_sequence_length


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
    if problem or not isinstance(version, int):
        raise (NewerSchemaError if is_newer(version) else ValueError)(problem)
    for step in range(version + 1, SCHEMA_VERSION + 1):
        doc = updates[step](doc)
    return doc
