"""Property-based tests: the suite-file parser accepts a file or raises SuiteError, nothing else."""
from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite.api import SuiteError
from suite.axes import AXES
from suite.registry import discover
from suite.suite_file import load_suite

TASKS = discover(entry_points=False)

PLAIN = st.characters(min_codepoint=32, max_codepoint=126)


def mostly(valid, other):
    """``valid`` three times in four, ``other`` otherwise."""
    return st.one_of(valid, valid, valid, other)

KEYS = st.one_of(st.sampled_from([*AXES, "adding.seq_len", "copy_memory.seq_len"]),
                 st.sampled_from(["char_lm.val_fraction", "task", "seed", "nope", "adding.nope", "a.b.c"]))
SCALARS = st.one_of(
    st.integers(-5, 300), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.sampled_from(["lstm", "gru", "simple_rnn", "relu", "tanh", "orthogonal:2.0", "normal:0.5",
                     "identity", "input", "recurrent", "sgd", "adam", "stdlib", "", "x:y"]),
    st.text(PLAIN, max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(KEYS, inner, max_size=3)),
                      max_leaves=6)


def toml_value(v) -> str:
    """A TOML literal for a JSON-like value (inline tables and arrays)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, (int, str)):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def table(items: dict) -> str:
    return "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in items.items())


TASK_LISTS = mostly(st.lists(st.sampled_from(["adding", "copy_memory"]), min_size=1, max_size=2),
                    st.one_of(st.lists(st.sampled_from(["adding", "nope"]), max_size=2), SCALARS))
SEEDS = st.lists(st.integers(0, 3), min_size=1, max_size=3)
STUDY = st.fixed_dictionaries(
    {"name": mostly(st.text(PLAIN, min_size=1, max_size=5), SCALARS), "tasks": TASK_LISTS},
    optional={"question": st.text(PLAIN, max_size=10), "set": st.dictionaries(KEYS, VALUES, max_size=3),
              "grid": st.dictionaries(KEYS, st.lists(VALUES, max_size=3), max_size=2),
              "seeds": mostly(SEEDS, VALUES)})


@st.composite
def suite_files(draw) -> str:
    top = draw(st.fixed_dictionaries({}, optional={
        "name": mostly(st.from_regex(r"[a-z]{1,5}", fullmatch=True), SCALARS),
        "seeds": mostly(SEEDS, VALUES)}))
    parts = [table(top), "[defaults]", table(draw(st.dictionaries(KEYS, VALUES, max_size=4)))]
    for tname, params in draw(st.dictionaries(st.sampled_from(["adding", "copy_memory", "nope"]),
                                              st.dictionaries(KEYS, VALUES, max_size=2), max_size=2)).items():
        parts += [f"[tasks.{tname}]", table(params)]
    for study in draw(st.lists(STUDY, min_size=1, max_size=2)):
        parts += ["[[study]]", table(study)]
    return "\n".join(parts) + "\n"


def check(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("p") / "s.toml"
    path.write_text(text, encoding="utf-8")
    try:
        suite = load_suite(str(path), TASKS)
    except SuiteError as err:
        assert "\n" not in str(err) or "TOML" in str(err)
        return
    for cfg in suite.runs.values():  # accepted: every run is fully valid
        for key, axis in AXES.items():
            assert axis.check(cfg[key]) is None, (key, cfg[key])


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(suite_files())
def test_structured_suite_files(tmp_path_factory, text):
    check(tmp_path_factory, text)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=200))
def test_arbitrary_text(tmp_path_factory, text):
    check(tmp_path_factory, text)
