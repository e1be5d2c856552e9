"""``run_suite.py check DIR``: the suite file's claims against stored results, one line each."""
from __future__ import annotations

import argparse
from pathlib import Path

from suite.commands.base import print_warnings

NAME = "check"
DESCRIPTION = ("Check the suite file's claims against stored results: one line per claim; exit 1 "
               "if one fails (--strict: or is inconclusive).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``check``'s arguments."""
    p.add_argument("dir", metavar="DIR", help="a suite output directory")
    p.add_argument("--strict", action="store_true", help="an inconclusive claim fails too")


def validate(ns: argparse.Namespace) -> None:
    """Nothing to check beyond argparse's."""


def run(ns: argparse.Namespace) -> int:
    """One line per claim and a count; 1 if one fails (or, strict, is inconclusive), else 0."""
    from suite import claims
    from suite.store.io import read_results

    stored = read_results(Path(ns.dir))
    assert stored.manifest is not None  # read_results requires it
    print_warnings(stored.warnings)
    results = claims.evaluate(stored.manifest, stored.records)
    for result in results:
        print(claims.check_line(result))
    n = claims.counts(results)
    print(f"{n['holds']} of {len(results)} claims hold, {n['fails']} fail, "
          f"{n['inconclusive']} inconclusive")
    return 1 if n["fails"] or (ns.strict and n["inconclusive"]) else 0
