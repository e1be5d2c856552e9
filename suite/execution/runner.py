"""Local execution of a suite: one fresh process per run, ``--workers`` at a time.

Each run trains in its own ``python -m suite.worker`` process (a fresh
TensorFlow, a fresh Python ``random``: weights depend only on the run seed).
The worker writes its record atomically; if a worker dies without writing one
(killed, segfault, out of memory) the runner records the run as ``failed``
with the exit code and the end of its log. Runs whose record says ``ok`` or
``diverged`` are skipped on the next invocation; ``failed`` and missing runs
are run again.

A lock (``fcntl.flock`` on ``DIR/.lock``, released by the OS if the process
dies) keeps two suite processes from writing the same directory. Ctrl-C stops
the workers and exits; what finished is kept.
"""
from __future__ import annotations

import ctypes
import dataclasses
import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from suite.api import SuiteError
from suite.axes import AXES
from suite.env import ROOT
from suite.execution.estimate import estimate_seconds, reference_ms
from suite.execution.spec import failed_record, utc_now, worker_argv, worker_env, worker_spec
from suite.safeio import check_inside, open_log
from suite.store.io import atomic_write_json, load_records, read_json, record_path, write_summary
from suite.store.schema import FINISHED, SCHEMA_VERSION, RunRecord
from suite.suite_file import Suite

#: Throughput per worker relative to one worker, with one worker per core (measured:
#: ``bench --suite quick --runs 6 --set steps=500``: 1.90x with 2 workers on 2 cores; 1.7x
#: in an earlier whole-suite measurement).
PARALLEL_EFFICIENCY = 0.9


def default_workers() -> int:
    """One worker per core (2 processes on 2 cores: 1.7x to 1.9x the throughput of 1 here)."""
    return max(1, os.cpu_count() or 1)


def threads_per_worker(workers: int) -> int:
    """TensorFlow intra/inter-op threads per worker: the cores shared out, at least 1."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


@dataclasses.dataclass
class Outcome:
    """What a suite invocation did."""

    skipped: int
    ran: int
    statuses: dict[str, int]
    interrupted: bool
    #: The records in ``out`` after the runs, read once; ``cmd_run`` builds the report from them.
    records: dict[str, RunRecord] = dataclasses.field(default_factory=dict)
    #: What reading them skipped (corrupt or foreign files), as for ``load_records``.
    warnings: list[str] = dataclasses.field(default_factory=list)


class DirectoryLock:
    """An exclusive OS-level lock on ``DIR/.lock`` (released automatically on death)."""

    def __init__(self, out: Path):
        self.path = Path(out) / ".lock"
        self.fh = None

    def __enter__(self) -> "DirectoryLock":
        out = self.path.parent
        if out.exists() and not out.is_dir():
            raise SuiteError(f"{out}: not a directory; choose another --out")
        try:
            out.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.path, "a+")
        except OSError as err:
            raise SuiteError(f"{out}: cannot write the output directory here "
                             f"({err.strerror or err}: {err.filename or self.path})") from None
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            raise SuiteError(f"{self.path.parent}: another suite process is writing this "
                             f"directory; wait for it or choose another --out") from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def manifest_of(suite: Suite, tasks_paths: list[str],
                origins: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """The ``suite.json`` manifest: suite file, studies (with their claims), every run's
    config and solved level, and where each task came from (``task_origins``: task name ->
    :meth:`suite.registry.Origin.as_dict`; default None: none recorded)."""
    return {"schema_version": SCHEMA_VERSION, "name": suite.name, "source": suite.source,
            "suite_text": suite.text, "tasks_paths": tasks_paths, "task_origins": dict(origins or {}),
            "studies": [dataclasses.asdict(s) for s in suite.studies],
            "runs": suite.runs, "solved_levels": suite.solved_levels, "written_at": utc_now()}


def existing_manifest(out: Path, name: str) -> dict[str, Any] | None:
    """The manifest already in ``out`` (None if there is none), if a suite called ``name`` may
    write there.

    A directory holds one suite's results: a suite of another name is refused (it would
    replace the manifest, and the first suite's runs would vanish from the report,
    ``summary.csv`` and ``check``), as is a directory whose ``suite.json`` cannot be read.
    The same suite again (other ``--only``, an edited file) merges (:func:`_merge_manifest`).

    Raises:
        SuiteError: Before anything is written.
    """
    path = Path(out) / "suite.json"
    if not path.exists() and not path.is_symlink():
        return None
    try:
        old = read_json(path)
    except (OSError, ValueError) as err:
        raise SuiteError(f"{path}: unreadable manifest ({err}); repair or remove it, or choose "
                         f"another --out") from None
    if not isinstance(old, dict) or not isinstance(old.get("runs", {}), dict) or not isinstance(
            old.get("studies", []), list):
        raise SuiteError(f"{path}: not a suite manifest; choose another --out")
    if old.get("name") != name:
        raise SuiteError(f"{out} holds the results of suite {old.get('name')!r}, not {name!r}: "
                         f"a directory holds one suite's results; choose another --out")
    return old


def _merge_manifest(out: Path, new: dict[str, Any]) -> dict[str, Any]:
    """Keeps runs and studies of an earlier invocation (e.g. another ``--only``)."""
    old = existing_manifest(out, new["name"])
    if old is None:
        return new
    runs = {**old.get("runs", {}), **new["runs"]}
    studies = {s["name"]: s for s in old.get("studies", [])}
    for s in new["studies"]:
        if s["name"] in studies:
            ids = studies[s["name"]]["run_ids"]
            s = {**s, "run_ids": ids + [r for r in s["run_ids"] if r not in ids]}
        studies[s["name"]] = s
    levels = {**old.get("solved_levels", {}), **new.get("solved_levels", {})}
    origins = {**old.get("task_origins", {}), **new.get("task_origins", {})}
    paths = [*new.get("tasks_paths", []),
             *(p for p in old.get("tasks_paths", []) if p not in new.get("tasks_paths", []))]
    return {**new, "runs": runs, "studies": list(studies.values()), "solved_levels": levels,
            "task_origins": origins, "tasks_paths": paths}


def _die_with_parent() -> None:
    """In a new worker (Linux): get SIGKILL when the suite process dies, even by SIGKILL.

    Workers run in their own session so that Ctrl-C reaches only the suite process, which
    then stops them; this covers the case where the suite process cannot.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


#: Info and warning lines of TensorFlow's C++ logging (absl format, and its preamble), such as
#: the start-up notes ``I0000 00:00:1795.2 27711 port.cc:153] oneDNN custom operations are on``,
#: which say nothing about why a worker died (error and fatal lines are kept).
_TF_LOG_LINE = re.compile(r"^([IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] |WARNING: All log "
                          r"messages before absl::InitializeLog\(\) is called)")


def exit_reason(code: int) -> str:
    """``worker killed by SIGKILL`` for a negative return code (a signal), else ``worker exited
    with code N``."""
    if code < 0:
        try:
            return f"worker killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"worker killed by signal {-code}"
    return f"worker exited with code {code}"


def _failed_record(run_id: str, cfg: dict[str, Any], code: int, log: Path, started: str) -> dict:
    """The record of a worker that ended without one: how it ended and the last 3 lines of its
    log, without TensorFlow's start-up log lines."""
    tail = ""
    if log.exists():
        lines = [ln for ln in log.read_text(errors="replace").splitlines()
                 if ln.strip() and not _TF_LOG_LINE.match(ln)]
        tail = " | ".join(lines[-3:])
    return failed_record(run_id, cfg, f"{exit_reason(code)} without writing a record"
                         + (f": {tail}" if tail else f" (log: {log.name})"), started)


class _LineProgress:
    """Progress for logs and CI (no terminal): one line per finished run."""

    def __init__(self, total: int, initial: int):
        self.total, self.n, self.t0 = total, initial, time.perf_counter()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def update(self, n: int = 1, status: str = "", label: str = "") -> None:
        self.n += n
        print(f"[{self.n}/{self.total}] {status:8s} {label} "
              f"({time.perf_counter() - self.t0:.0f} s elapsed)", flush=True)

    def close(self) -> None:
        pass


def _progress(total: int, initial: int) -> Any:
    """A tqdm bar (runs done/total, ETA, current run) on a terminal, else plain lines."""
    if not sys.stderr.isatty():
        return _LineProgress(total, initial)
    from tqdm import tqdm  # deferred: only on a terminal

    return tqdm(total=total, initial=initial, unit="run", dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} runs [{elapsed}<{remaining}] {postfix}")


def run_local(suite: Suite, out: Path, workers: int, tasks_paths: list[str],
              ray_options: dict[str, Any] | None = None,
              origins: dict[str, dict[str, str]] | None = None) -> Outcome:
    """Runs every pending run of ``suite`` into ``out`` with ``workers`` processes.

    Args:
        suite: The expanded suite.
        out: Output directory (created).
        workers: Parallel worker processes (>= 1).
        tasks_paths: Extra plugin folders, passed to each worker.
        ray_options: When given, run the pending runs as Ray tasks instead
            (keys ``cpus``, ``gpus`` for :func:`suite.ray_executor.execute`);
            Ray must already be connected.
        origins: Where each task of the suite came from, stored in the manifest
            (see :func:`manifest_of`); default None: not recorded.
    """
    out = Path(out)
    existing_manifest(out, suite.name)  # another suite's directory: refused before the lock
    for sub in ("runs", "logs", ".work"):  # a symlinked folder would take records elsewhere
        check_inside(out, out / sub / "x")
    with DirectoryLock(out):
        # SuiteError before anything is written if a newer suite wrote here: never rerun that
        records, _ = load_records(out, for_writing=True)
        manifest = _merge_manifest(out, manifest_of(suite, tasks_paths, origins))
        atomic_write_json(out / "suite.json", manifest, root=out)
        done = {rid for rid, r in records.items() if r.get("status") in FINISHED}
        # longest first, so that no long run is left alone at the end (LPT scheduling)
        ref, _ = reference_ms()
        pending = sorted((rid for rid in suite.runs if rid not in done),
                         key=lambda rid: -estimate_seconds(suite.runs[rid], suite.lengths.get(rid), ref,
                                                           suite.widths.get(rid)))
        statuses: dict[str, int] = {}
        interrupted = False
        bar = _progress(len(suite.runs), len(suite.runs) - len(pending))
        try:
            if ray_options is None:
                stream = _execute(suite, out, pending, workers, tasks_paths, bar)
            else:
                from suite.execution import ray_executor  # deferred: Ray is optional

                stream = ray_executor.execute(suite.runs, out, pending, tasks_paths, **ray_options)
            for _rid, status in _progressing(stream, suite, bar):
                statuses[status] = statuses.get(status, 0) + 1
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
        records, warnings = load_records(out)
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
        write_summary(out, manifest, records, axes=AXES)
        return Outcome(len(suite.runs) - len(pending), sum(statuses.values()), statuses,
                       interrupted, records, warnings)


def _progressing(stream: Iterator[tuple[str, str]], suite: Suite, bar: Any) -> Iterator[tuple[str, str]]:
    """Advances the progress display for each finished run of ``stream``."""
    for rid, status in stream:
        if isinstance(bar, _LineProgress):
            bar.update(1, status, suite.title(rid))
        else:
            bar.update(1)
        yield rid, status


def _execute(suite: Suite, out: Path, pending: list[str], workers: int,
             tasks_paths: list[str], bar: Any) -> Iterator[tuple[str, str]]:
    (out / "logs").mkdir(parents=True, exist_ok=True)
    (out / ".work").mkdir(parents=True, exist_ok=True)
    env = worker_env()
    threads = threads_per_worker(workers)
    queue = list(pending)
    active: dict[str, tuple[subprocess.Popen, Any, str]] = {}
    try:
        while queue or active:
            while queue and len(active) < workers:
                rid = queue.pop(0)
                spec_path = out / ".work" / f"{rid}.json"
                atomic_write_json(spec_path, worker_spec(rid, suite.runs[rid], tasks_paths, threads,
                                                         record_path(out, rid)), root=out)
                # a failed run's old record goes first: if the retry dies without writing
                # one, the new death is recorded, not the old error and start time
                record_path(out, rid).unlink(missing_ok=True)
                log = open_log(out / "logs" / f"{rid}.log")
                proc = subprocess.Popen(worker_argv(spec_path), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, preexec_fn=_die_with_parent)
                active[rid] = (proc, log, utc_now())
                bar.set_postfix_str(suite.title(rid), refresh=True)
            time.sleep(0.2)
            for rid in [r for r, (p, _, _) in active.items() if p.poll() is not None]:
                proc, log, started = active.pop(rid)
                log.close()
                rec_path = record_path(out, rid)
                status = None
                if rec_path.exists():
                    try:
                        status = read_json(rec_path).get("status")
                    except (OSError, ValueError):
                        status = None
                if status is None:
                    atomic_write_json(rec_path, _failed_record(rid, suite.runs[rid], proc.returncode,
                                                               out / "logs" / f"{rid}.log", started),
                                      root=out)
                    status = "failed"
                (out / ".work" / f"{rid}.json").unlink(missing_ok=True)
                yield rid, status
    finally:
        for proc, _log, _ in active.values():
            proc.terminate()
        for proc, log, _ in active.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


#: A run estimated above this many seconds (a day) makes ``--dry-run`` warn.
ABSURD_RUN_S = 86400.0


def dry_run_table(suite: Suite, workers: int) -> str:
    """The run list with estimated times, for ``--dry-run``; warns on stderr of runs estimated
    at over a day (:data:`ABSURD_RUN_S`)."""
    ref, source = reference_ms()
    lines = [f"{'run_id':12s}  {'est_s':>6s}  run"]
    total = 0.0
    absurd = []
    for rid, cfg in suite.runs.items():
        est = estimate_seconds(cfg, suite.lengths.get(rid), ref, suite.widths.get(rid))
        total += est
        if est > ABSURD_RUN_S:
            absurd.append((est, rid))
        lines.append(f"{rid:12s}  {est:6.0f}  {suite.title(rid)}")
    if absurd:
        est, rid = max(absurd)
        print(f"warning: {len(absurd)} run(s) estimated at over a day each (longest: {rid}, "
              f"about {_duration(est)}); check steps, hidden and seq_len", file=sys.stderr)
    speedup = 1.0 if workers == 1 else PARALLEL_EFFICIENCY * workers
    wall = total / speedup
    lines.append(f"{len(suite.runs)} runs; about {total / 3600:.1f} CPU-hours "
                 f"({total / 60:.0f} CPU-minutes), about {_duration(wall)} with {workers} worker(s) "
                 f"on this machine; from {source}, about ±30% per run")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"
