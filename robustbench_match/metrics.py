"""GLUE metrics, computed by scikit-learn and scipy exactly as the GLUE benchmark defines them, the
direction of every metric a record stores, and the degenerate-model guard.

Why a guard: a checkpoint that predicts one class on every input scores the majority-class share
(accuracy), or F1 ≈ 0.8 on MRPC, and can look like the most robust model in a table (an attack cannot
flip a prediction that never changes). Every classification record therefore stores the share of its
most predicted class and the score a constant majority-class prediction gets with the same metric.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Optional

import numpy as np

from .registry import Registry

if TYPE_CHECKING:
    from .tasks import TaskSpec

MetricFn = Callable[[np.ndarray, np.ndarray], float]
METRICS: Registry[MetricFn] = Registry("metric")

def _skm():
    from sklearn import metrics  # imported on first use: listing tasks or suites must stay light

    return metrics


def _stats():
    from scipy import stats

    return stats


METRICS.register("accuracy", lambda y, p: float(_skm().accuracy_score(y, p)), aliases=("acc",))
# GLUE's F1 is the F1 of the positive class (label id 1: equivalent / duplicate).
METRICS.register("f1", lambda y, p: float(_skm().f1_score(y, p, pos_label=1, average="binary")))
# for user tasks with more than two classes: the unweighted mean of the per-class F1 (sklearn "macro")
METRICS.register("macro_f1", lambda y, p: float(_skm().f1_score(y, p, average="macro")), aliases=("f1_macro",))
METRICS.register("matthews_correlation", lambda y, p: float(_skm().matthews_corrcoef(y, p)), aliases=("mcc",))
METRICS.register("pearson", lambda y, p: float(_stats().pearsonr(y, p)[0]))
METRICS.register("spearmanr", lambda y, p: float(_stats().spearmanr(y, p)[0]), aliases=("spearman",))

@dataclass(frozen=True)
class MetricInfo:
    """What travels with a stored metric: its direction (lm-eval's ``higher_is_better``; None for values that
    are not scores) and the per-example test that compares two models on it — ``mcnemar`` for a share of
    correctly predicted examples (exact McNemar on the discordant pairs), ``bootstrap`` for a metric of the
    whole prediction vector (paired bootstrap over examples), None where it is not a function of per-example
    predictions (group CIs, attack effort)."""

    higher_is_better: Optional[bool]
    paired_test: Optional[str]


_SHARE = MetricInfo(True, "mcnemar")
_WHOLE = MetricInfo(True, "bootstrap")
_SCORE = MetricInfo(True, None)
_NOT_A_SCORE = MetricInfo(None, None)
METRIC_INFO: dict[str, MetricInfo] = {
    # GLUE metrics (registered above)
    "accuracy": _SHARE, "f1": _WHOLE, "macro_f1": _WHOLE, "matthews_correlation": _WHOLE, "pearson": _WHOLE,
    "spearmanr": _WHOLE,
    # textattack (attack effort and counts are not scores: their "better" depends on the reading)
    "original_accuracy": _SCORE, "accuracy_under_attack": _SHARE, "attack_success_rate": MetricInfo(False, None),
    "accuracy_drop": MetricInfo(False, None), "avg_perturbed_word_pct": _NOT_A_SCORE,
    "avg_words_per_input": _NOT_A_SCORE, "avg_queries": _NOT_A_SCORE, "n_attacked": _NOT_A_SCORE,
    "n_successful": _NOT_A_SCORE, "n_failed": _NOT_A_SCORE, "n_skipped": _NOT_A_SCORE,
    # groups (the CI bounds of a score point the same way as the score)
    "worst_group_accuracy": _SCORE, "worst_group_ci_low": _SCORE, "worst_group_ci_high": _SCORE,
    "group_mean_accuracy": _SCORE, "average_accuracy": _SCORE,
    # advglue (accuracy, or for QQP the mean of accuracy and F1: see metric_info), minority (on label-1 rows)
    "advglue_score": _SHARE, "minority_accuracy": _SHARE,
    # perturbation (the task's metrics on the perturbed set keep their names; clean_* are the clean set's)
    "drop": MetricInfo(False, None), "flip_rate": MetricInfo(False, None), "violation_rate": MetricInfo(False, None),
    "failure_rate": MetricInfo(False, None), "failure_ci_low": MetricInfo(False, None),
    "failure_ci_high": MetricInfo(False, None), "tests_failed": MetricInfo(False, None),
    "changed_accuracy": _SCORE, "changed_clean_accuracy": _SCORE, "drop_p": _NOT_A_SCORE, "n_changed": _NOT_A_SCORE,
    "changed_share": _NOT_A_SCORE, "n_checked": _NOT_A_SCORE, "mean_abs_change": MetricInfo(False, None),
}
#: metric-name prefixes whose members share one description (``group_accuracy/entailment/negation`` …)
METRIC_INFO_PREFIXES: dict[str, MetricInfo] = {"group_accuracy/": _SCORE, "clean_": _SCORE}
#: kept for readers of the earlier table: the direction of every named metric
HIGHER_IS_BETTER: dict[str, Optional[bool]] = {k: v.higher_is_better for k, v in METRIC_INFO.items()}


def metric_info(name: str, task: Optional[str] = None) -> MetricInfo:
    """The description of a stored metric (``task`` decides for advglue_score: QQP's is a mean with F1)."""
    if name == "advglue_score" and task == "qqp":
        return _WHOLE
    if name in METRIC_INFO:
        return METRIC_INFO[name]
    return next((info for prefix, info in METRIC_INFO_PREFIXES.items() if name.startswith(prefix)), _NOT_A_SCORE)


def higher_is_better(name: str) -> Optional[bool]:
    """Direction of a stored metric; None for values that are not scores."""
    return metric_info(name).higher_is_better


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


# ---------------------------------------------------------------------------- derived main metrics
# Main metrics that are not plain GLUE metrics, as functions of (task, gold, predicted) so that the guard
# can score a constant prediction with them. Group metrics need the example groups: their evaluator
# stores ``details.majority_score`` itself.
DerivedFn = Callable[["TaskSpec", np.ndarray, np.ndarray], float]
DERIVED_METRICS: Registry[DerivedFn] = Registry("derived metric")


def advglue_subset_score(task: str, metrics: Mapping[str, float]) -> float:
    """A subset's AdvGLUE score (the leaderboard's rule): QQP averages accuracy and F1, every other task is
    accuracy. Here, below the evaluators, because the degenerate-model guard scores a constant prediction
    with it too."""
    if task == "qqp":
        return (metrics["accuracy"] + metrics["f1"]) / 2
    return metrics["accuracy"]


@DERIVED_METRICS.register("advglue_score")
def _advglue_score(task: "TaskSpec", labels: np.ndarray, predictions: np.ndarray) -> float:
    return advglue_subset_score(task.name, compute_metrics(task.metrics, labels, predictions)
                                | compute_metrics(("accuracy",), labels, predictions))


#: the label whose training rows the minority condition reduces (paper Table 5), and whose dev rows it scores
MINORITY_LABEL = 1


def minority_accuracy(labels: np.ndarray, predictions: np.ndarray, label: int = MINORITY_LABEL) -> float:
    """Accuracy on the gold rows of ``label`` (NaN when there are none)."""
    target = np.asarray(labels) == label
    return float((np.asarray(predictions)[target] == label).mean()) if target.any() else float("nan")


DERIVED_METRICS.register("minority_accuracy", lambda task, y, p: minority_accuracy(y, p))


# The attack's outputs after attack are the cell's predictions: accuracy on them is accuracy under attack.
DERIVED_METRICS.register("accuracy_under_attack", lambda task, y, p: METRICS.get("accuracy")(y, p))


def score_main_metric(name: str, task: "TaskSpec", labels: np.ndarray, predictions: np.ndarray) -> Optional[float]:
    """``name`` on (gold, predicted) with the metric's own function; None when it is not a function of
    the predictions alone (group metrics, attack statistics)."""
    if name in METRICS:
        return compute_metrics((name,), labels, predictions)[name]
    if name in DERIVED_METRICS:
        with np.errstate(all="ignore"):
            return float(DERIVED_METRICS.get(name)(task, np.asarray(labels), np.asarray(predictions)))
    return None


# ---------------------------------------------------------------------------- the degenerate-model guard
#: a classifier is degenerate when at least this share of its predictions falls in one class
DEGENERATE_SHARE = 0.95
#: a regressor is degenerate when sd(predictions) < this × sd(gold): its output is (near-)constant
DEGENERATE_SD_RATIO = 1e-3


@dataclass(frozen=True)
class PredictionGuard:
    """What a record stores about how one-sided a cell's predictions are.

    Classification: ``prediction_share`` is the share of the most predicted class (``predicted_class``),
    ``majority_score`` the main metric of always predicting the eval set's majority label
    (``majority_class``), and ``degenerate`` is ``prediction_share >= DEGENERATE_SHARE``.
    Regression (STS-B): share and majority fields are None; ``degenerate`` is
    ``sd(predictions) < DEGENERATE_SD_RATIO × sd(gold)`` (``prediction_sd_ratio``).
    """

    degenerate: Optional[bool]
    prediction_share: Optional[float] = None
    predicted_class: Optional[str] = None
    majority_class: Optional[str] = None
    majority_share: Optional[float] = None
    majority_score: Optional[float] = None
    prediction_sd_ratio: Optional[float] = None

    def details(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "degenerate"}


def _label_name(task: "TaskSpec", label) -> str:
    names = task.label_names or ()
    try:
        return names[int(label)]
    except (IndexError, ValueError, TypeError):
        return str(label)


def prediction_guard(task: "TaskSpec", labels: Optional[np.ndarray], predictions: Optional[np.ndarray],
                     main_metric: str) -> PredictionGuard:
    """The guard of one cell, from its predictions and gold labels (None when there are none)."""
    if predictions is None or len(predictions) == 0:
        return PredictionGuard(None)
    preds = np.asarray(predictions)
    gold = None if labels is None else np.asarray(labels)
    if task.is_regression:
        if gold is None or gold.size < 2:
            return PredictionGuard(None)
        gold_sd, pred_sd = float(np.std(gold.astype(float))), float(np.std(preds.astype(float)))
        ratio = pred_sd / gold_sd if gold_sd > 0 else float("nan")
        return PredictionGuard(bool(pred_sd < DEGENERATE_SD_RATIO * gold_sd), prediction_sd_ratio=ratio)
    values, counts = np.unique(preds, return_counts=True)
    share = float(counts.max() / counts.sum())
    guard = {"degenerate": share >= DEGENERATE_SHARE, "prediction_share": share,
             "predicted_class": _label_name(task, values[np.argmax(counts)])}
    if gold is not None and gold.size:
        gvalues, gcounts = np.unique(gold, return_counts=True)
        majority = gvalues[np.argmax(gcounts)]  # ties: the smallest label id
        guard.update(majority_class=_label_name(task, majority), majority_share=float(gcounts.max() / gcounts.sum()),
                     majority_score=score_main_metric(main_metric, task, gold, np.full_like(gold, majority)))
    return PredictionGuard(**guard)
