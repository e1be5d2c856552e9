"""The run-record schema: every producer's records validate; older ones migrate; newer ones stop."""
from __future__ import annotations

import copy
import json

import pytest
from conftest import DATA, run_cli

from suite import ids
from suite.api import SuiteError, sequence_length
from suite.execution.spec import failed_record, utc_now, worker_spec
from suite.store.io import load_manifest, load_records, read_json
from suite.store.migrate import RECORD_UPDATES, migrate
from suite.store.schema import SCHEMA_VERSION, run_record, validate_manifest, validate_record
from suite.suite_file import Suite

EXAMPLE = DATA / "example_results"


@pytest.fixture
def example(example_copy):
    return example_copy


def _v1(name: str = "33170849a0c0") -> dict:
    """A committed schema-1 record, as stored (default: a copy-memory run, T = 5)."""
    return read_json(EXAMPLE / "runs" / f"{name}.json")


def test_worker_records_validate(make_config, tmp_path):
    from suite.execution.worker import run_spec

    config = make_config("copy_memory", {"seq_len": 3}, steps=2, eval_every=2, probe_every=2,
                         eval_size=8, batch_size=4, hidden=4)
    rid = ids.run_id(config, "1")
    rec = run_spec(worker_spec(rid, config, [], 0, tmp_path / "r.json"))
    assert rec["status"] == "ok" and validate_record(rec) == []
    assert rec["task_version"] == "1" and rec["config_id"] == ids.config_id(config, "1")
    assert rec["sequence_length"] == 3 + 20  # copy memory unrolls T + 20 steps, not seq_len
    failed = run_spec(worker_spec(rid, {**config, "task": "no_such_task"}, [], 0, tmp_path / "f.json"))
    assert failed["status"] == "failed" and "no_such_task" in failed["error"]
    assert validate_record(failed) == [] and "task_version" not in failed


def test_failed_records_of_the_executors_validate(make_config):
    config = make_config("adding", {"seq_len": 7})
    rec = failed_record("abc", config, "worker exited with code 9" + "x" * 3000, utc_now())
    assert validate_record(rec) == []
    assert rec["status"] == "failed" and len(rec["error"]) == 2000 and rec["steps_done"] == 0
    assert rec["sequence_length"] == 7 and rec["config_id"] == ids.config_id(config, None)


def test_synthetic_records_validate_and_group_seeds_by_configuration(tmp_path, tasks):
    from suite.tools import synth

    manifest = synth.make(tmp_path, 60)  # 12 study configurations x 5 seeds
    raw = [read_json(p) for p in (tmp_path / "runs").glob("*.json")]
    assert len(raw) == 60 and all(validate_record(r) == [] for r in raw)
    by_config = {}  # configuration without the seed -> config ids (the 2 studies share one)
    for r in raw:
        rest = json.dumps({k: v for k, v in r["config"].items() if k != "seed"}, sort_keys=True)
        by_config.setdefault(rest, set()).add(r["config_id"])
    assert len(by_config) == 11 and all(len(c) == 1 for c in by_config.values())
    assert len({r["config_id"] for r in raw}) == 11
    for r in raw:  # copy memory unrolls T + 20
        assert r["sequence_length"] == sequence_length(tasks[r["task"]], r["config"]["task_params"])
    assert {r["sequence_length"] for r in raw} == {synth.T, synth.T + 20}
    assert load_manifest(tmp_path)["schema_version"] == manifest["schema_version"] == SCHEMA_VERSION


def test_run_record_refuses_a_record_that_does_not_match_the_schema(make_config):
    with pytest.raises(ValueError, match="status is 'done'"):
        run_record("abc", make_config(), status="done", started_at="t", finished_at="t")


def test_validate_record_names_missing_fields_and_wrong_types():
    rec = migrate(_v1(), RECORD_UPDATES)
    assert validate_record(rec) == []
    del rec["config_id"]
    assert validate_record(rec) == ["missing config_id"]
    rec = migrate(_v1(), RECORD_UPDATES)
    rec.update(seed="0", steps_done=True, probes={}, status="done", schema_version=1)
    problems = validate_record(rec)
    assert "seed is str, not int" in problems and "steps_done is bool, not int" in problems
    assert "probes is dict, not list" in problems
    assert any(p.startswith("status is 'done'") for p in problems)
    assert any(p.startswith("schema_version is 1") for p in problems)
    assert validate_record([]) != []


def test_a_schema_1_record_migrates_to_2():
    old = _v1()
    assert old["schema_version"] == 1 and "config_id" not in old
    rec = migrate(old, RECORD_UPDATES)
    assert rec["schema_version"] == SCHEMA_VERSION and old["schema_version"] == 1  # not in place
    assert rec["config_id"] == ids.config_id(old["config"], old["task_version"])
    assert rec["sequence_length"] == len(old["probes"][0]["profile"]) == 25  # copy memory, T = 5
    bare = {k: v for k, v in old.items() if k not in ("probes", "steps_done", "final", "timing")}
    rec = migrate(bare, RECORD_UPDATES)  # a schema-1 run that failed before training
    assert rec["sequence_length"] == 5 and rec["steps_done"] == 0 and validate_record(rec) == []


def test_the_committed_example_results_load_at_the_current_version(example):
    records, warnings = load_records(EXAMPLE)
    assert warnings == [] and len(records) == 15
    assert {r["schema_version"] for r in records.values()} == {SCHEMA_VERSION}
    assert {r["stored_schema_version"] for r in records.values()} == {1}
    assert all(validate_record(r) == [] for r in records.values())
    by_config: dict[str, set[int]] = {}
    for rec in records.values():
        assert rec["config_id"] == ids.config_id(rec["config"], rec["task_version"])
        by_config.setdefault(rec["config_id"], set()).add(rec["seed"])
    assert sorted(len(seeds) for seeds in by_config.values()) == [1] + [2] * 7  # seeds 0 and 1
    assert load_manifest(EXAMPLE)["schema_version"] == SCHEMA_VERSION
    proc = run_cli("report", str(example))
    assert proc.returncode == 0 and "warning" not in proc.stderr.lower(), proc.stderr
    html = (example / "index.html").read_text()
    assert "Warning:" not in html
    # the versions as stored, not the in-memory version after migration
    assert f"schema version(s) as stored: 1 (older ones migrated to {SCHEMA_VERSION} on read)" in html


def test_a_failed_record_without_task_version_joins_its_configuration(example):
    rid = "33170849a0c0"
    sibling = load_records(example)[0][rid]
    (example / "runs" / f"{rid}.json").write_text(json.dumps(
        failed_record(rid, _v1(rid)["config"], "worker exited with code 9", utc_now())))
    records, warnings = load_records(example)
    assert warnings == [] and records[rid]["status"] == "failed"
    assert records[rid]["config_id"] == sibling["config_id"] and records[rid]["task_version"] == "1"
    assert records[rid]["sequence_length"] == 25


def _bump(path, version):
    doc = read_json(path)
    doc["schema_version"] = version
    path.write_text(json.dumps(doc))
    return path.read_bytes(), path.stat().st_mtime_ns


def test_a_newer_record_is_reported_and_never_rerun(example):
    rid = "33170849a0c0"
    path = example / "runs" / f"{rid}.json"
    before = _bump(path, SCHEMA_VERSION + 1)
    records, warnings = load_records(example)
    assert rid not in records and len(records) == 14 and len(warnings) == 1
    assert f"unknown schema version {SCHEMA_VERSION + 1}" in warnings[0]
    assert "upgrade the suite" in warnings[0] and f"runs/{rid}.json" in warnings[0]
    manifest = (example / "suite.json").read_bytes()
    suite = Suite(name="example", source="test", text="", runs={rid: _v1(rid)["config"]},
                  studies=[])
    from suite.execution.runner import run_local

    with pytest.raises(SuiteError, match="newer version of the suite") as err:
        run_local(suite, example, 1, [])
    assert "\n" not in str(err.value) and rid in str(err.value)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert (example / "suite.json").read_bytes() == manifest
    assert not (example / "summary.csv").exists()


def test_a_newer_manifest_stops_readers_and_the_runner(example):
    path = example / "suite.json"
    before = _bump(path, SCHEMA_VERSION + 1)
    with pytest.raises(SuiteError, match="upgrade the suite"):
        load_manifest(example)
    suite = Suite(name="example", source="test", text="", runs={}, studies=[])
    from suite.execution.runner import run_local

    with pytest.raises(SuiteError, match="newer version of the suite"):
        run_local(suite, example, 1, [])
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_older_records_are_never_dropped_silently(example):
    path = example / "runs" / "33170849a0c0.json"
    doc = read_json(path)
    doc["schema_version"] = 0
    path.write_text(json.dumps(doc))
    broken = copy.deepcopy(_v1("f52e6da8c113"))
    broken["config"] = "not a mapping"
    (example / "runs" / "f52e6da8c113.json").write_text(json.dumps(broken))
    records, warnings = load_records(example)
    assert len(records) == 13 and len(warnings) == 2
    assert "runs/33170849a0c0.json: unknown schema version 0" in warnings[0]
    assert "runs/f52e6da8c113.json" in warnings[1]


# The manifest has a validator, as records do (suite/store/schema.py).
@pytest.mark.parametrize("change, needle", [
    (lambda m: m.pop("runs"), "missing runs"),
    (lambda m: m.update(studies={"a": 1}), "studies is dict, not list"),
    (lambda m: m.update(name=3), "name is int, not str"),
    (lambda m: m["studies"].insert(0, "oops"), "studies[0] is str, not dict"),
    (lambda m: m.update(solved_levels=[]), "solved_levels is list, not dict"),
])
def test_an_invalid_manifest_is_refused_naming_the_field(example, change, needle):
    manifest = load_manifest(example)
    assert validate_manifest(manifest) == []
    doc = read_json(example / "suite.json")
    change(doc)
    (example / "suite.json").write_text(json.dumps(doc))
    with pytest.raises(SuiteError, match="not a valid manifest") as err:
        load_manifest(example)
    assert needle in str(err.value) and "\n" not in str(err.value)


def _files(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.json"))}


def test_update_rewrites_older_files_in_the_current_schema(example, capsys):
    """``update DIR`` (as asv update): the files become current; what readers see is unchanged."""
    from suite import cli

    records, warnings = load_records(example)
    manifest = load_manifest(example)
    assert {read_json(p)["schema_version"] for p in example.rglob("*.json")} == {1}
    assert cli.main(["update", str(example)]) == 0
    assert "16 file(s) rewritten in the current schema, 0 already current" in capsys.readouterr().out
    assert {read_json(p)["schema_version"] for p in example.rglob("*.json")} == {SCHEMA_VERSION}
    after, warnings_after = load_records(example)
    assert warnings_after == warnings == []
    assert all("stored_schema_version" not in r for r in after.values())
    for rid, rec in records.items():
        assert after[rid] == {k: v for k, v in rec.items() if k != "stored_schema_version"}
    assert load_manifest(example) == manifest
    files = _files(example)
    assert cli.main(["update", str(example)]) == 0  # nothing left to do: nothing is written
    assert "0 file(s) rewritten in the current schema, 16 already current" in capsys.readouterr().out
    assert _files(example) == files


def test_update_leaves_corrupt_and_newer_files_alone(example, capsys):
    from suite import cli

    newer = example / "runs" / "33170849a0c0.json"
    before = _bump(newer, SCHEMA_VERSION + 1)
    (example / "runs" / "broken.json").write_text("{not json")
    assert cli.main(["update", str(example)]) == 0
    captured = capsys.readouterr()
    assert "15 file(s) rewritten" in captured.out and "2 left alone" in captured.out
    assert "upgrade the suite" in captured.err and "runs/broken.json" in captured.err
    assert (newer.read_bytes(), newer.stat().st_mtime_ns) == before
    assert (example / "runs" / "broken.json").read_text() == "{not json"


def test_update_refuses_a_newer_manifest_and_writes_nothing(example, capsys):
    from suite import cli

    _bump(example / "suite.json", SCHEMA_VERSION + 1)
    files = _files(example)
    assert cli.main(["update", str(example)]) == 2
    assert "upgrade the suite" in capsys.readouterr().err
    assert _files(example) == files and not (example / ".lock").exists()
