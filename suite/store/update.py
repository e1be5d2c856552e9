"""``update DIR``: rewrite a result set's older-schema files in the current schema, on disk.

Reading migrates older records and manifests in memory every time
(:mod:`suite.store.migrate`); :func:`update` writes the migrated documents back
(as ``asv update`` does), so that the files themselves are current and older
suites' readers are not needed again. Files that are corrupt, foreign, invalid
or of a newer schema are left as they are and reported. Reading the directory
gives the same records and manifest before and after (except
``stored_schema_version``, which then equals the current version and is absent).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from suite.store.io import atomic_write_json, load_manifest, read_json, read_record
from suite.store.schema import SCHEMA_VERSION


@dataclasses.dataclass
class Updated:
    """What :func:`update` did.

    Attributes:
        rewritten: Files rewritten in the current schema (relative to the directory).
        current: Files that were already current.
        skipped: Warnings for files left alone (as the readers report them).
    """

    rewritten: list[str] = dataclasses.field(default_factory=list)
    current: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)


def update(out: Path | str) -> Updated:
    """Rewrites ``out/suite.json`` and every ``out/runs/*.json`` of an older schema.

    Each document is migrated and validated exactly as the readers do, then
    written atomically over its file; documents already current are not touched.

    Raises:
        SuiteError: If ``suite.json`` is missing, unreadable, invalid or of a
            newer schema (nothing is written then).
    """
    out = Path(out)
    result = Updated()
    manifest = load_manifest(out)  # SuiteError for a missing, unreadable, invalid or newer one
    stored = read_json(out / "suite.json")["schema_version"]
    folder = out / "runs"
    todo = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue
        rec, warning = read_record(path)
        if rec is None:
            result.skipped.append(str(warning))
        elif rec.get("stored_schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            rec.pop("stored_schema_version")  # in memory only: never written
            todo.append((path, rec))
        else:
            result.current.append(f"runs/{path.name}")
    if stored != SCHEMA_VERSION:  # an older one: load_manifest refused any other
        atomic_write_json(out / "suite.json", manifest)
        result.rewritten.append("suite.json")
    else:
        result.current.append("suite.json")
    for path, rec in todo:
        atomic_write_json(path, rec)
        result.rewritten.append(f"runs/{path.name}")
    return result
