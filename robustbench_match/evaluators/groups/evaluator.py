"""MNLI negation groups (Sagawa et al., 2019; paper Table 6): average and worst-group accuracy.

The six groups are label × "the hypothesis contains a negation word" (the word list is the suite's
``params.words``). The smallest groups hold under a hundred dev examples, so every group accuracy comes
with an exact 95 % interval (``params.interval``: ``clopper-pearson`` by default, or ``wilson``), and the
worst group's interval is that group's own: a percentile bootstrap collapses to [0, 0] at 0/91 correct,
where the exact upper bound is ≈ 4 %.
Checkpoints come from the command line (ERM, GroupDRO, each ± Match-Tuning) or are trained by the
runner on MNLI *train* with ``extra["group"]`` set for GroupDRO; without MNLI train data a trained
cell is skipped with one line, never trained on dev data.
"""
from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from ...conditions.groups import NEGATION_WORDS, assign_negation_groups, group_names
from ...errors import RBMError
from ...stats import group_accuracies, group_proportion_cis, worst_group
from ...tasks import get_task
from ..base import Cell, CellResult, Evaluator, RunContext
from ..params import suite_params
from .params import GroupParams
from ..planning import TrainData, plan_grid
from ..scoring import score_examples

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = "clopper-pearson"


def group_metrics(correct: np.ndarray, groups: np.ndarray, names: list[str], interval: str = DEFAULT_INTERVAL,
                  level: float = 0.95) -> tuple[dict[str, float], list[dict]]:
    """Average, worst-group and per-group accuracy, each group with its exact interval; (metrics, group rows).
    The worst group's CI is its own interval (the worst group is the one with the lowest accuracy)."""
    n_groups = len(names)
    acc = group_accuracies(correct, groups, n_groups)
    sizes = np.bincount(groups, minlength=n_groups)
    hits = np.bincount(groups, weights=np.asarray(correct, dtype=float), minlength=n_groups)
    per_group = group_proportion_cis(correct, groups, n_groups, interval, level)
    worst = int(np.nanargmin(acc))
    metrics = {"accuracy": float(np.mean(correct)), "worst_group_accuracy": worst_group(acc),
               "worst_group_ci_low": float(per_group[worst, 0]), "worst_group_ci_high": float(per_group[worst, 1]),
               "group_mean_accuracy": float(np.nanmean(acc))}
    rows = [{"id": g, "name": names[g], "size": int(sizes[g]), "correct": int(round(hits[g])),
             "accuracy": float(acc[g]), "ci_low": float(per_group[g, 0]), "ci_high": float(per_group[g, 1]),
             "worst": g == worst}
            for g in range(n_groups)]
    metrics.update({f"group_accuracy/{r['name']}": r["accuracy"] for r in rows})
    return metrics, rows


class GroupEvaluator(Evaluator):
    layout = "groups"
    params_class = GroupParams

    @staticmethod
    def words(suite) -> tuple[str, ...]:
        return tuple(suite_params(suite, GroupParams).words)

    @staticmethod
    def interval(suite) -> dict:
        """``params.interval`` (method, level); a legacy ``params.bootstrap.level`` still sets the level."""
        return suite_params(suite, GroupParams).interval_settings(str(suite.path or f"suite {suite.name}"))

    def eval_sets(self, suite, task: str) -> dict[str, str]:
        splits = get_task(task).eval_splits()
        wanted = self.params(suite).eval_sets or list(splits)
        if task not in suite.tasks:  # a task added with --tasks: params.eval_sets name the suite's own tasks' sets
            wanted = [e for e in wanted if e in splits] or list(splits)
        unknown = [e for e in wanted if e not in splits]
        if unknown:
            raise RBMError(f"suite {suite.name}: params.eval_sets: unknown {unknown} (expected {list(splits)})")
        return {e: splits[e] for e in wanted}

    def task_problem(self, task) -> Optional[str]:
        """Groups come from the task's ``group_field``, or (MNLI-style NLI) from negation words in a
        ``hypothesis`` field."""
        if task.group_field or (not task.is_regression and "hypothesis" in task.text_keys):
            return None
        return (f"worst-group accuracy needs groups: task {task.name} has no group_field (add one to "
                f"{task.source}) and no hypothesis field for the negation groups")

    def plan(self, suite, ctx: RunContext) -> list[Cell]:
        """Cells for the given checkpoints and trained ones (GroupDRO sees the groups through ``extra``);
        each carries the words and interval settings."""
        params = self.params(suite)
        words = self.words(suite)
        cells = plan_grid(suite, ctx, eval_sets=lambda t: self.eval_sets(suite, t), params=params,
                          fits=self.task_problem,
                          train_data=lambda task, cond, seed, settings: TrainData(recipe={"kind": "groups",
                                                                                          "words": list(words)}),
                          nothing=f"suite {suite.name}: nothing to run: give --checkpoint mnli/erm=PATH "
                                  f"--checkpoint mnli/groupdro=PATH, or methods to train (--methods vanilla)")
        settings = {"words": list(words), "interval": self.interval(suite),
                    "max_eval_examples": params.max_eval_examples}
        for cell in cells:
            cell.params.update(settings)
        return cells

    def examples(self, cell: Cell, ctx: RunContext):
        """The dev examples ``evaluate`` scores (first-N slice included), so plan-time checks measure the same."""
        examples = super().examples(cell, ctx)
        limit = cell.params.get("max_eval_examples")
        return examples.subset(np.arange(min(int(limit), len(examples)))) if limit else examples

    @staticmethod
    def groups(task, examples, words) -> tuple[np.ndarray, list[str]]:
        """(group id per example, group names): the values of the task's ``group_field`` (in sorted order),
        else label × negation word in the hypothesis (Sagawa et al.)."""
        if task.group_field:
            values = examples.extra["group"]
            names = sorted(set(values))
            index = {name: i for i, name in enumerate(names)}
            return np.asarray([index[v] for v in values], dtype=np.int64), names
        return assign_negation_groups(examples, words), group_names(task.label_names)

    def evaluate(self, cell: Cell, ctx: RunContext) -> CellResult:
        words = tuple(cell.params.get("words") or NEGATION_WORDS)
        task = get_task(cell.task)
        examples = self.examples(cell, ctx)  # dev set, cut to params.max_eval_examples / --limit if asked
        groups, names = self.groups(task, examples, words)
        result = score_examples(cell, examples)
        labels = np.asarray(result.labels)
        correct = np.asarray(result.predictions) == labels
        interval = dict(cell.params.get("interval") or {"method": DEFAULT_INTERVAL, "level": 0.95})
        metrics, rows = group_metrics(correct, groups, names, interval["method"], interval["level"])
        result.metrics = {**metrics, **{k: v for k, v in result.metrics.items() if k not in metrics}}
        result.main_metric = "worst_group_accuracy"
        # the degenerate guard's reference: always predicting the majority label, scored by the same function
        values, counts = np.unique(labels, return_counts=True)
        constant, _ = group_metrics(labels == values[np.argmax(counts)], groups, names, interval["method"])
        result.details.update({"groups": rows, "words": None if task.group_field else list(words),
                               "group_field": task.group_field, "interval": interval,
                               "majority_score": constant["worst_group_accuracy"]})
        return result
