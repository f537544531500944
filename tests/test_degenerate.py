"""The degenerate-model guard: a checkpoint that predicts one class is flagged in every record and warned
about on the command line, and every stored metric has a direction.

The one-class checkpoint is the packaged (real) MiniLM with a classification head whose bias forces
class 0, saved as an ordinary safetensors Hugging Face folder — exactly what a broken fine-tune looks like.
"""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from robustbench_match.data import load_split
from robustbench_match.metrics import (DEGENERATE_SHARE, HIGHER_IS_BETTER, METRICS, higher_is_better,
                                       prediction_guard, score_main_metric)
from robustbench_match.tasks import get_task

#: stored metrics that are not scores (documented in robustbench_match.metrics): no direction
NOT_SCORES = {"avg_perturbed_word_pct", "avg_words_per_input", "avg_queries", "n_attacked", "n_successful",
              "n_failed", "n_skipped"}


@pytest.fixture(scope="module")
def constant_checkpoint(tmp_path_factory) -> str:
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    from robustbench_match.models import default_base_model

    base = default_base_model()
    model = BertForSequenceClassification.from_pretrained(
        base, num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([5.0, -5.0]))  # class 0 on every input
    out = tmp_path_factory.mktemp("constant") / "constant"
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return str(out)


# ---------------------------------------------------------------------------- the rule, on real labels
def test_guard_on_real_dev_labels_scores_the_majority_with_the_tasks_own_metric(data_dir):
    sst2 = load_split("sst2", "validation", data_dir)
    g = prediction_guard(sst2.task, sst2.labels, np.zeros_like(sst2.labels), "accuracy")
    assert g.degenerate and g.prediction_share == 1.0 and g.predicted_class == "negative"
    assert g.majority_class == "positive" and g.majority_score == pytest.approx(444 / 872)
    mrpc = load_split("mrpc", "validation", data_dir)  # majority: equivalent (279 of 408)
    g = prediction_guard(mrpc.task, mrpc.labels, mrpc.labels, "f1")
    assert not g.degenerate and g.prediction_share == pytest.approx(279 / 408)
    assert g.majority_score == pytest.approx(2 * 279 / (2 * 279 + 129))  # F1 of always "equivalent"
    cola = load_split("cola", "validation", data_dir)
    assert prediction_guard(cola.task, cola.labels, cola.labels, "matthews_correlation").majority_score == 0.0
    rte = load_split("rte", "validation", data_dir)
    assert prediction_guard(rte.task, rte.labels, rte.labels, "advglue_score").majority_score == pytest.approx(146 / 277)


def test_guard_threshold_is_95_percent():
    task = get_task("sst2")
    labels = np.tile([0, 1], 50)
    at = np.r_[np.zeros(95, int), np.ones(5, int)]
    below = np.r_[np.zeros(94, int), np.ones(6, int)]
    assert DEGENERATE_SHARE == 0.95
    assert prediction_guard(task, labels, at, "accuracy").degenerate is True
    assert prediction_guard(task, labels, below, "accuracy").degenerate is False
    assert prediction_guard(task, labels, None, "accuracy").degenerate is None


def test_regression_is_degenerate_when_its_output_is_flat(data_dir):
    stsb = load_split("stsb", "validation", data_dir)
    y = stsb.labels.astype(float)
    flat = prediction_guard(stsb.task, y, np.full_like(y, 2.5) + 1e-6 * np.arange(y.size) / y.size, "spearmanr")
    assert flat.degenerate is True and flat.prediction_share is None and flat.majority_score is None
    ok = prediction_guard(stsb.task, y, y + np.random.default_rng(0).normal(0, 0.5, y.size), "spearmanr")
    assert ok.degenerate is False and ok.prediction_sd_ratio == pytest.approx(1.05, abs=0.1)


def test_minority_majority_score_matches_the_minority_evaluator(data_dir):
    """The guard scores minority_accuracy with a function equal to the minority suite's own."""
    from robustbench_match.evaluators.base import CellResult
    from robustbench_match.evaluators.training_conditions.evaluator import MinorityEvaluator

    rte = load_split("rte", "validation", data_dir)
    preds = np.random.default_rng(1).integers(0, 2, len(rte))
    res = MinorityEvaluator().finish(CellResult({"accuracy": 0.0}, "accuracy", len(rte), "x", "y", preds,
                                                rte.idx, rte.labels))
    assert score_main_metric("minority_accuracy", rte.task, rte.labels, preds) == res.metrics["minority_accuracy"]


# ---------------------------------------------------------------------------- directions
def test_every_metric_an_evaluator_stores_has_a_direction():
    from robustbench_match.attacks.metrics import attack_metrics
    from robustbench_match.evaluators.groups.evaluator import group_metrics

    rows = [{"result": r, "words_changed": 2, "num_words": 10, "num_queries": 30}
            for r in ("Successful", "Failed", "Skipped")]
    names = set(attack_metrics(rows))
    assert NOT_SCORES <= names  # the documented non-scores are what the attack suite stores
    g = np.array([0, 0, 1, 1, 2, 3, 4, 5])
    names |= set(group_metrics(np.ones(8, bool), g, [f"g{i}" for i in range(6)])[0])
    names |= set(METRICS.names()) | {"advglue_score", "minority_accuracy"}
    missing = sorted(n for n in names if higher_is_better(n) is None and n not in NOT_SCORES)
    assert not missing, f"metrics without a direction: {missing}"
    assert higher_is_better("attack_success_rate") is False and higher_is_better("accuracy_drop") is False
    assert all(HIGHER_IS_BETTER[n] is None for n in NOT_SCORES)


# ---------------------------------------------------------------------------- end to end
def test_one_class_checkpoint_is_flagged_and_warned(constant_checkpoint, data_dir, tmp_path, caplog):
    from robustbench_match.cli import main

    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="robustbench_match.runner"):
        assert main(["run", "glue-dev", "--tasks", "sst2", "--checkpoint", f"constant={constant_checkpoint}",
                     "--max-length", "64", "--data-dir", data_dir, "--output", str(out), "--format", "none"]) == 0
    (rec,) = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    d = rec["details"]
    assert rec["degenerate"] is True and d["prediction_share"] == 1.0 and d["predicted_class"] == "negative"
    assert d["majority_class"] == "positive" and d["majority_score"] == pytest.approx(444 / 872)
    assert rec["metrics"]["accuracy"] == pytest.approx(428 / 872)  # it really predicts class 0 everywhere
    assert rec["higher_is_better"] == {"accuracy": True}
    warnings = [r.getMessage() for r in caplog.records if "degenerate" in r.getMessage()]
    assert len(warnings) == 1
    assert "constant on sst2/sst2" in warnings[0] and "'negative' for 100.0 %" in warnings[0]
    assert "'positive'" in warnings[0] and "0.5092" in warnings[0]


def test_advglue_records_of_a_one_class_model_are_flagged(constant_checkpoint, data_dir, tmp_path):
    """AdvGLUE's main metric is the derived advglue_score: the guard scores the majority with it too."""
    from robustbench_match.cli import main
    from robustbench_match.evaluators.advglue.evaluator import load_advglue

    suite = tmp_path / "adv-sst2.yaml"  # the advglue suite without its clean cells (glue-dev covers those)
    suite.write_text("suite: adv-sst2\ndescription: test\nevaluator: advglue\ntasks: [sst2]\n"
                     "params: {subsets: [sst2], clean: false}\nmetadata: {version: 1}\n")
    out = tmp_path / "adv"
    assert main(["run", str(suite), "--checkpoint", f"sst2/constant={constant_checkpoint}", "--max-length", "64",
                 "--data-dir", data_dir, "--output", str(out), "--format", "none"]) == 0
    recs = {r["condition"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    adv = recs["adversarial"]
    assert set(recs) == {"adversarial"} and adv["degenerate"] is True and adv["main_metric"] == "advglue_score"
    labels = load_advglue("sst2", data_dir).labels
    counts = np.bincount(labels, minlength=2)
    assert adv["details"]["majority_share"] == pytest.approx(counts.max() / counts.sum())
    assert adv["details"]["majority_score"] == pytest.approx(counts.max() / counts.sum())
    assert adv["metrics"]["advglue_score"] == pytest.approx(counts[0] / counts.sum())  # always class 0
    for rec in recs.values():
        assert all(v is not None for v in rec["higher_is_better"].values()), rec["higher_is_better"]
