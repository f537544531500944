"""GLUE metrics, computed by scikit-learn and scipy exactly as the GLUE benchmark defines them."""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from .registry import Registry

MetricFn = Callable[[np.ndarray, np.ndarray], float]
METRICS: Registry[MetricFn] = Registry("metric")

METRICS.register("accuracy", lambda y, p: float(skm.accuracy_score(y, p)), aliases=("acc",))
# GLUE's F1 is the F1 of the positive class (label id 1: equivalent / duplicate).
METRICS.register("f1", lambda y, p: float(skm.f1_score(y, p, pos_label=1, average="binary")))
METRICS.register("matthews_correlation", lambda y, p: float(skm.matthews_corrcoef(y, p)), aliases=("mcc",))
METRICS.register("pearson", lambda y, p: float(stats.pearsonr(y, p)[0]))
METRICS.register("spearmanr", lambda y, p: float(stats.spearmanr(y, p)[0]), aliases=("spearman",))

# Direction of every metric a suite stores (lm-eval's ``higher_is_better``); None: not a score.
HIGHER_IS_BETTER: dict[str, bool | None] = {name: True for name in METRICS}
HIGHER_IS_BETTER.update({
    "original_accuracy": True, "accuracy_under_attack": True, "attack_success_rate": False,
    "accuracy_drop": False, "avg_perturbed_word_pct": None, "avg_words_per_input": None, "avg_queries": None,
    "worst_group_accuracy": True, "average_accuracy": True,
})


def compute_metrics(names: tuple[str, ...] | list[str], labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Each named metric on (gold, predicted). Degenerate inputs give NaN, never an exception."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
    out: dict[str, float] = {}
    for name in names:
        with np.errstate(all="ignore"):
            try:
                out[name] = METRICS.get(name)(labels, predictions)
            except ValueError:
                out[name] = float("nan")
    return out


def accuracy_stderr(acc: float, n: int) -> float:
    """Standard error of an accuracy over n examples (binomial), as lm-eval reports ``acc_stderr``."""
    return float(np.sqrt(acc * (1 - acc) / max(n - 1, 1)))
