"""``run_suite.py [--suite NAME|PATH] ...``: train a suite's runs and write its report (the
default command)."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from suite.api import SuiteError
from suite.commands.base import add_tasks_path
from suite.suite_file import parse_assignments

NAME = "run"
DESCRIPTION = ("Train SimpleRNN/LSTM/GRU grids on long-range tasks, measure gradient health, and "
               "write an HTML report.")
#: The end of the main ``--help``, after the list of the other commands.
EXAMPLES = """\
examples:
  run_suite.py                                   # the quick suite -> reports/quick/
  run_suite.py --only task=adding,cell=gru       # a subset of its runs
  run_suite.py --set steps=200 --out /tmp/q      # shorter runs, elsewhere
  run_suite.py --suite full --dry-run            # list the runs and a time estimate

Keys for --only: study, task, seed, any run axis, TASK.PARAM (e.g. adding.seq_len).
Keys for --set: any run axis or TASK.PARAM; --set replaces [defaults] and each study's
'set', but not the values a study's grid varies. Rerunning skips finished runs.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``run``'s arguments."""
    p.add_argument("--suite", default="quick", metavar="NAME|PATH", help="suite name in suites/ or a TOML path "
                   "(default: quick)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: reports/<suite name>)")
    p.add_argument("--only", action="append", default=[], metavar="KEY=VALUE,...",
                   help="keep only runs matching every KEY=VALUE")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a default for every run (repeatable)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="parallel worker processes (default: one per CPU core)")
    add_tasks_path(p, "added to tasks/ and installed plugins")
    p.add_argument("--dry-run", action="store_true", help="list the runs with estimated times")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local worker processes (default) or Ray tasks (pip install -r "
                        "requirements-ray.txt)")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--ray-cpus", type=float, default=1.0, metavar="N",
                   help="CPUs per run under Ray, also its TF threads (default 1)")
    p.add_argument("--ray-gpus", type=float, default=0.0, metavar="N",
                   help="GPUs per run under Ray (default 0)")
    p.add_argument("--ray-retries", type=int, default=None, metavar="N",
                   help="under Ray, retries of a run whose worker or node died (default 2)")
    p.add_argument("--no-ship-code", action="store_true",
                   help="under Ray, do not upload this checkout as the working_dir (use when the "
                        "suite is on every node; the default for an installed suite)")


def validate(ns: argparse.Namespace) -> None:
    """Checks the numbers and parses ``--set``/``--only`` into ``ns.set_values``/``ns.only_values``
    (their keys are checked against the tasks when the suite is loaded)."""
    if ns.workers is not None and ns.workers < 1:
        raise SuiteError(f"--workers must be >= 1, got {ns.workers}")
    if ns.executor == "ray" and (ns.ray_cpus <= 0 or ns.ray_gpus < 0 or (ns.ray_retries or 0) < 0):
        raise SuiteError("--ray-cpus must be > 0, --ray-gpus and --ray-retries >= 0")
    ns.set_values = parse_assignments(ns.set, "--set")
    ns.only_values = parse_assignments(ns.only, "--only")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(ns: argparse.Namespace) -> int:
    """Loads the plugins and the suite, checks every task on a sample (pre-flight), runs the
    missing runs and builds the report; 130 if interrupted."""
    from suite.env import REPORTS_DIR
    from suite.execution import runner
    from suite.preflight import preflight
    from suite.registry import load_plugins
    from suite.store.io import load_manifest
    from suite.suite_file import SuiteTooLarge, load_suite

    plugins = load_plugins(ns.tasks_path)
    tasks = {name: plugin.task for name, plugin in plugins.items()}
    try:
        suite = load_suite(ns.suite, tasks, overrides=ns.set_values, only=ns.only_values)
    except SuiteTooLarge as err:
        if not ns.dry_run:
            raise
        print(f"{err.count} runs (before --only and duplicates): more than the limit of "
              f"{err.limit} runs a suite may expand to; not listed, and a run of it is refused")
        return 0
    if not suite.runs:
        raise SuiteError(f"--only {','.join(ns.only)}: no run of suite '{suite.name}' matches")
    workers = ns.workers or runner.default_workers()
    if ns.dry_run:
        print(runner.dry_run_table(suite, workers))
        return 0
    # every task on a small sample of its data, before anything is written (suite/preflight.py)
    preflight(suite.runs, tasks, {name: p.origin.describe() for name, p in plugins.items()})
    used = {cfg["task"] for cfg in suite.runs.values()}
    origins = {name: plugins[name].origin.as_dict() for name in sorted(used)}
    out = Path(ns.out) if ns.out else REPORTS_DIR / suite.name
    tasks_paths = [str(Path(p).resolve()) for p in ns.tasks_path]
    where = (f"Ray ({ns.address or os.environ.get('RAY_ADDRESS') or 'local'})"
             if ns.executor == "ray" else f"{workers} worker(s)")
    print(f"suite '{suite.name}': {len(suite.runs)} runs, {where} -> {out}")
    signal.signal(signal.SIGTERM, _interrupt)  # a scheduler's SIGTERM stops like Ctrl-C
    ray_options: dict[str, float] | None = None
    started_ray = False
    if ns.executor == "ray":
        from suite.execution import ray_executor  # deferred: Ray is optional

        started_ray = ray_executor.connect(ns.address, ship_code=False if ns.no_ship_code else None)
        ray_options = {"cpus": ns.ray_cpus, "gpus": ns.ray_gpus}
        if ns.ray_retries is not None:
            ray_options["retries"] = ns.ray_retries
    try:
        outcome = runner.run_local(suite, out, workers, tasks_paths, ray_options, origins=origins)
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    from suite.report.build import build_report  # deferred: matplotlib start-up

    # the runner has just read the records: the report is built from them, not from a second read
    path = build_report(out, load_manifest(out), loaded=(outcome.records, outcome.warnings))
    done = ", ".join(f"{n} {s}" for s, n in sorted(outcome.statuses.items())) or "none"
    print(f"ran {outcome.ran} run(s) ({done}); {outcome.skipped} already finished")
    if outcome.interrupted:
        print("interrupted: finished runs are kept; run the same command again to resume",
              file=sys.stderr)
        print(f"report: {path}")
        return 130
    print(f"report: {path}")
    return 0
