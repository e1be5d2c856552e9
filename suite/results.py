"""Compatibility re-exports: the store is :mod:`suite.store` (schema, migrate, io).

Every name that was importable from ``suite.results`` still is; new code imports
from :mod:`suite.store` or its modules. (To be removed once no caller is left.)
"""
from suite.runs import (  # noqa: F401
    SHORT_CONTEXT,
    SUMMARY_COLUMNS,
    context_gain,
    studies_of,
    summary_csv,
    summary_row,
)
from suite.store.io import (  # noqa: F401
    Results,
    _clean,
    _collector_paused,
    _newer_error,
    _recover_task_versions,
    _refuse_newer_manifest,
    atomic_write_json,
    atomic_write_text,
    load_manifest,
    load_records,
    read_json,
    read_record,
    read_results,
    record_path,
    write_summary,
)
from suite.store.migrate import (  # noqa: F401
    MANIFEST_UPDATES,
    OLDEST_SCHEMA,
    RECORD_UPDATES,
    NewerSchemaError,
    is_newer,
    migrate,
    schema_problem,
    update_manifest_to_2,
    update_to_2,
)
from suite.store.schema import (  # noqa: F401
    _RECORD_TYPES,
    FINISHED,
    MANIFEST_FIELDS_REQUIRED,
    RECORD_FIELDS_REQUIRED,
    REQUIRED,
    SCHEMA_VERSION,
    STATUSES,
    Manifest,
    RunRecord,
    Status,
    _field_types,
    _required_fields,
    _types,
    default_sequence_length,
    run_record,
    validate_manifest,
    validate_record,
)

_read_record = read_record
