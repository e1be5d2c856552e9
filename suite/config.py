"""Suite files (TOML): parsing, validation, and expansion into runs.

A suite file has a ``name``, ``seeds``, a ``[defaults]`` table of run axes,
optional ``[tasks.NAME]`` tables of task parameters (and run axes that apply
to that task only, e.g. a longer ``steps``), and one or more
``[[study]]`` tables (``name``, ``question``, ``tasks``, optional ``set``,
``grid`` and ``seeds``). See README "Suite files" for the full format.

Every run is a flat, fully resolved configuration: each axis of :data:`AXES`,
plus ``task``, ``task_params`` and ``seed``. Its id is a stable hash of that
configuration and the task version, so an identical run requested by two
studies runs once.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Callable, Mapping

from suite import env, runs
from suite.api import SuiteError, Task, sequence_length, solved_level
from suite.ids import run_id

SUITES_DIR = env.SUITES_DIR  # the checkout's suites/, or the installed package data

CELLS = ("simple_rnn", "lstm", "gru")
ACTIVATIONS = ("tanh", "relu", "linear")
BATCHNORM = ("none", "input", "output", "recurrent", "recurrent_sum")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
_INIT_RE = re.compile(r"^(default|glorot_uniform|zeros)$|^(orthogonal|identity|normal)(:(\d+(\.\d*)?|\.\d+))?$")


def _int(minimum: int) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            return f"an integer >= {minimum}"
        return None
    return check


def _float(minimum: float, strict: bool) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        bad = isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
        if bad or (v <= minimum if strict else v < minimum):
            return f"a finite number {'>' if strict else '>='} {minimum:g}"
        return None
    return check


def _choice(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda v: None if v in options else "one of " + ", ".join(options)


def _initializer(v: Any) -> str | None:
    if isinstance(v, str) and _INIT_RE.match(v):
        return None
    return ("a preset: default, glorot_uniform, zeros, orthogonal[:GAIN], identity[:GAIN], "
            "normal:GAIN (std GAIN/sqrt(fan_in))")


@dataclasses.dataclass(frozen=True)
class Axis:
    """One run axis: its default and its validity check (returns what is expected)."""

    default: Any
    check: Callable[[Any], str | None]
    help: str


#: Every run axis, its default, and what it means. Names follow Keras.
AXES: dict[str, Axis] = {
    "steps": Axis(2000, _int(1), "optimizer steps"),
    "batch_size": Axis(64, _int(1), "examples per step"),
    "eval_every": Axis(100, _int(1), "steps between validation evaluations"),
    "eval_size": Axis(512, _int(1), "validation examples"),
    "probe_every": Axis(100, _int(0), "steps between gradient-health probes (0: off)"),
    "cell": Axis("lstm", _choice(CELLS), "recurrent cell"),
    "activation": Axis("tanh", _choice(ACTIVATIONS), "simple_rnn activation (relu + identity = IRNN)"),
    "hidden": Axis(64, _int(1), "units per recurrent layer"),
    "depth": Axis(1, _int(1), "stacked recurrent layers"),
    "recurrent_initializer": Axis("default", _initializer, "recurrent kernel preset"),
    "kernel_initializer": Axis("default", _initializer, "input kernel preset"),
    "batchnorm": Axis("none", _choice(BATCHNORM),
                      "BatchNorm placement (recurrent_sum: one BN over W_h h + W_x x, simple_rnn)"),
    "bn_gamma": Axis(0.1, _float(0.0, True),
                     "initial gamma of recurrent BatchNorm (Cooijmans et al. 2016: 0.1)"),
    "optimizer": Axis("adam", _choice(OPTIMIZERS), "optimizer"),
    "learning_rate": Axis(1e-3, _float(0.0, True), "learning rate"),
    "clipnorm": Axis(0.0, _float(0.0, False), "per-variable clip norm (0: off)"),
    "global_clipnorm": Axis(0.0, _float(0.0, False), "global clip norm, Pascanu et al. (0: off)"),
    "clipvalue": Axis(0.0, _float(0.0, False), "element-wise clip of every gradient entry (0: off)"),
}
RUN_KEYS = ("task", "seed", *AXES)


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
    solved_levels: dict[str, float | None] = dataclasses.field(default_factory=dict)


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
        for part in filter(None, (p.strip() for p in item.split(","))):
            if "=" not in part:
                raise SuiteError(f"{flag}: expected KEY=VALUE, got '{part}'")
            key, value = (s.strip() for s in part.split("=", 1))
            out[key] = parse_value(value)
    return out


def _flatten(table: Mapping[str, Any], where: str, tasks: Mapping[str, Task]) -> dict[str, Any]:
    """Turns ``{adding = {seq_len = 5}}`` into ``{"adding.seq_len": 5}``."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and key in tasks:
            for sub, v in value.items():
                out[f"{key}.{sub}"] = v
        else:
            out[key] = value
    return out


def check_key(key: str, value: Any, where: str, tasks: Mapping[str, Task]) -> None:
    """Raises SuiteError if ``key`` is not an axis or ``TASK.param``, or ``value`` is wrong."""
    if "." in key:
        tname, param = key.split(".", 1)
        if tname not in tasks:
            raise SuiteError(f"{where}: unknown task '{tname}' in key '{key}'; "
                             f"known tasks: {', '.join(tasks)}")
        if param not in tasks[tname].params:
            raise SuiteError(f"{where}: task '{tname}' has no parameter '{param}'; "
                             f"its parameters: {', '.join(tasks[tname].params)}")
        default = tasks[tname].params[param]
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SuiteError(f"{where}: '{key}' must be a number, got {value!r}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise SuiteError(f"{where}: '{key}' must be a string, got {value!r}")
        return
    if key not in AXES:
        raise SuiteError(f"{where}: unknown key '{key}'; allowed: {', '.join(AXES)} "
                         f"or TASK.PARAM")
    expected = AXES[key].check(value)
    if expected:
        raise SuiteError(f"{where}: '{key}' must be {expected}, got {value!r}")


def _table(doc: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise SuiteError(f"{where}: '{key}' must be a table")
    return value


def _seeds(value: Any, where: str) -> list[int]:
    if (not isinstance(value, list) or not value
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in value)):
        raise SuiteError(f"{where}: 'seeds' must be a non-empty list of integers >= 0")
    return list(dict.fromkeys(value))


def resolve(task: Task, *, seed: int = 0, task_params: Mapping[str, Any] | None = None,
            where: str = "resolve()", **axes: Any) -> dict[str, Any]:
    """The one constructor of a resolved run configuration, validated like a suite file.

    Every axis of :data:`AXES` takes its default unless given; the task's
    parameters start from ``task.params`` and are overridden by ``task_params``
    and then by ``TASK.PARAM`` keys (``**{"adding.seq_len": 50}``). The
    configuration's :func:`suite.ids.run_id` depends only on the values, so the
    same run resolved here or by :func:`load_suite` has the same id.

    Args:
        task: The task (e.g. ``discover()["adding"]``).
        seed: The run seed (default 0; an integer >= 0).
        task_params: Task parameters to override (default: none, the task's defaults).
        where: Prefix of error messages (default ``"resolve()"``).
        **axes: Run axes (names of :data:`AXES`) and ``TASK.PARAM`` keys of this task.

    Returns:
        ``{"task", "task_params", "seed", *AXES}``; ``learning_rate``, the clip
        norms and ``bn_gamma`` as floats.

    Raises:
        SuiteError: naming the key for an unknown axis or parameter, a bad value,
            both clip norms set, a key of another task, or parameters the task rejects.
    """
    known = {task.name: task}
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SuiteError(f"{where}: 'seed' must be an integer >= 0, got {seed!r}")
    cfg: dict[str, Any] = {k: a.default for k, a in AXES.items()}
    params = dict(task.params)
    given = {f"{task.name}.{k}": v for k, v in (task_params or {}).items()}
    for key, value in {**given, **axes}.items():
        if "." in key and key.split(".", 1)[0] != task.name:
            raise SuiteError(f"{where}: key '{key}' is for another task than '{task.name}'")
        check_key(key, value, where, known)
        if "." in key:
            params[key.split(".", 1)[1]] = value
        else:
            cfg[key] = value
    for k in ("learning_rate", "clipnorm", "global_clipnorm", "clipvalue", "bn_gamma"):
        cfg[k] = float(cfg[k])
    clips = [k for k in ("clipnorm", "global_clipnorm", "clipvalue") if cfg[k] > 0]
    if len(clips) > 1:
        raise SuiteError(f"{where}: set one of clipnorm (per variable), global_clipnorm (global) "
                         f"and clipvalue (element-wise), not {'both' if len(clips) == 2 else 'all three'}"
                         " (got " + ", ".join(f"{k} = {cfg[k]:g}" for k in clips) + ")")
    if cfg["batchnorm"] == "recurrent_sum" and cfg["cell"] != "simple_rnn":
        raise SuiteError(f"{where}: batchnorm 'recurrent_sum' (one BN over the summed "
                         f"pre-activation) needs cell 'simple_rnn', got '{cfg['cell']}'")
    try:
        task.validate(params)
    except SuiteError as err:
        raise SuiteError(f"{where}: {err}") from None
    return {"task": task.name, "task_params": params, "seed": seed, **cfg}


def load_suite(ref: str, tasks: Mapping[str, Task], overrides: Mapping[str, Any] | None = None,
               only: Mapping[str, Any] | None = None) -> Suite:
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

    Raises:
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
    suite = Suite(name=name, source=str(path), text=text, runs={}, studies=[])
    for i, st in enumerate(raw_studies):
        spec = _parse_study(st, where, i, tasks, seeds, suite.studies)
        for tname in spec.study.tasks:
            base = {**defaults, **per_task.get(tname, {}), **spec.fixed, **overrides}
            _expand(suite, spec, tasks[tname], base, only)
        suite.studies.append(spec.study)
    return suite


def _read_suite_file(ref: str) -> tuple[Path, str, dict[str, Any]]:
    """(path, text, parsed TOML) of a suite name or path."""
    path = Path(ref)
    if not path.suffix and not path.exists():
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
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise SuiteError(f"{where}: 'name' must be letters, digits, '_', '-' or '.'")
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
                suite.solved_levels[rid] = solved_level(task, cfg["task_params"])
            if rid not in spec.study.run_ids:
                spec.study.run_ids.append(rid)


def _matches(cfg: Mapping[str, Any], study: str, only: Mapping[str, Any]) -> bool:
    """Whether a run of ``study`` passes ``--only`` (:func:`suite.runs.matches`)."""
    return runs.matches(cfg, only, study=study)


#: Comparison operators of a claim.
CLAIM_OPS = ("<", "<=", ">", ">=", "==", "!=")
#: How a claim combines the seeds of its runs.
CLAIM_OVER = ("all", "any", "median")
#: Numeric claim metrics: summary.csv columns, plus ``steps_to_threshold`` (first evaluation
#: step at or below 0.1 x chance), ``steps_to_threshold_batch_stats`` (the same with BatchNorm's
#: batch statistics) and ``steps_to_solved`` (first at or below the task's solved level).
CLAIM_NUMBERS = ("final_val_loss", "loss_vs_chance", "val_loss_batch_stats", "final_metric",
                 "context_gain", "chance_loss", "steps_done", "diverged_step", "max_grad_norm",
                 "clip_rate", "wall_s", "rho", "reach", "rho_init", "reach_init", "lyapunov_init",
                 "kernel_sigma_max", "steps_to_threshold", "steps_to_threshold_batch_stats",
                 "steps_to_solved")
#: Text claim metrics (compared with ``==`` or ``!=``) and the true/false one (``solved``).
CLAIM_TEXTS = ("status", "diagnosis")
CLAIM_METRICS = CLAIM_NUMBERS + CLAIM_TEXTS + ("solved",)
_CLAIM_KEYS = ("text", "source", "tasks", "where", "metric", "op", "value", "than", "factor", "over")


def _text(claim: Mapping[str, Any], key: str, cw: str) -> str:
    value = claim.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SuiteError(f"{cw}: '{key}' must be a non-empty string"
                         + (" (every claim cites its source)" if key == "source" else ""))
    return value.strip()


def _selection(claim: Mapping[str, Any], key: str, cw: str, ctasks: list[str],
               tasks: Mapping[str, Task]) -> dict[str, Any]:
    """A claim's ``where`` or ``than`` table, flattened to ``axis``/``TASK.PARAM`` keys and checked."""
    table = _flatten(_table(claim, key, cw), cw, tasks)
    for k, v in table.items():
        check_key(k, v, f"{cw} {key}", tasks)
        if "." in k and k.split(".", 1)[0] not in ctasks:
            raise SuiteError(f"{cw} {key}: key '{k}' is for a task this claim does not cover "
                             f"(its tasks: {', '.join(ctasks)})")
    return table


def _claim_value(value: Any, metric: str, op: str, cw: str) -> Any:
    """Checks a claim's ``value`` against its metric and operator."""
    if metric in CLAIM_NUMBERS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SuiteError(f"{cw}: 'value' must be a finite number for metric '{metric}', "
                             f"got {value!r}")
        return float(value)
    if op not in ("==", "!="):
        raise SuiteError(f"{cw}: 'op' must be '==' or '!=' for metric '{metric}', got '{op}'")
    if metric == "solved":
        if not isinstance(value, bool):
            raise SuiteError(f"{cw}: 'value' must be true or false for metric 'solved', got {value!r}")
    elif not isinstance(value, str) or (metric == "status" and value not in ("ok", "diverged", "failed")):
        expected = "one of ok, diverged, failed" if metric == "status" else "a string"
        raise SuiteError(f"{cw}: 'value' must be {expected} for metric '{metric}', got {value!r}")
    return value


def parse_claim(claim: Any, cw: str, study: str, index: int, study_tasks: list[str],
                tasks: Mapping[str, Task]) -> dict[str, Any]:
    """Checks one ``[[study.claim]]`` table (format: README "Claims").

    Args:
        claim: The parsed TOML table.
        cw: Prefix of error messages (file, study and claim number).
        study: The study's name; the claim's id is ``STUDY#INDEX``.
        index: The claim's 1-based position in its study.
        study_tasks: The study's tasks (the default of ``tasks``).
        tasks: Discovered tasks.

    Returns:
        ``{"id", "text", "source", "tasks", "where", "metric", "op", "value",
        "than", "factor", "over"}``: ``where``/``than`` flattened to axis and
        ``TASK.PARAM`` keys; ``value`` None when ``than`` is given and ``than``
        None otherwise; ``factor`` 1.0 unless given; ``over`` ``"all"`` unless given.

    Raises:
        SuiteError: naming the claim and the key for any problem.
    """
    if not isinstance(claim, dict):
        raise SuiteError(f"{cw}: must be a table")
    for key in claim:
        if key not in _CLAIM_KEYS:
            raise SuiteError(f"{cw}: unknown key '{key}'; allowed: {', '.join(_CLAIM_KEYS)}")
    text, source = _text(claim, "text", cw), _text(claim, "source", cw)
    ctasks = claim.get("tasks", study_tasks)
    if (not isinstance(ctasks, list) or not ctasks
            or any(t not in study_tasks for t in ctasks)):
        raise SuiteError(f"{cw}: 'tasks' must be a non-empty list of the study's tasks "
                         f"({', '.join(study_tasks)}), got {ctasks!r}")
    metric, op, over = claim.get("metric"), claim.get("op"), claim.get("over", "all")
    if metric not in CLAIM_METRICS:
        raise SuiteError(f"{cw}: unknown metric {metric!r}; allowed: {', '.join(CLAIM_METRICS)}")
    if op not in CLAIM_OPS:
        raise SuiteError(f"{cw}: unknown op {op!r}; allowed: {', '.join(CLAIM_OPS)}")
    if over not in CLAIM_OVER or (over == "median" and metric not in CLAIM_NUMBERS):
        raise SuiteError(f"{cw}: 'over' must be one of {', '.join(CLAIM_OVER)} (median only for "
                         f"a numeric metric), got {over!r}")
    if ("value" in claim) == ("than" in claim):
        raise SuiteError(f"{cw}: give exactly one of 'value' and 'than'")
    if "factor" in claim and "than" not in claim:
        raise SuiteError(f"{cw}: 'factor' needs 'than'")
    if "than" in claim and metric not in CLAIM_NUMBERS:
        raise SuiteError(f"{cw}: 'than' needs a numeric metric, not '{metric}'")
    factor = claim.get("factor", 1.0)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (
            math.isfinite(factor) and factor > 0):
        raise SuiteError(f"{cw}: 'factor' must be a finite number > 0, got {factor!r}")
    return {"id": f"{study}#{index}", "text": text, "source": source, "tasks": list(ctasks),
            "where": _selection(claim, "where", cw, ctasks, tasks), "metric": metric, "op": op,
            "value": _claim_value(claim["value"], metric, op, cw) if "value" in claim else None,
            "than": _selection(claim, "than", cw, ctasks, tasks) if "than" in claim else None,
            "factor": float(factor), "over": over}
