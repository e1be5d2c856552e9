"""The results store: one JSON record per run and a manifest, written atomically.

* :mod:`suite.store.schema`: :class:`RunRecord` and :class:`Manifest`, their
  validators and the record constructor :func:`run_record`;
* :mod:`suite.store.migrate`: ``update_to_N`` migrations of older documents;
* :mod:`suite.store.io`: atomic writes, and the records and manifest read back
  (:func:`read_results`, the accessor every command reads through);
* :mod:`suite.store.update`: ``run_suite.py update DIR`` rewrites older files.

The names most code needs are importable from here.
"""
from suite.store.io import (
    Results,
    atomic_write_json,
    atomic_write_text,
    load_manifest,
    load_records,
    read_json,
    read_results,
    record_path,
    write_summary,
)
from suite.store.schema import (
    FINISHED,
    SCHEMA_VERSION,
    STATUSES,
    Manifest,
    RunRecord,
    run_record,
    validate_manifest,
    validate_record,
)

__all__ = [
    "FINISHED", "SCHEMA_VERSION", "STATUSES", "Manifest", "Results", "RunRecord",
    "atomic_write_json", "atomic_write_text", "load_manifest", "load_records", "read_json",
    "read_results", "record_path", "run_record", "validate_manifest", "validate_record",
    "write_summary",
]
