"""The AdvGLUE scoring rule, in one light module that the evaluator and the table layout share: the subsets,
each subset's score (accuracy; mean of accuracy and F1 for QQP, as the leaderboard) and the official
average (MNLI m and mm averaged into one task, then the mean over tasks)."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ...metrics import advglue_subset_score
from ...tasks import get_task
from .params import ADVGLUE_SUBSETS

#: eval set → (task, key in dev.json, hub config)
SUBSETS: dict[str, tuple[str, str, str]] = {
    "sst2": ("sst2", "sst2", "adv_sst2"),
    "qqp": ("qqp", "qqp", "adv_qqp"),
    "mnli-m": ("mnli", "mnli", "adv_mnli"),
    "mnli-mm": ("mnli", "mnli-mm", "adv_mnli_mismatched"),
    "qnli": ("qnli", "qnli", "adv_qnli"),
    "rte": ("rte", "rte", "adv_rte"),
}
assert tuple(SUBSETS) == ADVGLUE_SUBSETS  # the params check (no heavy imports) names the same subsets
SCORE = "advglue_score"  # per subset: accuracy, or mean(accuracy, F1) for QQP — the leaderboard's form


def subset_score(task: str, metrics: Mapping[str, float]) -> float:
    """A subset's AdvGLUE score (the rule lives in ``metrics.advglue_subset_score``)."""
    return advglue_subset_score(get_task(task).name, metrics)


def official_score(by_eval_set: Mapping[str, Mapping[str, float]]) -> tuple[float, list[str]]:
    """The AdvGLUE score over the subsets present: MNLI m and mm are averaged into one task, then the
    mean over tasks (five when complete). Returns the score and the tasks it averaged."""
    per_task: dict[str, list[float]] = {}
    for eval_set, metrics in by_eval_set.items():
        task = SUBSETS[eval_set][0]
        per_task.setdefault(task, []).append(subset_score(task, metrics))
    if not per_task:
        return float("nan"), []
    tasks = [t for t in ("sst2", "qqp", "mnli", "qnli", "rte") if t in per_task]
    return float(np.mean([np.mean(per_task[t]) for t in tasks])), tasks
