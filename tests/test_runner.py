"""`rbm run` end to end on real SST-2: real numbers, stored records, resume, kill safety, bad input."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sklearn.metrics import accuracy_score

from robustbench_match.cli import main
from robustbench_match.results import ResultStore, atomic_write_text, predictions_path

MAJORITY_SST2_DEV = 444 / 872


def _run(*args: str) -> int:
    return main(["run", *args, "--format", "none"])


def test_glue_dev_scores_a_real_checkpoint_well_above_majority(sst2_checkpoint, data_dir, tmp_path):
    out = tmp_path / "run"
    assert _run("glue-dev", "--checkpoint", f"vanilla={sst2_checkpoint}", "--data-dir", data_dir,
                "--output", str(out), "--save-predictions") == 0
    (rec,) = ResultStore(out).records()
    assert rec["task"] == "sst2" and rec["n_examples"] == 872 and rec["seed"] == 1
    acc = rec["metrics"]["accuracy"]
    assert acc > MAJORITY_SST2_DEV + 0.15, acc
    rows = [json.loads(l) for l in predictions_path(out, rec).read_text().splitlines()]
    assert [r["idx"] for r in rows] == list(range(872))
    assert accuracy_score([r["label"] for r in rows], [r["prediction"] for r in rows]) == pytest.approx(acc)
    assert rec["checkpoint"]["train_data_sha256"] and rec["data"]["sha256"] and rec["versions"]["torch"]

    before = (out / "results.jsonl").read_bytes()
    assert _run("glue-dev", "--checkpoint", f"vanilla={sst2_checkpoint}", "--data-dir", data_dir,
                "--output", str(out)) == 0
    assert (out / "results.jsonl").read_bytes() == before  # finished cell skipped
    assert _run("glue-dev", "--checkpoint", f"vanilla={sst2_checkpoint}", "--data-dir", data_dir,
                "--output", str(out), "--force") == 0
    records = ResultStore(out).records()
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(records) == 1 and len(lines) == 2 and json.loads(lines[-1]) == records[0]  # appended; newest wins
    assert records[0]["metrics"]["accuracy"] == pytest.approx(acc)  # deterministic


def test_wrong_label_count_is_one_line_and_keeps_results(sst2_checkpoint, data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    earlier = ('{"key": "earlier", "suite": "x", "model": "m", "task": "rte", "eval_set": "rte", "condition": "clean", '
               '"metrics": {"accuracy": 0.5}, "main_metric": "accuracy"}\n')
    atomic_write_text(out / "results.jsonl", earlier)
    cardless = tmp_path / "cardless"  # made elsewhere: no card saying sst2, so the label count must catch it
    shutil.copytree(sst2_checkpoint, cardless, ignore=shutil.ignore_patterns("rbm_card.json"))
    code = _run("glue-dev", "--checkpoint", f"mnli/vanilla={cardless}", "--data-dir", data_dir,
                "--output", str(out))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "has 2 labels, task mnli expects 3" in err[0]
    assert (out / "results.jsonl").read_text() == earlier


@pytest.mark.parametrize("args, message", [
    (["nosuch"], "unknown suite 'nosuch'"),
    (["glue-dev", "--checkpoint", "x=./missing/folder"], "does not exist"),
    (["glue-dev", "--checkpoint", "novalue"], "expected NAME=PATH"),
    (["advglue", "--tasks", "cola"], "--tasks cola: not in this suite"),
    (["glue-dev", "--tasks", "sst3"], "unknown task 'sst3'"),
])
def test_bad_input_one_line(args, message, capsys, tmp_path):
    code = main(["run", *args, "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and message in err[0], err


def test_checkpoint_with_unknown_task_asks_for_one(tmp_path, capsys, sst2_checkpoint):
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in Path(sst2_checkpoint).iterdir():
        if f.name != "rbm_card.json":
            (bare / f.name).write_bytes(f.read_bytes())
    code = main(["run", "glue-dev", "--checkpoint", f"m={bare}", "--output", str(tmp_path / "o")])
    assert code == 1 and "cannot tell which task" in capsys.readouterr().err


def test_kill_at_any_moment_then_rerun_loses_and_duplicates_nothing(sst2_checkpoint, data_dir, tmp_path):
    out = tmp_path / "killed"
    ckpts = [f"--checkpoint=seed-{s}/vanilla={sst2_checkpoint}" for s in (1, 2, 3, 4)]
    cmd = [sys.executable, "-m", "robustbench_match.cli", "run", "glue-dev", *ckpts, "--data-dir", data_dir,
           "--output", str(out), "--format", "none"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(ResultStore(out).records()) < 1:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = ResultStore(out).records()
    assert 1 <= len(stored) < 4
    assert _run("glue-dev", *ckpts, "--data-dir", data_dir, "--output", str(out)) == 0
    lines = (out / "results.jsonl").read_text().splitlines()
    keys = [json.loads(l)["key"] for l in lines]
    assert sorted(keys) == sorted(f"glue-dev|vanilla|sst2|clean|{s}" for s in (1, 2, 3, 4))
    first = {r["key"]: r for r in stored}
    for line in lines:  # cells finished before the kill were not redone
        rec = json.loads(line)
        if rec["key"] in first:
            assert rec["date"] == first[rec["key"]]["date"]


def test_interrupted_write_leaves_the_old_records(tmp_path, monkeypatch):
    """A put that dies half-way through its line (disk full) loses only itself; the next put cuts the torn
    tail off before appending."""
    store = ResultStore(tmp_path)
    base = {"suite": "s", "model": "m", "task": "rte", "eval_set": "rte", "condition": "clean",
            "metrics": {"accuracy": 0.5}, "main_metric": "accuracy"}
    store.put({**base, "key": "a", "v": 1})
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError):
        store.put({**base, "key": "b", "v": 2})
    monkeypatch.undo()
    assert [r["key"] for r in store.records()] == ["a"]
    store.put({**base, "key": "c", "v": 3})
    assert [r["key"] for r in store.records()] == ["a", "c"]
    assert all(json.loads(line) for line in store.path.read_text().splitlines())


def test_unreachable_hub_checkpoint_is_one_line(hub_offline, tmp_path, capsys, data_dir):
    code = main(["run", "glue-dev", "--checkpoint", "sst2/theirs=textattack/bert-base-uncased-SST-2",
                 "--data-dir", data_dir, "--output", str(tmp_path / "o"), "--format", "none"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "cannot load as a safetensors sequence classifier" in err[0], err
