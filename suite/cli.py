"""Command line: run a suite, rebuild a report, list tasks.

Usage::

    python run_suite.py [--suite NAME|PATH] [--out DIR] [--only KEY=VALUE,...]
                        [--set KEY=VALUE ...] [--workers N] [--tasks-path DIR] [--dry-run]
    python run_suite.py report DIR [--tensorboard] [--threshold F]
    python run_suite.py compare DIR_A DIR_B [--out FILE] [--tolerance F]
    python run_suite.py tasks [--tasks-path DIR]

User mistakes (a bad suite file, an unknown key, a broken plugin) print one
line ``error: ...`` and exit with status 2, before anything is written.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from suite.api import SuiteError
from suite.config import load_suite, parse_assignments
from suite.env import ROOT
from suite.execution import runner
from suite.registry import discover
from suite.results import load_manifest, load_records, write_summary

EPILOG = """\
other commands:
  python run_suite.py report DIR    rebuild DIR/index.html and DIR/summary.csv from stored
                                    results (no training, no TensorFlow)
  python run_suite.py tasks         list tasks, their parameters and chance levels
  python run_suite.py bench [--json] ms/step of plain Keras, the instrumented step and the
                                    probes (see bench --help)
  python run_suite.py compare DIR_A DIR_B [--out FILE]
                                    a page of what changed between two result sets of the
                                    same runs (different code or library versions)
  python run_suite.py verify DIR [--sample N]
                                    rerun N stored runs and check the curves are bit-identical

examples:
  python run_suite.py                                   # the quick suite -> reports/quick/
  python run_suite.py --only task=adding,cell=gru       # a subset of its runs
  python run_suite.py --set steps=200 --out /tmp/q      # shorter runs, elsewhere
  python run_suite.py --suite full --dry-run            # list the runs and a time estimate

Keys for --only: study, task, seed, any run axis, TASK.PARAM (e.g. adding.seq_len).
Keys for --set: any run axis or TASK.PARAM; --set replaces [defaults] and each study's
'set', but not the values a study's grid varies. Rerunning skips finished runs.
"""


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_suite.py", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train SimpleRNN/LSTM/GRU grids on long-range tasks, measure gradient "
                    "health, and write an HTML report.")
    p.add_argument("--suite", default="quick", help="suite name in suites/ or a TOML path "
                   "(default: quick)")
    p.add_argument("--out", help="output directory (default: reports/<suite name>)")
    p.add_argument("--only", action="append", default=[], metavar="KEY=VALUE,...",
                   help="keep only runs matching every KEY=VALUE")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a default for every run (repeatable)")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel worker processes (default: one per CPU core)")
    p.add_argument("--tasks-path", action="append", default=[], metavar="DIR",
                   help="extra folder of task plugin modules (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="list the runs with estimated times")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local worker processes (default) or Ray tasks (pip install -r "
                        "requirements-ray.txt)")
    p.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--ray-cpus", type=float, default=1.0, metavar="N",
                   help="CPUs per run under Ray, also its TF threads (default 1)")
    p.add_argument("--ray-gpus", type=float, default=0.0, metavar="N",
                   help="GPUs per run under Ray (default 0)")
    p.add_argument("--ray-retries", type=int, default=None, metavar="N",
                   help="under Ray, retries of a run whose worker or node died (default 2)")
    p.add_argument("--no-ship-code", action="store_true",
                   help="under Ray, do not upload this checkout as the working_dir (use when the "
                        "suite is installed on every node)")
    return p


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def cmd_run(argv: list[str]) -> int:
    args = _run_parser().parse_args(argv)
    if args.workers is not None and args.workers < 1:
        raise SuiteError(f"--workers must be >= 1, got {args.workers}")
    tasks = discover(args.tasks_path)
    suite = load_suite(args.suite, tasks, overrides=parse_assignments(args.set, "--set"),
                       only=parse_assignments(args.only, "--only"))
    if not suite.runs:
        raise SuiteError(f"--only {','.join(args.only)}: no run of suite '{suite.name}' matches")
    workers = args.workers or runner.default_workers()
    if args.dry_run:
        print(runner.dry_run_table(suite, workers))
        return 0
    out = Path(args.out) if args.out else ROOT / "reports" / suite.name
    tasks_paths = [str(Path(p).resolve()) for p in args.tasks_path]
    where = (f"Ray ({args.address or os.environ.get('RAY_ADDRESS') or 'local'})"
             if args.executor == "ray" else f"{workers} worker(s)")
    print(f"suite '{suite.name}': {len(suite.runs)} runs, {where} -> {out}")
    signal.signal(signal.SIGTERM, _interrupt)  # a scheduler's SIGTERM stops like Ctrl-C
    ray_options, started_ray = None, False
    if args.executor == "ray":
        if args.ray_cpus <= 0 or args.ray_gpus < 0 or (args.ray_retries or 0) < 0:
            raise SuiteError("--ray-cpus must be > 0, --ray-gpus and --ray-retries >= 0")
        from suite.execution import ray_executor  # deferred: Ray is optional

        started_ray = ray_executor.connect(args.address, ship_code=not args.no_ship_code)
        ray_options = {"cpus": args.ray_cpus, "gpus": args.ray_gpus}
        if args.ray_retries is not None:
            ray_options["retries"] = args.ray_retries
    try:
        outcome = runner.run_local(suite, out, workers, tasks_paths, ray_options)
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


def cmd_report(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="run_suite.py report",
                                description="Rebuild index.html and summary.csv from stored results.")
    p.add_argument("dir", help="a suite output directory")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write each run's scalars as TensorBoard event files to DIR/tensorboard")
    p.add_argument("--threshold", type=float, default=None, metavar="F",
                   help="steps-to-threshold level as a fraction of the chance loss (default 0.1)")
    args = p.parse_args(argv)
    from suite.report.build import build_report  # deferred: matplotlib start-up

    out = Path(args.dir)
    manifest = load_manifest(out)
    records, warnings = load_records(out)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    write_summary(out, manifest, records)
    if args.threshold is not None and not 0 < args.threshold <= 1:
        raise SuiteError(f"--threshold must be in (0, 1], got {args.threshold}")
    kwargs = {} if args.threshold is None else {"fraction": args.threshold}
    print(f"report: {build_report(out, manifest, loaded=(records, warnings), **kwargs)}")
    if args.tensorboard:
        from suite.report.tbexport import export  # deferred: imports TensorFlow

        print(f"tensorboard: {export(out, manifest, records)} "
              f"(view with: tensorboard --logdir {out / 'tensorboard'})")
    return 0


def cmd_tasks(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="run_suite.py tasks", description="List the discovered tasks.")
    p.add_argument("--tasks-path", action="append", default=[], metavar="DIR")
    args = p.parse_args(argv)
    for name, task in discover(args.tasks_path).items():
        params = dict(task.params)
        try:
            task.validate(params)
            chance = f"{task.chance_loss(params):.4g}"
        except SuiteError as err:
            chance = f"unavailable ({err})"
        doc = (sys.modules[type(task).__module__].__doc__ or type(task).__doc__ or "").strip()
        print(f"{name} (version {task.version})")
        print(f"  parameters: {', '.join(f'{k}={v!r}' for k, v in params.items())}")
        print(f"  chance loss at defaults: {chance}; headline metric: {task.primary_metric} "
              f"({'higher' if task.higher_is_better else 'lower'} is better)")
        if doc:
            print(f"  {doc.splitlines()[0]}")
    return 0


def cmd_bench(argv: list[str]) -> int:
    from suite.tools.bench import main as bench_main  # deferred: TensorFlow

    return bench_main(argv)


def cmd_verify(argv: list[str]) -> int:
    from suite.tools.verify import main as verify_main  # deferred: per command

    return verify_main(argv)


def cmd_compare(argv: list[str]) -> int:
    from suite.report.compare import main as compare_main  # deferred: matplotlib

    return compare_main(argv)


COMMANDS = {"report": cmd_report, "tasks": cmd_tasks, "bench": cmd_bench, "verify": cmd_verify,
            "compare": cmd_compare}


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            return COMMANDS[argv[0]](argv[1:])
        return cmd_run(argv)
    except SuiteError as err:
        print("error: " + " ".join(str(err).splitlines()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
