"""Command line: run a suite, and the commands around it (report, check, compare, verify,
tasks, bench).

Each command's arguments and help live in :mod:`suite.usage` (``run_suite.py
--help``; README's synopsis is checked against it). User mistakes (a bad suite
file, an unknown key, a broken plugin) print one line ``error: ...`` and exit
with status 2, before anything is written.
"""
from __future__ import annotations

import gc
import os
import signal
import sys
from pathlib import Path

from suite import usage
from suite.api import SuiteError
from suite.config import load_suite, parse_assignments
from suite.env import REPORTS_DIR
from suite.execution import runner
from suite.preflight import Fault, check_task_data, preflight
from suite.registry import load_plugins
from suite.results import load_manifest, load_records, write_summary


def _prog() -> str:
    """The program name in usage: ``rnn-suite`` when installed, else ``run_suite.py``."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name == "rnn-suite" else "run_suite.py"


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def cmd_run(argv: list[str]) -> int:
    args = usage.parser("run", _prog()).parse_args(argv)
    if args.workers is not None and args.workers < 1:
        raise SuiteError(f"--workers must be >= 1, got {args.workers}")
    plugins = load_plugins(args.tasks_path)
    tasks = {name: plugin.task for name, plugin in plugins.items()}
    suite = load_suite(args.suite, tasks, overrides=parse_assignments(args.set, "--set"),
                       only=parse_assignments(args.only, "--only"))
    if not suite.runs:
        raise SuiteError(f"--only {','.join(args.only)}: no run of suite '{suite.name}' matches")
    workers = args.workers or runner.default_workers()
    if args.dry_run:
        print(runner.dry_run_table(suite, workers))
        return 0
    # every task on a small sample of its data, before anything is written (suite/preflight.py)
    preflight(suite.runs, tasks, {name: p.origin.describe() for name, p in plugins.items()})
    used = {cfg["task"] for cfg in suite.runs.values()}
    origins = {name: plugins[name].origin.as_dict() for name in sorted(used)}
    out = Path(args.out) if args.out else REPORTS_DIR / suite.name
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

        started_ray = ray_executor.connect(args.address, ship_code=False if args.no_ship_code else None)
        ray_options = {"cpus": args.ray_cpus, "gpus": args.ray_gpus}
        if args.ray_retries is not None:
            ray_options["retries"] = args.ray_retries
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


def cmd_report(argv: list[str]) -> int:
    args = usage.parser("report", _prog()).parse_args(argv)
    from suite.report.build import build_report  # deferred: matplotlib start-up

    out = Path(args.dir)
    manifest = load_manifest(out)
    records, warnings = load_records(out)
    gc.freeze()  # the records live to the end: later collections need not walk them
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
    args = usage.parser("tasks", _prog()).parse_args(argv)
    for name, plugin in load_plugins(args.tasks_path).items():
        task = plugin.task
        params = dict(task.params)
        try:
            task.validate(params)
            check_task_data(task, params)  # the pre-flight check of a suite, at the defaults
            chance, check = f"{task.chance_loss(params):.4g}", "ok"
        except (SuiteError, Fault) as err:
            chance, check = "unavailable", f"FAILED: {err}"
        doc = (sys.modules[type(task).__module__].__doc__ or type(task).__doc__ or "").strip()
        print(f"{name} (version {task.version}) from {plugin.origin.describe()}")
        print(f"  parameters: {', '.join(f'{k}={v!r}' for k, v in params.items())}")
        print(f"  chance loss at defaults: {chance}; headline metric: {task.primary_metric} "
              f"({'higher' if task.higher_is_better else 'lower'} is better)")
        print(f"  pre-flight check at defaults: {check}")
        if doc:
            print(f"  {doc.splitlines()[0]}")
    return 0


def cmd_bench(argv: list[str]) -> int:
    args = usage.parser("bench", _prog()).parse_args(argv)
    from suite.tools.bench import main as bench_main  # deferred: TensorFlow

    return bench_main(args)


def cmd_verify(argv: list[str]) -> int:
    args = usage.parser("verify", _prog()).parse_args(argv)
    from suite.tools.verify import main as verify_main  # deferred: per command

    return verify_main(args)


def cmd_compare(argv: list[str]) -> int:
    args = usage.parser("compare", _prog()).parse_args(argv)
    from suite.report.compare import main as compare_main  # deferred: matplotlib

    return compare_main(args)


def cmd_check(argv: list[str]) -> int:
    """``check DIR [--strict]``: one line per claim; 1 if one fails (or, strict, is inconclusive)."""
    args = usage.parser("check", _prog()).parse_args(argv)
    from suite import claims  # deferred: per command

    out = Path(args.dir)
    manifest = load_manifest(out)
    records, warnings = load_records(out)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    results = claims.evaluate(manifest, records)
    for result in results:
        print(claims.check_line(result))
    n = claims.counts(results)
    print(f"{n['holds']} of {len(results)} claims hold, {n['fails']} fail, "
          f"{n['inconclusive']} inconclusive")
    return 1 if n["fails"] or (args.strict and n["inconclusive"]) else 0


COMMANDS = {"report": cmd_report, "tasks": cmd_tasks, "bench": cmd_bench, "verify": cmd_verify,
            "compare": cmd_compare, "check": cmd_check}


def main(argv: list[str] | None = None) -> int:
    """Entry point (``run_suite.py`` and the installed ``rnn-suite``); returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # as run_suite.py: before TF is imported
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
