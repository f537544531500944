"""Each GLUE metric equals an independent computation (textbook formulas in numpy) on real labels."""
from __future__ import annotations

import numpy as np
import pytest

from robustbench_match.data import load_split
from robustbench_match.metrics import compute_metrics


def _noisy_predictions(labels: np.ndarray, num_labels: int, rate: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pred = labels.copy()
    flip = rng.random(len(labels)) < rate
    pred[flip] = rng.integers(0, num_labels, flip.sum())
    return pred


def mcc_by_hand(y, p):
    tp = np.sum((y == 1) & (p == 1)); tn = np.sum((y == 0) & (p == 0))
    fp = np.sum((y == 0) & (p == 1)); fn = np.sum((y == 1) & (p == 0))
    return (tp * tn - fp * fn) / np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))


def f1_by_hand(y, p):
    tp = np.sum((y == 1) & (p == 1)); fp = np.sum((y == 0) & (p == 1)); fn = np.sum((y == 1) & (p == 0))
    return 2 * tp / (2 * tp + fp + fn)


def ranks(x):
    """Average ranks of ties, the textbook way."""
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x)); r[order] = np.arange(1, len(x) + 1)
    for v in np.unique(x):
        r[x == v] = r[x == v].mean()
    return r


@pytest.mark.parametrize("seed", [0, 1])
def test_cola_mcc(data_dir, seed):
    y = load_split("cola", "validation", data_dir).labels
    p = _noisy_predictions(y, 2, 0.3, seed)
    assert compute_metrics(["matthews_correlation"], y, p)["matthews_correlation"] == pytest.approx(mcc_by_hand(y, p), abs=1e-12)


def test_mrpc_f1_and_accuracy(data_dir):
    y = load_split("mrpc", "validation", data_dir).labels
    p = _noisy_predictions(y, 2, 0.25, 3)
    m = compute_metrics(["f1", "accuracy"], y, p)
    assert m["f1"] == pytest.approx(f1_by_hand(y, p), abs=1e-12)
    assert m["accuracy"] == pytest.approx(np.mean(y == p), abs=1e-12)


def test_stsb_pearson_and_spearman(data_dir):
    y = load_split("stsb", "validation", data_dir).labels.astype(float)
    p = y + np.random.default_rng(4).normal(0, 1.0, len(y))
    m = compute_metrics(["pearson", "spearmanr"], y, p)
    assert m["pearson"] == pytest.approx(np.corrcoef(y, p)[0, 1], abs=1e-9)
    assert m["spearmanr"] == pytest.approx(np.corrcoef(ranks(y), ranks(p))[0, 1], abs=1e-9)


def test_mnli_accuracy_three_way(data_dir):
    y = load_split("mnli", "validation_matched", data_dir).labels
    p = _noisy_predictions(y, 3, 0.4, 5)
    assert compute_metrics(["accuracy"], y, p)["accuracy"] == pytest.approx((y == p).mean())


def test_degenerate_predictions_give_nan_not_crash():
    y = np.array([0, 1, 0, 1])
    m = compute_metrics(["pearson", "matthews_correlation"], y.astype(float), np.zeros(4))
    assert np.isnan(m["pearson"]) and m["matthews_correlation"] == 0.0


def test_every_metric_carries_its_direction_and_per_example_test():
    """One description per metric (issue 24): direction and the paired test rbm compare runs on it."""
    from robustbench_match.metrics import METRICS, metric_info

    for name in METRICS.names():
        info = metric_info(name)
        assert info.higher_is_better is True and info.paired_test in ("mcnemar", "bootstrap"), name
    assert metric_info("accuracy").paired_test == "mcnemar" and metric_info("f1").paired_test == "bootstrap"
    assert metric_info("advglue_score", "sst2").paired_test == "mcnemar"
    assert metric_info("advglue_score", "qqp").paired_test == "bootstrap"  # the mean of accuracy and F1
    assert metric_info("attack_success_rate").higher_is_better is False
    assert metric_info("group_accuracy/entailment/negation").higher_is_better is True
    assert metric_info("avg_queries").paired_test is None and metric_info("unheard_of").higher_is_better is None
