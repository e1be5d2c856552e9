"""``run_suite.py report DIR``: rebuild the report of stored results (no training, no TensorFlow)."""
from __future__ import annotations

import argparse
import gc
from pathlib import Path
from typing import Any

from suite.api import SuiteError
from suite.commands.base import print_warnings

NAME = "report"
DESCRIPTION = ("Rebuild DIR/index.html, the run pages, summary.csv and claims.json from stored "
               "results (no training, no TensorFlow).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``report``'s arguments."""
    p.add_argument("dir", metavar="DIR", help="a suite output directory")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write each run's scalars as TensorBoard event files to DIR/tensorboard")
    p.add_argument("--threshold", type=float, default=None, metavar="F",
                   help="steps-to-threshold level as a fraction of the chance loss (default 0.1)")


def validate(ns: argparse.Namespace) -> None:
    """``--threshold`` in (0, 1]."""
    if ns.threshold is not None and not 0 < ns.threshold <= 1:
        raise SuiteError(f"--threshold must be in (0, 1], got {ns.threshold}")


def run(ns: argparse.Namespace) -> int:
    """Writes summary.csv, the report and, with ``--tensorboard``, the event files."""
    from suite.axes import AXES
    from suite.report.build import build_report  # deferred: matplotlib start-up
    from suite.store.io import read_results, write_summary

    out = Path(ns.dir)
    results = read_results(out)
    manifest, records, warnings = results.manifest, results.records, results.warnings
    assert manifest is not None  # read_results requires it
    gc.freeze()  # the records live to the end: later collections need not walk them
    print_warnings(warnings)
    write_summary(out, manifest, records, axes=AXES)
    kwargs: dict[str, Any] = {} if ns.threshold is None else {"fraction": ns.threshold}
    print(f"report: {build_report(out, manifest, loaded=(records, warnings), **kwargs)}")
    if ns.tensorboard:
        from suite.report.tbexport import export  # deferred: imports TensorFlow

        print(f"tensorboard: {export(out, manifest, records)} "
              f"(view with: tensorboard --logdir {out / 'tensorboard'})")
    return 0
