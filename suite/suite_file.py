"""Suite files (TOML): parsing, validation, and expansion into runs.

A suite file has a ``name``, ``seeds``, a ``[defaults]`` table of run axes,
optional ``[tasks.NAME]`` tables of task parameters (and run axes that apply
to that task only, e.g. a longer ``steps``), and one or more
``[[study]]`` tables (``name``, ``question``, ``tasks``, optional ``set``,
``grid``, ``seeds`` and ``[[study.claim]]``). See docs "Suite files" for the format.

Every run is a flat, fully resolved configuration (:func:`suite.axes.resolve`);
an identical run requested by two studies runs once. The run axes are
:mod:`suite.axes`; the claims are checked by :mod:`suite.claim_spec`.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping

from suite import env, runs
from suite.api import SuiteError, Task, Widths, io_widths, sequence_length, solved_level
from suite.axes import AXES, MAX_SEED, RUN_KEYS, _flatten, _table, check_key, resolve
from suite.claim_spec import parse_claim
from suite.ids import run_id

SUITES_DIR = env.SUITES_DIR  # the checkout's suites/, or the installed package data


#: The most runs a suite may expand to; a larger one is refused with its count (``--dry-run``
#: reports the count without expanding it).
MAX_RUNS = 100_000
#: A suite's ``name`` (its default output folder, reports/NAME): one safe path component.
NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")


@dataclasses.dataclass
class Study:
    """A question and the runs that answer it."""

    name: str
    question: str
    tasks: list[str]
    varying: list[str]
    run_ids: list[str] = dataclasses.field(default_factory=list)
    #: Checked ``[[study.claim]]`` tables (:func:`parse_claim`), in file order. Default: none.
    claims: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Suite:
    """A parsed, validated, expanded suite.

    Attributes:
        name: The suite's ``name`` (default: the file stem).
        source: The suite file's path.
        text: The suite file's text (stored in the manifest).
        runs: Resolved configurations (:func:`resolve`) by run id.
        studies: The studies, in file order.
        lengths: Steps each run unrolls (:func:`suite.api.sequence_length`;
            ``None`` if unknown) by run id, so that estimates and labels need
            no task. Default: empty.
        widths: What each run's model reads and writes per step
            (:func:`suite.api.io_widths`; ``None`` if unknown) by run id, for the
            estimates. Default: empty.
        solved_levels: The validation loss at which each run counts as solved
            (:func:`suite.api.solved_level`; ``None`` if the task declares none)
            by run id, stored in the manifest so that the report and ``check``
            need no task. Default: empty.
    """

    name: str
    source: str
    text: str
    runs: dict[str, dict[str, Any]]
    studies: list[Study]
    lengths: dict[str, int | None] = dataclasses.field(default_factory=dict)
    widths: dict[str, Widths | None] = dataclasses.field(default_factory=dict)
    solved_levels: dict[str, float | None] = dataclasses.field(default_factory=dict)

    def varying(self) -> dict[str, list[str]]:
        """The axes varied by the studies that hold each run, by run id (file order, each once)."""
        keys: dict[str, dict[str, None]] = {rid: {} for rid in self.runs}
        for study in self.studies:
            for rid in study.run_ids:
                keys.setdefault(rid, {}).update(dict.fromkeys(study.varying))
        return {rid: list(k) for rid, k in keys.items()}

    @functools.cached_property
    def titles(self) -> dict[str, str]:
        """Each run in one line, by run id: :func:`suite.runs.title` by the axes its studies
        vary, and where two runs would still share a line, the axes that tell them apart in
        brackets (:func:`suite.runs.telling_apart`; e.g. ``steps=1000``)."""
        varying = self.varying()
        base = {rid: runs.title(cfg, self.lengths.get(rid), varying.get(rid))
                for rid, cfg in self.runs.items()}
        groups: dict[str, list[str]] = {}
        for rid, text in base.items():
            groups.setdefault(text, []).append(rid)
        for text, rids in groups.items():
            if len(rids) > 1:
                apart = runs.telling_apart({rid: runs.flat_config(self.runs[rid]) for rid in rids})
                for rid, extra in apart.items():
                    base[rid] = f"{text} ({extra or 'run ' + rid})"
        return base

    def title(self, run_id: str) -> str:
        """The run in one line (:attr:`titles`)."""
        return self.titles[run_id]


class SuiteTooLarge(SuiteError):
    """A suite that would expand to more than the limit of runs (:data:`MAX_RUNS`)."""

    def __init__(self, message: str, count: int, limit: int):
        super().__init__(message)
        self.count, self.limit = count, limit


def parse_value(text: str) -> Any:
    """Parses a command-line value as a TOML scalar, falling back to a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignments(items: list[str], flag: str) -> dict[str, Any]:
    """Parses ``KEY=VALUE`` items (each may hold several, comma separated)."""
    out: dict[str, Any] = {}
    for item in items:
        if not item.replace(",", "").strip():  # '--only ""' would otherwise keep every run
            raise SuiteError(f"{flag}: expected KEY=VALUE, got an empty value {item!r}")
        for part in filter(None, (p.strip() for p in item.split(","))):
            if "=" not in part:
                raise SuiteError(f"{flag}: expected KEY=VALUE, got '{part}'")
            key, value = (s.strip() for s in part.split("=", 1))
            if key in out and out[key] != parse_value(value):  # the last would win silently
                raise SuiteError(f"{flag}: '{key}' given twice ({out[key]!r} and "
                                 f"{parse_value(value)!r}); a run has one value of each key")
            out[key] = parse_value(value)
    return out


def _seeds(value: Any, where: str) -> list[int]:
    if (not isinstance(value, list) or not value
            or any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED
                   for s in value)):
        raise SuiteError(f"{where}: 'seeds' must be a non-empty list of integers in "
                         f"[0, {MAX_SEED}], got {value!r}"[:300])
    return list(dict.fromkeys(value))


def load_suite(ref: str, tasks: Mapping[str, Task], overrides: Mapping[str, Any] | None = None,
               only: Mapping[str, Any] | None = None, limit: int | None = MAX_RUNS) -> Suite:
    """Reads, validates and expands a suite file.

    Args:
        ref: A suite name (``suites/NAME.toml``) or a path to a TOML file.
        tasks: Discovered tasks (:func:`suite.registry.discover`).
        overrides: ``--set`` values; they replace ``[defaults]``, the
            ``[tasks.NAME]`` tables and every study's ``set`` (a study's
            ``grid`` still wins). Precedence, lowest first: axis defaults,
            ``[defaults]``, ``[tasks.NAME]``, study ``set``, ``--set``, ``grid``.
            Default: none.
        only: ``--only`` filter; a run is kept if every key matches
            (keys: ``study``, ``task``, ``seed``, any axis, ``TASK.param``).
            Default: keep every run.
        limit: The most runs the suite may expand to (default :data:`MAX_RUNS`),
            counted before expansion as tasks x grid points x seeds per study;
            None: no limit.

    Raises:
        SuiteTooLarge: If the count is above ``limit`` (nothing is expanded).
        SuiteError: naming the file and the key for any problem.
    """
    path, text, doc = _read_suite_file(ref)
    where = str(path)
    name, seeds = _header(doc, where)
    defaults = _flatten(_table(doc, "defaults", where), where, tasks)
    for key, value in defaults.items():
        check_key(key, value, f"{where} [defaults]", tasks)
    per_task = _task_tables(doc, where, tasks)
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        check_key(key, value, "--set", tasks)
    only = _checked_only(only, tasks)
    raw_studies = doc.get("study", [])
    if not isinstance(raw_studies, list) or not raw_studies:
        raise SuiteError(f"{where}: needs at least one [[study]]")
    specs: list[_StudySpec] = []
    for i, st in enumerate(raw_studies):
        specs.append(_parse_study(st, where, i, tasks, seeds, [s.study for s in specs]))
    count = sum(len(s.study.tasks) * math.prod(map(len, s.grid.values())) * len(s.seeds)
                for s in specs)
    if limit is not None and count > limit:
        raise SuiteTooLarge(f"{where}: {count} runs (before --only and duplicates), more than "
                            f"the limit of {limit} runs a suite may expand to; split it into "
                            f"smaller suites", count, limit)
    suite = Suite(name=name, source=str(path), text=text, runs={}, studies=[])
    for spec in specs:
        for tname in spec.study.tasks:
            base = {**defaults, **per_task.get(tname, {}), **spec.fixed, **overrides}
            _expand(suite, spec, tasks[tname], base, only)
        suite.studies.append(spec.study)
    return suite


def _read_suite_file(ref: str) -> tuple[Path, str, dict[str, Any]]:
    """(path, text, parsed TOML) of a suite name or path."""
    path = Path(ref)
    # a bare name is a built-in suite unless it names a file (a folder "quick" in the
    # working directory, e.g. a results folder, does not hide the built-in suite)
    if not path.suffix and not path.is_file():
        path = SUITES_DIR / f"{ref}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.toml")))
        raise SuiteError(f"suite '{ref}' not found (built-in suites: {known}; or give a path)")
    try:
        text = path.read_text(encoding="utf-8")
        return path, text, tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise SuiteError(f"{path}: not valid TOML: {err}") from None


def _header(doc: Mapping[str, Any], where: str) -> tuple[str, list[int]]:
    """The suite's ``name`` and ``seeds``, after checking the top-level keys."""
    known_top = {"name", "seeds", "defaults", "tasks", "study", "description"}
    for key in doc:
        if key not in known_top:
            raise SuiteError(f"{where}: unknown top-level key '{key}'; allowed: "
                             f"{', '.join(sorted(known_top))}")
    name = doc.get("name", Path(where).stem)
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise SuiteError(f"{where}: 'name' must be 1 to 100 letters, digits, '_', '-' or '.', "
                         f"not starting with '.'")
    if not isinstance(doc.get("description", ""), str):
        raise SuiteError(f"{where}: 'description' must be a string")
    return name, _seeds(doc.get("seeds", [0]), where)


def _task_tables(doc: Mapping[str, Any], where: str,
                 tasks: Mapping[str, Task]) -> dict[str, dict[str, Any]]:
    """The ``[tasks.NAME]`` tables as ``{NAME: {axis or NAME.param: value}}``."""
    per_task: dict[str, dict[str, Any]] = {}
    for tname, table in _table(doc, "tasks", where).items():
        tw = f"{where} [tasks.{tname}]"
        if tname not in tasks:
            raise SuiteError(f"{tw}: unknown task '{tname}'; known tasks: {', '.join(tasks)}")
        if not isinstance(table, dict):
            raise SuiteError(f"{tw}: must be a table")
        per_task[tname] = {}
        for key, value in table.items():
            full = key if key in AXES else f"{tname}.{key}"
            check_key(full, value, tw, tasks)
            per_task[tname][full] = value
    return per_task


def _checked_only(only: Mapping[str, Any] | None, tasks: Mapping[str, Task]) -> dict[str, Any]:
    """The ``--only`` filter after checking its keys."""
    only = dict(only or {})
    for key, value in only.items():
        if key not in ("study",) + RUN_KEYS and "." not in key:
            raise SuiteError(f"--only: unknown key '{key}'; allowed: study, "
                             f"{', '.join(RUN_KEYS)} or TASK.PARAM")
        if "." in key:
            check_key(key, value, "--only", tasks)
    return only


@dataclasses.dataclass
class _StudySpec:
    """A checked ``[[study]]`` table: its Study, fixed ``set`` values, grid and seeds."""

    study: Study
    fixed: dict[str, Any]
    grid: dict[str, list[Any]]
    seeds: list[int]
    where: str


def _parse_study(st: Any, where: str, index: int, tasks: Mapping[str, Task], seeds: list[int],
                 earlier: list[Study]) -> _StudySpec:
    """Checks the ``index``-th ``[[study]]`` table of suite file ``where``.

    ``seeds`` are the suite's seeds (used unless the study has its own) and
    ``earlier`` the studies before it (names must be unique).
    """
    sw = f"{where} [[study]] #{index + 1}"
    if not isinstance(st, dict):
        raise SuiteError(f"{sw}: must be a table")
    for key in st:
        if key not in ("name", "question", "tasks", "set", "grid", "seeds", "claim"):
            raise SuiteError(f"{sw}: unknown key '{key}'; allowed: name, question, tasks, "
                             f"set, grid, seeds, claim")
    sname = st.get("name")
    if not isinstance(sname, str) or not sname:
        raise SuiteError(f"{sw}: 'name' must be a non-empty string")
    sw = f"{where} [[study]] '{sname}'"
    if any(s.name == sname for s in earlier):
        raise SuiteError(f"{sw}: study name used twice")
    question = st.get("question", "")
    if not isinstance(question, str):
        raise SuiteError(f"{sw}: 'question' must be a string")
    stasks = st.get("tasks")
    if not isinstance(stasks, list) or not stasks or not all(isinstance(t, str) for t in stasks):
        raise SuiteError(f"{sw}: 'tasks' must be a non-empty list of task names")
    for t in stasks:
        if t not in tasks:
            raise SuiteError(f"{sw}: unknown task '{t}'; known tasks: {', '.join(tasks)}")
    fixed = _flatten(_table(st, "set", sw), sw, tasks)
    for key, value in fixed.items():
        check_key(key, value, f"{sw} set", tasks)
    grid = _flatten(_table(st, "grid", sw), sw, tasks)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SuiteError(f"{sw} grid: '{key}' must be a non-empty list of values")
        for value in values:
            check_key(key, value, f"{sw} grid", tasks)
    sseeds = _seeds(st["seeds"], sw) if "seeds" in st else seeds
    raw_claims = st.get("claim", [])
    if not isinstance(raw_claims, list):
        raise SuiteError(f"{sw}: 'claim' must be an array of tables ([[study.claim]])")
    claims = [parse_claim(c, f"{sw} claim #{k}", sname, k, list(stasks), tasks)
              for k, c in enumerate(raw_claims, 1)]
    study = Study(sname, question, list(stasks), list(grid), claims=claims)
    return _StudySpec(study, fixed, grid, sseeds, sw)


def _expand(suite: Suite, spec: _StudySpec, task: Task, base: Mapping[str, Any],
            only: Mapping[str, Any]) -> None:
    """Adds the runs of one task of one study (grid x seeds over ``base``) to ``suite``."""
    grid = spec.grid
    seen = set(spec.study.run_ids)
    for combo in itertools.product(*grid.values()) if grid else [()]:
        values = {**base, **dict(zip(grid, combo))}
        # keys of the study's other tasks do not apply to this one
        mine = {k: v for k, v in values.items() if "." not in k or k.split(".", 1)[0] == task.name}
        for seed in spec.seeds:
            cfg = resolve(task, seed=seed, where=spec.where, **mine)
            if not _matches(cfg, spec.study.name, only):
                continue
            rid = run_id(cfg, task.version)
            if rid not in suite.runs:
                suite.runs[rid] = cfg
                suite.lengths[rid] = sequence_length(task, cfg["task_params"])
                suite.widths[rid] = io_widths(task, cfg["task_params"])
                suite.solved_levels[rid] = solved_level(task, cfg["task_params"])
            if rid not in seen:  # a set: a list lookup made expansion quadratic
                seen.add(rid)
                spec.study.run_ids.append(rid)


def _matches(cfg: Mapping[str, Any], study: str, only: Mapping[str, Any]) -> bool:
    """Whether a run of ``study`` passes ``--only`` (:func:`suite.runs.matches`)."""
    return runs.matches(cfg, only, study=study)
