"""Predictions files in every suite that takes them (glue-dev, advglue, mnli-negation), issue 13.

Each suite gets a complete file, a partial file and a file with one wrong length. Files are built from
the real gold labels with a seeded share flipped, so every score is checked against numpy by hand. A wrong
file must stop the run before its first cell (no results.jsonl) with one line; a partial file runs what it
has and says, one line per task, what it skipped.
"""
from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pytest

from paths import DATA_DIR
from robustbench_match.cli import main
from robustbench_match.data import load_split

DATA = DATA_DIR
pytestmark = pytest.mark.skipif(not (DATA / "advglue" / "dev.json").is_file() or not (DATA / "glue").is_dir(),
                                reason=f"real data not found at {DATA}")
ADV_SIZES = {"sst2": 148, "qqp": 78, "mnli": 121, "mnli-mm": 162, "qnli": 148, "rte": 81}  # AdvGLUE dev


def noisy(gold, n_labels: int, seed: int, share: float = 0.3) -> list[int]:
    """Gold labels with a seeded ``share`` moved to the next label: scores well away from 0, 1 and chance."""
    rng = np.random.default_rng(seed)
    gold = np.asarray(gold, dtype=np.int64)
    flip = rng.random(len(gold)) < share
    return np.where(flip, (gold + 1) % n_labels, gold).tolist()


def glue_gold(eval_set: str) -> np.ndarray:
    task, split = {"sst2": ("sst2", "validation"), "rte": ("rte", "validation"),
                   "mnli": ("mnli", "validation_matched"), "mnli-mm": ("mnli", "validation_mismatched")}[eval_set]
    return load_split(task, split, DATA).labels


def adv_gold() -> dict[str, list[int]]:
    raw = json.loads((DATA / "advglue" / "dev.json").read_text())
    return {k: [row["label"] for row in rows] for k, rows in raw.items()}


def n_labels(key: str) -> int:
    return 3 if "mnli" in key else 2


def run(tmp_path: Path, suite: str, preds: dict, *extra: str) -> tuple[int, Path]:
    path = tmp_path / "preds.json"
    path.write_text(json.dumps(preds))
    out = tmp_path / "run"
    code = main(["run", suite, "--checkpoint", f"sub={path}", "--data-dir", str(DATA), "--output", str(out),
                 "--format", "none", *extra])
    return code, out


def records(out: Path) -> dict[tuple[str, str], dict]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return {(r["eval_set"], r["condition"]): r for r in map(json.loads, lines)}


def warnings(caplog, text: str) -> list[str]:
    found = [r.getMessage() for r in caplog.records if text in r.getMessage()]
    assert all("\n" not in m for m in found)
    return found


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("rbm run: error:")]
    assert len(err) == 1
    return err[0]


def accuracy(gold, pred) -> float:
    return float(np.mean(np.asarray(gold) == np.asarray(pred)))


def advglue_reference(gold: dict, pred: dict) -> float:
    """The AdvGLUE leaderboard score written out by hand: QQP = mean(acc, F1 of label 1), MNLI = mean(m, mm),
    then the mean over the five tasks."""
    g, p = np.asarray(gold["qqp"]), np.asarray(pred["qqp"])
    tp, fp, fn = np.sum((p == 1) & (g == 1)), np.sum((p == 1) & (g == 0)), np.sum((p == 0) & (g == 1))
    qqp = (accuracy(g, p) + 2 * tp / (2 * tp + fp + fn)) / 2
    mnli = (accuracy(gold["mnli"], pred["mnli"]) + accuracy(gold["mnli-mm"], pred["mnli-mm"])) / 2
    return (accuracy(gold["sst2"], pred["sst2"]) + qqp + mnli + accuracy(gold["qnli"], pred["qnli"])
            + accuracy(gold["rte"], pred["rte"])) / 5


# ---------------------------------------------------------------------------- advglue
def test_advglue_issue_command_complete_submission(tmp_path, monkeypatch, caplog, capsys):
    """The issue's command: a complete AdvGLUE submission and nothing else exits 0 with six adversarial
    records, one line per task about the missing clean predictions, and the official score in the table."""
    gold = adv_gold()
    assert {k: len(v) for k, v in gold.items()} == ADV_SIZES
    pred = {k: noisy(v, n_labels(k), seed=i) for i, (k, v) in enumerate(gold.items())}
    (tmp_path / "preds.json").write_text(json.dumps(pred))
    monkeypatch.chdir(tmp_path)
    assert main(["run", "advglue", "--checkpoint", "sub=preds.json", "--data-dir", str(DATA), "--output", "run"]) == 0
    recs = records(tmp_path / "run")
    assert sorted(recs) == sorted((e, "adversarial") for e in ("sst2", "qqp", "mnli-m", "mnli-mm", "qnli", "rte"))
    assert recs[("mnli-m", "adversarial")]["n_examples"] == 121 and recs[("qqp", "adversarial")]["n_examples"] == 78
    assert recs[("rte", "adversarial")]["metrics"]["accuracy"] == pytest.approx(accuracy(gold["rte"], pred["rte"]))
    skipped = warnings(caplog, "no clean GLUE dev predictions")
    assert len(skipped) == 5  # one per task: MNLI's m and mm share a line
    assert any("for mnli-m, mnli-mm (keys 'glue-dev/mnli', 'glue-dev/mnli-mm')" in m for m in skipped)
    assert all("preds.json" in m and "clean score and drop skipped" in m for m in skipped)
    assert not warnings(caplog, "no QQP validation data")  # said once, as "no clean predictions"
    capsys.readouterr()
    assert main(["table", "run"]) == 0
    table = capsys.readouterr().out
    expected = advglue_reference(gold, pred)
    assert 0.6 < expected < 0.8  # 30 % flipped: a real score, neither chance nor perfect
    row = next(line for line in table.splitlines() if line.strip().startswith("|") and " sub " in line)
    assert f"{expected * 100:.2f}" in row  # the official AdvGLUE score, in the Avg column
    assert "clean GLUE dev vs adversarial" not in table


def test_advglue_partial_file_with_some_clean_predictions(tmp_path, caplog):
    gold = adv_gold()
    pred = {k: noisy(v, n_labels(k), seed=7) for k, v in gold.items() if k not in ("qqp", "mnli-mm")}
    pred["glue-dev/rte"] = noisy(glue_gold("rte"), 2, seed=8)
    code, out = run(tmp_path, "advglue", pred)
    assert code == 0
    recs = records(out)
    assert sorted(recs) == sorted([("sst2", "adversarial"), ("mnli-m", "adversarial"), ("qnli", "adversarial"),
                                   ("rte", "adversarial"), ("rte", "clean")])
    clean = recs[("rte", "clean")]
    assert clean["n_examples"] == 277
    assert clean["metrics"]["accuracy"] == pytest.approx(accuracy(glue_gold("rte"), pred["glue-dev/rte"]))
    assert len(warnings(caplog, "no predictions for qqp; skipped")) == 1
    assert len(warnings(caplog, "no AdvGLUE adversarial predictions for mnli-mm (key 'mnli-mm'); skipped")) == 1
    assert len(warnings(caplog, "no clean GLUE dev predictions")) == 3  # sst2, mnli, qnli; rte has its clean set


def test_advglue_wrong_length_stops_before_the_first_cell(tmp_path, capsys):
    gold = adv_gold()
    pred = {k: noisy(v, n_labels(k), seed=1) for k, v in gold.items()}
    pred["sst2"] = pred["sst2"][:147]  # the last cell planned: nothing may run before the error
    code, out = run(tmp_path, "advglue", pred)
    assert code == 1 and not (out / "results.jsonl").exists()
    line = one_error_line(capsys)
    assert "predictions file" in line and "preds.json: 'sst2' has 147 predictions, the AdvGLUE sst2 adversarial dev " \
                                          "set has 148" in line


def test_advglue_glue_dev_predictions_under_a_bare_key_get_a_hint(tmp_path, capsys):
    gold = adv_gold()
    pred = {k: noisy(v, n_labels(k), seed=1) for k, v in gold.items()}
    pred["rte"] = noisy(glue_gold("rte"), 2, seed=2)  # GLUE dev predictions where AdvGLUE ones belong
    code, out = run(tmp_path, "advglue", pred)
    assert code == 1 and not (out / "results.jsonl").exists()
    assert "'rte' has 277 predictions, the AdvGLUE rte adversarial dev set has 81" in (line := one_error_line(capsys))
    assert "GLUE dev predictions go under 'glue-dev/rte'" in line


# ---------------------------------------------------------------------------- glue-dev
GLUE_ARGS = ("--tasks", "sst2,rte,mnli")


def test_glue_dev_complete_file_bare_and_prefixed_keys(tmp_path):
    pred = {"sst2": noisy(glue_gold("sst2"), 2, 1), "glue-dev/rte": noisy(glue_gold("rte"), 2, 2),
            "mnli": noisy(glue_gold("mnli"), 3, 3), "mnli-mm": noisy(glue_gold("mnli-mm"), 3, 4),
            "advglue/sst2": [0] * 148}  # other collections' keys are allowed and ignored here
    code, out = run(tmp_path, "glue-dev", pred, *GLUE_ARGS)
    assert code == 0
    recs = records(out)
    assert sorted(recs) == sorted((e, "clean") for e in ("sst2", "rte", "mnli-m", "mnli-mm"))
    for eval_set, key in (("sst2", "sst2"), ("rte", "glue-dev/rte"), ("mnli-m", "mnli"), ("mnli-mm", "mnli-mm")):
        gold = glue_gold(key.split("/")[-1])
        assert recs[(eval_set, "clean")]["n_examples"] == len(gold)
        assert recs[(eval_set, "clean")]["metrics"]["accuracy"] == pytest.approx(accuracy(gold, pred[key]))
    assert 0.6 < recs[("sst2", "clean")]["metrics"]["accuracy"] < 0.8


def test_glue_dev_partial_file(tmp_path, caplog):
    pred = {"sst2": noisy(glue_gold("sst2"), 2, 1), "mnli": noisy(glue_gold("mnli"), 3, 3)}
    code, out = run(tmp_path, "glue-dev", pred, *GLUE_ARGS)
    assert code == 0
    assert sorted(records(out)) == [("mnli-m", "clean"), ("sst2", "clean")]
    assert len(warnings(caplog, "preds.json (sub): no predictions for rte; skipped")) == 1
    assert len(warnings(caplog, "no GLUE dev predictions for mnli-mm (key 'mnli-mm'); skipped")) == 1


def test_glue_dev_wrong_length_stops_before_the_first_cell(tmp_path, capsys):
    pred = {"sst2": noisy(glue_gold("sst2"), 2, 1), "rte": noisy(glue_gold("rte"), 2, 2)[:-1],
            "mnli": noisy(glue_gold("mnli"), 3, 3), "mnli-mm": noisy(glue_gold("mnli-mm"), 3, 4)}
    code, out = run(tmp_path, "glue-dev", pred, *GLUE_ARGS)
    assert code == 1 and not (out / "results.jsonl").exists()
    assert "preds.json: 'rte' has 276 predictions, the GLUE dev rte set has 277" in one_error_line(capsys)


def test_glue_dev_bad_label_and_duplicate_keys_stop_at_plan_time(tmp_path, capsys):
    sst2 = noisy(glue_gold("sst2"), 2, 1)
    code, out = run(tmp_path, "glue-dev", {"sst2": sst2[:-1] + ["maybe"]}, "--tasks", "sst2")
    assert code == 1 and not (out / "results.jsonl").exists()
    assert "'sst2'[871] = 'maybe' is not a label of sst2" in one_error_line(capsys)
    code, out = run(tmp_path, "glue-dev", {"sst2": sst2, "glue-dev/sst2": sst2}, "--tasks", "sst2")
    assert code == 1 and "keys 'glue-dev/sst2' and 'sst2' both hold the GLUE dev sst2 set" in one_error_line(capsys)


def test_hf_checkpoint_with_other_labels_stops_before_the_first_cell(tmp_path, capsys):
    """id2label is read from config.json at plan time: a wrong model stops the run before the good one's cells."""
    folder = tmp_path / "sst2-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"id2label": {"0": "negative", "1": "positive"}}))
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"rte": noisy(glue_gold("rte"), 2, 2)}))
    out = tmp_path / "run"
    code = main(["run", "glue-dev", "--checkpoint", f"good={good}", "--checkpoint", f"rte/bad={folder}",
                 "--data-dir", str(DATA), "--output", str(out), "--format", "none"])
    assert code == 1 and not (out / "results.jsonl").exists()
    assert "id2label ['negative', 'positive'] does not match task rte" in one_error_line(capsys)


# ---------------------------------------------------------------------------- mnli-negation
def test_mnli_negation_complete_file(tmp_path):
    pred = {"mnli": noisy(glue_gold("mnli"), 3, 5), "mnli-mm": noisy(glue_gold("mnli-mm"), 3, 6)}
    code, out = run(tmp_path, "mnli-negation", pred)
    assert code == 0
    recs = records(out)
    assert sorted(recs) == [("mnli-m", "clean"), ("mnli-mm", "clean")]
    dev = load_split("mnli", "validation_matched", DATA)
    rec = recs[("mnli-m", "clean")]
    assert rec["n_examples"] == len(dev) == 9815
    correct = np.asarray(pred["mnli"]) == dev.labels
    assert rec["metrics"]["accuracy"] == pytest.approx(correct.mean())
    # Sagawa et al.'s groups by hand: label x (hypothesis, punctuation removed, lower-cased, has a negation word)
    negation = np.asarray([bool({"nobody", "no", "never", "nothing"}
                                & set(h.translate(str.maketrans("", "", string.punctuation)).lower().split(" ")))
                           for h in dev.texts["hypothesis"]])
    worst = min(correct[(dev.labels == y) & (negation == n)].mean() for y in range(3) for n in (False, True))
    assert rec["metrics"]["worst_group_accuracy"] == pytest.approx(worst)


def test_mnli_negation_partial_file(tmp_path, caplog):
    code, out = run(tmp_path, "mnli-negation", {"mnli-m": noisy(glue_gold("mnli"), 3, 5)})
    assert code == 0
    assert sorted(records(out)) == [("mnli-m", "clean")]
    assert len(warnings(caplog, "no GLUE dev predictions for mnli-mm (key 'mnli-mm'); skipped")) == 1


def test_mnli_negation_wrong_length_stops_before_the_first_cell(tmp_path, capsys):
    pred = {"mnli": noisy(glue_gold("mnli"), 3, 5), "mnli-mm": noisy(glue_gold("mnli-mm"), 3, 6)[:9831]}
    code, out = run(tmp_path, "mnli-negation", pred)
    assert code == 1 and not (out / "results.jsonl").exists()
    assert "preds.json: 'mnli-mm' has 9831 predictions, the GLUE dev mnli-mm set has 9832" in one_error_line(capsys)
