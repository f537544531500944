"""AdvGLUE: data loading, the official score against an independent re-implementation, and a real run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from paths import DATA_DIR
from robustbench_match.cli import main
from robustbench_match.evaluators.advglue.evaluator import load_advglue
from robustbench_match.evaluators.advglue.scoring import SUBSETS, official_score

DATA = DATA_DIR
pytestmark = pytest.mark.skipif(not (DATA / "advglue" / "dev.json").is_file(), reason=f"no shared data at {DATA}")
SIZES = {"sst2": 148, "qqp": 78, "mnli-m": 121, "mnli-mm": 162, "qnli": 148, "rte": 81}


def suite_file(folder: Path, params: dict, tasks=("sst2", "qqp", "mnli", "qnli", "rte")) -> Path:
    path = folder / "adv.yaml"
    path.write_text(yaml.safe_dump({"suite": "adv-test", "description": "test", "evaluator": "advglue",
                                    "tasks": list(tasks), "params": params, "metadata": {"version": 1}}))
    return path


def reference_score(gold: dict, pred: dict) -> float:
    """The AdvGLUE leaderboard's average, written out independently with plain numpy."""
    def acc(k):
        return float(np.mean(np.asarray(gold[k]) == np.asarray(pred[k])))

    g, p = np.asarray(gold["qqp"]), np.asarray(pred["qqp"])
    tp, fp, fn = np.sum((p == 1) & (g == 1)), np.sum((p == 1) & (g == 0)), np.sum((p == 0) & (g == 1))
    f1 = 2 * tp / (2 * tp + fp + fn)
    qqp = (acc("qqp") + f1) / 2
    mnli = (acc("mnli") + acc("mnli-mm")) / 2
    return (acc("sst2") + qqp + mnli + acc("qnli") + acc("rte")) / 5


def test_local_subsets_load_with_official_sizes_and_labels():
    for eval_set, n in SIZES.items():
        ex = load_advglue(eval_set, DATA)
        assert len(ex) == n and ex.task.name == SUBSETS[eval_set][0]
    raw = json.loads((DATA / "advglue" / "dev.json").read_text())
    rte = load_advglue("rte", DATA)
    assert rte.texts["sentence1"][0] == raw["rte"][0]["sentence1"] and rte.labels[0] == raw["rte"][0]["label"] == 0


def test_official_score_equals_independent_reimplementation(tmp_path):
    """Score seeded random predictions through the whole suite and compare with the formula by hand."""
    raw = json.loads((DATA / "advglue" / "dev.json").read_text())
    rng = np.random.default_rng(0)
    gold = {k: [row["label"] for row in rows] for k, rows in raw.items()}
    # mostly right, so accuracy and F1 differ from chance and from each other
    pred = {k: [y if rng.random() < 0.6 else int(rng.integers(0, 3 if k.startswith("mnli") else 2)) for y in v]
            for k, v in gold.items()}
    preds_file = tmp_path / "preds.json"
    preds_file.write_text(json.dumps(pred))
    out = tmp_path / "out"
    assert main(["run", str(suite_file(tmp_path, {"clean": False})), "--data-dir", str(DATA), "--output", str(out),
                 "--checkpoint", f"random={preds_file}", "--format", "none"]) == 0
    recs = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["eval_set"] for r in recs) == sorted(SIZES)
    ours, tasks = official_score({r["eval_set"]: r["metrics"] for r in recs})
    assert tasks == ["sst2", "qqp", "mnli", "qnli", "rte"]
    assert ours == pytest.approx(reference_score(gold, pred), abs=1e-12)
    from robustbench_match.reports.tables import render, tables_for

    spec = tables_for(recs)[0]
    assert spec.frame.loc["random", "Avg"] == f"{ours * 100:.2f}"
    qqp = next(r for r in recs if r["eval_set"] == "qqp")["metrics"]
    assert spec.frame.loc["random", "advQQP (acc/F1)"] == f"{qqp['accuracy'] * 100:.2f}/{qqp['f1'] * 100:.2f}"
    assert "advMNLI (m/mm)" in spec.frame.columns and "begin{tabular}" in render([spec], "latex")


def test_paper_table2_avg_follows_the_official_formula():
    """The paper's vanilla row: 47.57, 34.99/30.00, 41.73, 46.40, 38.45/27.59 → Avg 40.24."""
    row = {"sst2": {"accuracy": 47.57}, "mnli-m": {"accuracy": 34.99}, "mnli-mm": {"accuracy": 30.00},
           "rte": {"accuracy": 41.73}, "qnli": {"accuracy": 46.40}, "qqp": {"accuracy": 38.45, "f1": 27.59}}
    assert round(official_score(row)[0], 2) == 40.24


def test_real_minilm_checkpoint_clean_vs_adversarial(tmp_path):
    """A tiny MiniLM fine-tuned on RTE *train*, scored on AdvGLUE RTE and GLUE RTE dev."""
    from robustbench_match.training import TrainConfig, train

    ckpt = train(TrainConfig(method="vanilla", task="rte", seed=1, output=str(tmp_path / "rte"), data_dir=str(DATA),
                             max_steps=3, batch_size=8, lr=1e-4, max_length=32, max_train_examples=32))
    out = tmp_path / "out"
    assert main(["run", str(suite_file(tmp_path, {}, tasks=("rte",))), "--data-dir", str(DATA), "--output", str(out),
                 "--checkpoint", f"rte/vanilla={ckpt}", "--format", "none"]) == 0
    recs = {r["condition"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert recs["adversarial"]["n_examples"] == 81 and recs["clean"]["n_examples"] == 277
    assert recs["adversarial"]["main_metric"] == "advglue_score"
    from robustbench_match.reports.tables import tables_for

    specs = tables_for(list(recs.values()))
    assert [s.title for s in specs] == ["AdvGLUE dev (adversarial)", "AdvGLUE: clean GLUE dev vs adversarial"]
    clean, adv = (recs[c]["metrics"]["accuracy"] * 100 for c in ("clean", "adversarial"))
    arrow = "↓" if clean >= adv else "↑"
    dagger = "†" if any(r.get("degenerate") for r in recs.values()) else ""  # a one-class model is marked
    assert specs[1].frame.loc["vanilla", "RTE"] == f"{clean:.2f} → {adv:.2f} ({arrow} {abs(clean - adv):.2f}){dagger}"


def test_suite_skips_tasks_without_train_data_in_one_line(tmp_path, caplog):
    from robustbench_match.evaluators.base import RunContext
    from robustbench_match.evaluators.advglue.evaluator import AdvGlueEvaluator
    from robustbench_match.suites import load_suite_file

    suite = load_suite_file(suite_file(tmp_path, {}))
    suite.train = {"methods": ["vanilla"], "seeds": [1]}
    cells = AdvGlueEvaluator().plan(suite, RunContext(output=tmp_path, data_dir=str(DATA)))
    assert {c.task for c in cells} == {"sst2", "rte"}  # no QQP/QNLI/MNLI train data locally
    skipped = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(skipped) == 3 and all("\n" not in m for m in skipped)
