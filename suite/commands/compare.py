"""``run_suite.py compare DIR_A DIR_B``: a page of what changed between two result sets."""
from __future__ import annotations

import argparse
from pathlib import Path

from suite.api import SuiteError

NAME = "compare"
DESCRIPTION = ("A page of what changed between two result sets of the same runs (different code "
               "or library versions).")
#: The default of ``--tolerance`` as the help states it; ``suite.report.compare.TOLERANCE`` is
#: the value (not imported here: it loads matplotlib; tests/test_usage.py keeps the two equal).
TOLERANCE_HELP = "0.05"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``compare``'s arguments."""
    p.add_argument("dir_a", type=Path, metavar="DIR_A", help="the reference result directory")
    p.add_argument("dir_b", type=Path, metavar="DIR_B", help="the result directory to compare with it")
    p.add_argument("--out", type=Path, metavar="FILE", help="output page (default: DIR_B/compare.html)")
    p.add_argument("--tolerance", type=float, default=None, metavar="F",
                   help="relative change of the final loss that counts as changed (default "
                        f"{TOLERANCE_HELP})")


def validate(ns: argparse.Namespace) -> None:
    """``--tolerance`` >= 0 (not NaN)."""
    if ns.tolerance is not None and not ns.tolerance >= 0:
        raise SuiteError(f"--tolerance must be >= 0, got {ns.tolerance}")


def run(ns: argparse.Namespace) -> int:
    """Writes the comparison page (default ``DIR_B/compare.html``) and prints the counts."""
    from suite.report.compare import TOLERANCE, build_comparison  # deferred: matplotlib
    from suite.store.io import load_manifest

    for d in (ns.dir_a, ns.dir_b):
        if not (d / "suite.json").is_file():
            raise SuiteError(f"{d}: not a suite output directory (no suite.json)")
        load_manifest(d)  # unreadable, invalid or of a newer schema: refused, one line
    tolerance = TOLERANCE if ns.tolerance is None else ns.tolerance
    res = build_comparison(ns.dir_a, ns.dir_b, ns.out or ns.dir_b / "compare.html", tolerance)
    print(f"{res['matched']} runs in both: {res['identical']} bit-identical, {res['changed']} changed "
          f"outcome; {res['only_a']} only in A, {res['only_b']} only in B")
    print(f"comparison: {res['path']}")
    return 0
