"""Suite files: parsing, expansion, overrides, filters and errors."""
from __future__ import annotations

import pytest
from conftest import DATA

from suite.api import SuiteError
from suite.axes import AXES, resolve
from suite.ids import run_id
from suite.suite_file import load_suite, parse_assignments


def write(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return str(p)


BASE = """
name = "t"
seeds = [0, 1]
[defaults]
steps = 50
[[study]]
name = "a"
question = "q?"
tasks = ["adding"]
grid = { cell = ["gru", "lstm"] }
[[study]]
name = "b"
question = "q2?"
tasks = ["adding"]
grid = { cell = ["gru"], clipnorm = [0, 1.0] }
"""


def test_expansion_and_union(tmp_path, tasks):
    s = load_suite(write(tmp_path, BASE), tasks)
    a, b = s.studies
    assert len(a.run_ids) == 4 and len(b.run_ids) == 4
    # gru/clipnorm=0 appears in both studies and runs once
    assert len(set(a.run_ids) & set(b.run_ids)) == 2
    assert len(s.runs) == 6
    cfg = s.runs[a.run_ids[0]]
    assert cfg["steps"] == 50 and cfg["task_params"] == {"seq_len": 100}
    assert b.varying == ["cell", "clipnorm"]


def test_run_id_is_stable_and_versioned(tmp_path, tasks):
    s1 = load_suite(write(tmp_path, BASE), tasks)
    s2 = load_suite(write(tmp_path, BASE), tasks)
    assert list(s1.runs) == list(s2.runs)
    cfg = next(iter(s1.runs.values()))
    assert run_id(cfg, "1") != run_id(cfg, "2")


def test_set_and_only(tmp_path, tasks):
    s = load_suite(write(tmp_path, BASE), tasks,
                   overrides=parse_assignments(["steps=7", "adding.seq_len=20"], "--set"),
                   only=parse_assignments(["cell=gru,seed=1"], "--only"))
    assert {c["steps"] for c in s.runs.values()} == {7}
    assert {c["task_params"]["seq_len"] for c in s.runs.values()} == {20}
    assert {(c["cell"], c["seed"]) for c in s.runs.values()} == {("gru", 1)}
    assert len(s.runs) == 2  # clipnorm 0 and 1


def test_builtin_suites_parse(tasks):
    for name in ("quick", "full"):
        s = load_suite(name, tasks)
        assert s.runs and all(st.question for st in s.studies)
    assert load_suite(str(DATA / "tiny.toml"), tasks).name == "tiny"


def test_a_folder_named_like_a_builtin_suite_does_not_hide_it(tasks, tmp_path, monkeypatch):
    """``--suite quick`` run where a results folder ``quick`` lies (e.g. in reports/)."""
    (tmp_path / "quick").mkdir()
    (tmp_path / "mine").write_text((DATA / "tiny.toml").read_text())
    monkeypatch.chdir(tmp_path)
    assert load_suite("quick", tasks).name == "quick"
    assert load_suite("mine", tasks).name == "tiny"  # a file of that name is still read


@pytest.mark.parametrize("old, new, message", [
    ("steps = 50", "stepz = 50", "[defaults]: unknown key 'stepz'"),
    ('cell = ["gru", "lstm"]', 'cell = ["gru", "rnn"]',
     "'cell' must be one of simple_rnn, lstm, gru, got 'rnn'"),
    ("steps = 50", "steps = 0", "'steps' must be an integer >= 1, got 0"),
    ("steps = 50", 'steps = "many"', "'steps' must be an integer >= 1, got 'many'"),
    ('cell = ["gru", "lstm"]', "cell = []", "grid: 'cell' must be a non-empty list"),
    ('grid = { cell = ["gru"], clipnorm = [0, 1.0] }',
     'grid = { cell = ["gru"], clipnorm = [0, 1.0] }\nset = { global_clipnorm = 1.0 }', "not both"),
    ('tasks = ["adding"]\ngrid = { cell = ["gru", "lstm"] }',
     'tasks = ["nope"]\ngrid = { cell = ["gru", "lstm"] }', "unknown task 'nope'"),
    ("steps = 50", 'steps = 50\nrecurrent_initializer = "orthogonal:x"',
     "'recurrent_initializer' must be a preset"),
    ("steps = 50", "steps = 50\nadding.seq_len = 2", "adding.seq_len must be an integer >= 4, got 2"),
    ("steps = 50", "steps = 50\nclipnorm = -1", "'clipnorm' must be a finite number >= 0, got -1"),
    ("steps = 50", 'steps = 50\nbatchnorm = "layer"', "'batchnorm' must be one of none, input"),
    ("steps = 50", 'steps = 50\noptimizer = "adagrad"', "'optimizer' must be one of adam"),
])
def test_errors_name_the_key(tmp_path, tasks, old, new, message):
    text = BASE.replace(old, new, 1)
    assert text != BASE
    with pytest.raises(SuiteError) as err:
        load_suite(write(tmp_path, text), tasks)
    assert message in str(err.value)
    assert "s.toml" in str(err.value)


def test_malformed_toml_and_missing_suite(tmp_path, tasks):
    with pytest.raises(SuiteError, match="not valid TOML"):
        load_suite(write(tmp_path, "name = [\n"), tasks)
    with pytest.raises(SuiteError, match="suite 'nonexistent' not found"):
        load_suite("nonexistent", tasks)


def test_unknown_only_key(tmp_path, tasks):
    with pytest.raises(SuiteError, match="--only: unknown key 'colour'"):
        load_suite(write(tmp_path, BASE), tasks, only={"colour": "red"})


def test_resolve_gives_the_suite_files_run(tmp_path, tasks):
    s = load_suite(write(tmp_path, BASE), tasks)
    for rid, cfg in s.runs.items():
        axes = {k: v for k, v in cfg.items() if k not in ("task", "task_params", "seed")
                and v != AXES[k].default}
        again = resolve(tasks["adding"], seed=cfg["seed"], **axes)
        assert again == cfg and run_id(again, tasks["adding"].version) == rid
    bare = resolve(tasks["copy_memory"])
    assert bare == {"task": "copy_memory", "task_params": dict(tasks["copy_memory"].params),
                    "seed": 0, **{k: a.default for k, a in AXES.items()}}


def test_resolve_task_params_and_precedence(tasks):
    cfg = resolve(tasks["char_lm"], task_params={"seq_len": 20, "val_fraction": 0.2},
                  **{"char_lm.seq_len": 30}, learning_rate=1)
    assert cfg["task_params"] == {"seq_len": 30, "corpus": "stdlib", "val_fraction": 0.2}
    assert cfg["learning_rate"] == 1.0 and isinstance(cfg["learning_rate"], float)


@pytest.mark.parametrize("kwargs, message", [
    ({"stepz": 5}, "resolve(): unknown key 'stepz'"),
    ({"cell": "rnn"}, "'cell' must be one of simple_rnn, lstm, gru, got 'rnn'"),
    ({"task_params": {"width": 3}}, "task 'adding' has no parameter 'width'"),
    ({"task_params": {"seq_len": "long"}}, "'adding.seq_len' must be a number"),
    ({"task_params": {"seq_len": 2}}, "adding.seq_len must be an integer >= 4, got 2"),
    ({"copy_memory.seq_len": 5}, "key 'copy_memory.seq_len' is for another task than 'adding'"),
    ({"clipnorm": 1.0, "global_clipnorm": 1.0}, "not both"),
    ({"seed": -1}, "'seed' must be an integer in [0, 4294967295], got -1"),
    ({"seed": 2**32, "where": "here"}, "here: 'seed' must be an integer in [0, 4294967295]"),
    ({"seed": True, "where": "here"}, "here: 'seed' must be an integer in [0, 4294967295]"),
])
def test_resolve_validates_like_a_suite_file(tasks, kwargs, message):
    with pytest.raises(SuiteError) as err:
        resolve(tasks["adding"], **kwargs)
    assert message in str(err.value)


def test_suite_carries_each_runs_sequence_length(tmp_path, tasks):
    text = BASE.replace('tasks = ["adding"]\ngrid = { cell = ["gru", "lstm"] }',
                        'tasks = ["adding", "copy_memory"]\ngrid = { cell = ["gru"] }\n'
                        'set = { adding.seq_len = 30, copy_memory.seq_len = 30 }', 1)
    s = load_suite(write(tmp_path, text), tasks)
    assert set(s.lengths) == set(s.runs)
    by_task = {(s.runs[r]["task"], s.runs[r]["task_params"]["seq_len"]): n for r, n in s.lengths.items()}
    # the task's sequence_length: copy memory unrolls seq_len + 20 steps
    assert by_task == {("adding", 30): 30, ("copy_memory", 30): 50, ("adding", 100): 100}


CLAIMED = BASE + """
[[study.claim]]
text = "gru is fine"
source = "a paper"
where = { cell = "gru", adding = { seq_len = 100 } }
metric = "status"
op = "=="
value = "ok"
"""


def test_claims_parse_with_defaults_and_keys_checked_like_set(tmp_path, tasks):
    s = load_suite(write(tmp_path, CLAIMED), tasks)
    assert s.studies[0].claims == []
    (claim,) = s.studies[1].claims
    assert claim == {"id": "b#1", "text": "gru is fine", "source": "a paper", "tasks": ["adding"],
                     "where": {"cell": "gru", "adding.seq_len": 100}, "metric": "status", "op": "==",
                     "value": "ok", "than": None, "factor": 1.0, "over": "all"}
    for old, new, message in [
            ('value = "ok"', 'value = "fine"', "'value' must be one of ok, diverged, failed"),
            ("seq_len = 100", 'seq_len = "long"', "'adding.seq_len' must be a number"),
            ('where = { cell = "gru", adding', 'where = { copy_memory = { seq_len = 5 }, adding',
             "key 'copy_memory.seq_len' is for a task this claim does not cover"),
            ('text = "gru is fine"', 'text = "gru is fine"\ntasks = ["char_lm"]',
             "'tasks' must be a non-empty list of the study's tasks")]:
        with pytest.raises(SuiteError, match=r"\[\[study\]\] 'b' claim #1") as err:
            load_suite(write(tmp_path, CLAIMED.replace(old, new)), tasks)
        assert message in str(err.value)
