"""``run_suite.py bench``: ms/step of the training step and probes, a suite's runs per hour, or the
report's time on synthetic records (the measurements are :mod:`suite.tools.bench`)."""
from __future__ import annotations

import argparse

NAME = "bench"
DESCRIPTION = ("ms/step of plain Keras, the instrumented step and the probes; or runs per hour of "
               "a suite (--suite), or the report's time on synthetic records (--report-records).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``bench``'s arguments."""
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--cell", default="lstm", choices=["simple_rnn", "lstm", "gru", "all"],
                   help="the cell to time (default lstm)")
    p.add_argument("--hidden", type=int, nargs="+", default=[128], metavar="N",
                   help="units, one or more sizes (default 128)")
    p.add_argument("--batch", type=int, default=64, metavar="N", help="batch size (default 64)")
    p.add_argument("--seq-len", type=int, default=100, metavar="T", help="sequence length (default 100)")
    p.add_argument("--steps", type=int, default=500, metavar="N", help="timed steps (default 500)")
    p.add_argument("--probe-every", type=int, default=100, metavar="N", help="probe cadence (default 100)")
    p.add_argument("--threads", type=int, default=0, metavar="N", help="TF threads (default: TF's choice)")
    p.add_argument("--report-records", type=int, nargs="+", metavar="N",
                   help="instead: time `report` on N synthetic run records (e.g. 1000 10000)")
    p.add_argument("--suite", metavar="NAME|PATH", help="instead: runs per hour of this suite's first --runs runs with "
                   "each of --workers-list")
    p.add_argument("--runs", type=int, default=4, metavar="N", help="runs for --suite (default 4)")
    p.add_argument("--workers-list", type=int, nargs="+", default=None, metavar="N",
                   help="worker counts for --suite (default: 1 and one per core)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for --suite runs, e.g. steps=300")


def validate(ns: argparse.Namespace) -> None:
    """Nothing to check beyond argparse's (the measurements check their own sizes)."""


def run(ns: argparse.Namespace) -> int:
    """Runs :func:`suite.tools.bench.main` (TensorFlow only for the step timings)."""
    from suite.tools.bench import main

    return main(ns)
