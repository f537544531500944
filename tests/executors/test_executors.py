"""Executors on real cells (issue 10): `rbm run glue-dev --tasks rte` with three real checkpoints stores the
same records inline and in a local worker pool; kill -9 of the parent mid-grid, rerun: every cell exactly
once; a failed job fails only its cells, the run ends non-zero with one summary line, a rerun redoes only
those; `rbm status` and `rbm run --plan` read the run folder."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from executor_helpers import (KEYS, REPO, assert_same_records, checkpoints, inline_reference, rbm_subprocess,
                              records, run_args)
from robustbench_match.cli import main


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    return checkpoints(tmp_path_factory)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data_dir):
    return inline_reference(tmp_path_factory, data_dir)


def test_inline_records_carry_fingerprint_and_executor(reference):
    accs = {k: r["metrics"]["accuracy"] for k, r in reference.items()}
    assert set(accs) == KEYS and all(0.3 < a < 0.7 for a in accs.values())  # untrained heads: near chance
    assert len({r["fingerprint"]["sha256"] for r in reference.values()}) == 3  # three different weights
    assert len({r["fingerprint"]["parts"]["eval_data"] for r in reference.values()}) == 1  # the same RTE dev
    assert all(r["executor"]["kind"] == "inline" for r in reference.values())


def test_local_pool_equals_inline_cell_for_cell(ckpts, reference, data_dir, tmp_path):
    out = tmp_path / "local"
    proc = rbm_subprocess(run_args(ckpts, data_dir, out, "--executor", "local", "--workers", "2",
                                   "--threads-per-worker", "1"), timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = records(out)
    assert_same_records(got, reference, "local")
    assert len({r["executor"]["job_id"] for r in got.values()}) == 3  # one worker process per checkpoint
    logs = sorted((out / "jobs" / "logs").glob("*.log"))
    assert len(logs) == 3 and all(": done" in p.read_text() for p in logs)
    # status: three done cells with their local job ids
    st = rbm_subprocess(["status", str(out)])
    assert st.returncode == 0, st.stderr
    lines = st.stdout.strip().splitlines()
    assert lines[-1] == "3 done"
    for rec in got.values():
        assert any(line.startswith("done") and rec["key"] in line and f"job {rec['executor']['job_id']}" in line
                   for line in lines), st.stdout
    # --plan: everything stored, nothing runs, nothing changes
    before = (out / "results.jsonl").read_bytes()
    plan = rbm_subprocess(run_args(ckpts, data_dir, out, "--plan"))
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.strip().splitlines()[-1].startswith("3 cells: 3 stored, 0 to run, 0 to redo")
    assert (out / "results.jsonl").read_bytes() == before


def test_kill_parent_mid_grid_then_rerun_every_cell_exactly_once(ckpts, reference, data_dir, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "robustbench_match.cli",
           *run_args(ckpts, data_dir, out, "--executor", "local", "--workers", "2", "--threads-per-worker", "1")]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    parent = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "results.jsonl"
    deadline = time.time() + 400
    while time.time() < deadline and not (results.is_file() and results.read_text().strip()):
        time.sleep(0.05)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    stored_at_kill = len(results.read_text().splitlines())
    assert 1 <= stored_at_kill < 3, "the kill came too late to be mid-grid"
    # rerun: workers of the killed parent may still be finishing their job; the rerun's copy of such a job
    # waits for its lock and then finds the cell stored
    proc = rbm_subprocess(run_args(ckpts, data_dir, out, "--executor", "local", "--workers", "2"), timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = records(out)  # asserts no key twice
    assert len(results.read_text().splitlines()) == 3
    assert_same_records(got, reference, "local")
    runs = {key: 0 for key in KEYS}  # how often each cell was evaluated, over both runs' worker logs
    for log in (out / "jobs" / "logs").glob("*.log"):
        for line in log.read_text().splitlines():
            for key in KEYS:
                if line.endswith(f"{key}: done"):
                    runs[key] += 1
    assert runs == {key: 1 for key in KEYS}, runs
    assert not list((out / "published").glob("*.json"))  # every published record merged


def test_failed_job_fails_only_its_cell_and_a_rerun_redoes_only_it(ckpts, reference, data_dir, tmp_path):
    """The weights of one checkpoint vanish after planning: its job fails (one summary line, exit 1), the
    other jobs store their cells; with the weights back, a rerun runs only the missing cell."""
    import shutil

    from robustbench_match.evaluators.base import CheckpointRef, RunContext
    from robustbench_match.executors import ExecutorOptions
    from robustbench_match.runner import execute, failure_summary, plan_suite
    from robustbench_match.suites import get_suite

    own = {}
    for name, path in ckpts.items():  # a private copy: this test moves weights away
        own[name] = tmp_path / "ck" / name
        shutil.copytree(path, own[name])
    out = tmp_path / "failing"
    ctx = RunContext(output=out, checkpoints=[CheckpointRef.parse(f"rte/{n}={p}") for n, p in own.items()],
                     data_dir=data_dir, tasks=["rte"], max_length=32)
    plan = plan_suite(get_suite("glue-dev"), ctx)
    weights = own["b"] / "model.safetensors"
    weights.rename(weights.with_suffix(".away"))
    outcome = execute(plan, ctx, "local", ExecutorOptions(workers=2, threads_per_worker=1))
    assert [o.cells for o in outcome.failed] == [["glue-dev|b|rte|clean|-"]]
    assert {r["key"] for r in outcome.records} == KEYS - {"glue-dev|b|rte|clean|-"}
    line = failure_summary(outcome.failed)
    assert "\n" not in line and "1 job(s) failed (1 cell(s) not stored)" in line and ".log" in line
    st = rbm_subprocess(["status", str(out)])
    failed = [x for x in st.stdout.splitlines() if x.startswith("failed")]
    assert len(failed) == 1 and "glue-dev|b|rte|clean|-" in failed[0] and "log " in failed[0], st.stdout
    assert st.stdout.strip().splitlines()[-1] == "2 done, 1 failed"
    # weights back: only b runs
    weights.with_suffix(".away").rename(weights)
    before = {k: r["date"] for k, r in records(out).items()}
    plan = plan_suite(get_suite("glue-dev"), ctx)
    assert [p.cell.key for p in plan.cells if p.status != "stored"] == ["glue-dev|b|rte|clean|-"]
    outcome = execute(plan, ctx, "local", ExecutorOptions(workers=2, threads_per_worker=1))
    assert not outcome.failed
    after = records(out)
    assert all(after[k]["date"] == d for k, d in before.items())
    assert_same_records(after, reference, "local")


def test_run_cell_runs_one_spec_anywhere(ckpts, reference, data_dir, tmp_path):
    """A spec written by --executor local runs again on its own with `rbm run-cell` (here: into a copy)."""
    out = tmp_path / "spec-run"
    proc = rbm_subprocess(run_args({"a": ckpts["a"]}, data_dir, out, "--executor", "local"), timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (spec_file,) = (out / "jobs" / "specs").glob("*/*.json")
    spec = json.loads(spec_file.read_text())
    assert spec["checkpoint"]["path"] == str(Path(ckpts["a"]).resolve()) and spec["run"]["data_dir"]
    assert spec["fingerprint"] == reference["glue-dev|a|rte|clean|-"]["fingerprint"]
    elsewhere = tmp_path / "elsewhere"
    spec["run"]["output"] = str(elsewhere)
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(spec))
    proc = rbm_subprocess(["run-cell", str(moved)], timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (rec,) = records(elsewhere).values()
    assert rec["metrics"] == reference["glue-dev|a|rte|clean|-"]["metrics"]
    assert rec["executor"]["kind"] == "run-cell"
    # a broken spec is one line
    moved.write_text('{"spec": 1, "key": "x"}')
    bad = rbm_subprocess(["run-cell", str(moved)])
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "malformed cell spec" in bad.stderr


@pytest.mark.parametrize("args, message", [
    (["--executor", "local", "--workers", "0"], "--workers 0: must be at least 1"),
    (["--workers", "2"], "--workers is for --executor local"),
    (["--executor", "local", "--executor-opt", "slurm_partition=debug"], "--executor-opt is for --executor slurm"),
    (["--executor", "slurm", "--executor-opt", "partition"], "expected KEY=VALUE"),
])
def test_bad_executor_flags_are_one_line(args, message, ckpts, data_dir, tmp_path, capsys):
    code = main(run_args({"a": ckpts["a"]}, data_dir, tmp_path / "o", *args))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and message in err[0], err
