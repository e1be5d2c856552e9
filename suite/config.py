"""Compatibility re-exports: suite files are parsed by :mod:`suite.suite_file`, run axes are
:mod:`suite.axes` (and :func:`suite.axes.resolve`), claims are checked by :mod:`suite.claim_spec`.

Every name that was importable from ``suite.config`` still is; new code imports from
those modules. (To be removed once no caller is left.)
"""
from suite.axes import (  # noqa: F401
    _INIT_RE,
    ACTIVATIONS,
    AXES,
    BATCHNORM,
    CELLS,
    MAX_SEED,
    OPTIMIZERS,
    RUN_KEYS,
    Axis,
    _choice,
    _flatten,
    _float,
    _initializer,
    _int,
    _table,
    check_key,
    resolve,
)
from suite.claim_spec import (  # noqa: F401
    _CLAIM_KEYS,
    CLAIM_METRICS,
    CLAIM_NUMBERS,
    CLAIM_OPS,
    CLAIM_OVER,
    CLAIM_TEXTS,
    _claim_value,
    _selection,
    _text,
    parse_claim,
)
from suite.ids import (  # noqa: F401
    run_id,
)
from suite.suite_file import (  # noqa: F401
    MAX_RUNS,
    NAME_RE,
    SUITES_DIR,
    Study,
    Suite,
    SuiteTooLarge,
    _checked_only,
    _expand,
    _header,
    _matches,
    _parse_study,
    _read_suite_file,
    _seeds,
    _StudySpec,
    _task_tables,
    load_suite,
    parse_assignments,
    parse_value,
)
