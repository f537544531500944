"""MNLI negation groups (Sagawa et al., 2019; paper Table 6): average and worst-group accuracy.

The six groups are label × "the hypothesis contains a negation word" (the word list is the suite's
``params.words``). The smallest groups hold under a hundred dev examples, so every worst-group
accuracy comes with a stratified-bootstrap 95 % interval (seeded, ``params.bootstrap``).
Checkpoints come from the command line (ERM, GroupDRO, each ± Match-Tuning) or are trained by the
runner on MNLI *train* with ``extra["group"]`` set for GroupDRO; without MNLI train data a trained
cell is skipped with one line, never trained on dev data.
"""
from __future__ import annotations

import logging

import numpy as np

from ..conditions.groups import NEGATION_WORDS, assign_negation_groups, group_names, with_groups
from ..data import load_split
from ..errors import RBMError
from ..stats import bootstrap_group_ci, group_accuracies, worst_group
from ..tasks import get_task
from .base import Cell, CellResult, Evaluator, RunContext
from .glue import score_examples
from .advglue import split_available
from .planning import cells_for_checkpoints, suite_tasks, train_request
from .training_conditions import methods_and_seeds

log = logging.getLogger(__name__)


def group_metrics(correct: np.ndarray, groups: np.ndarray, names: list[str], n_boot: int = 1000,
                  seed: int = 0, level: float = 0.95) -> tuple[dict[str, float], list[dict]]:
    """Average, worst-group and per-group accuracy, with bootstrap intervals; (metrics, group rows)."""
    n_groups = len(names)
    acc = group_accuracies(correct, groups, n_groups)
    sizes = np.bincount(groups, minlength=n_groups)
    ci, per_group = bootstrap_group_ci(correct, groups, n_groups, n_boot=n_boot, level=level, seed=seed)
    worst = int(np.nanargmin(acc))
    metrics = {"accuracy": float(np.mean(correct)), "worst_group_accuracy": worst_group(acc),
               "worst_group_ci_low": ci.low, "worst_group_ci_high": ci.high,
               "group_mean_accuracy": float(np.nanmean(acc))}
    rows = [{"id": g, "name": names[g], "size": int(sizes[g]), "accuracy": float(acc[g]),
             "ci_low": float(per_group[g, 0]), "ci_high": float(per_group[g, 1]), "worst": g == worst}
            for g in range(n_groups)]
    metrics.update({f"group_accuracy/{r['name']}": r["accuracy"] for r in rows})
    return metrics, rows


class GroupEvaluator(Evaluator):
    layout = "groups"

    @staticmethod
    def words(suite) -> tuple[str, ...]:
        words = suite.params.get("words", NEGATION_WORDS)
        if not isinstance(words, (list, tuple)) or not words:
            raise RBMError(f"suite {suite.name}: params.words must be a non-empty list of words")
        for w in words:
            if isinstance(w, bool):
                raise RBMError(f"suite {suite.name}: params.words holds {w!r}: YAML reads a bare no/yes as a "
                               f"boolean; quote the words (\"no\")")
            if not isinstance(w, str) or not w.strip():
                raise RBMError(f"suite {suite.name}: params.words holds {w!r} (expected non-empty strings)")
        return tuple(words)

    def eval_sets(self, suite, task: str) -> dict[str, str]:
        splits = get_task(task).eval_splits()
        wanted = suite.params.get("eval_sets", list(splits))
        unknown = [e for e in wanted if e not in splits]
        if unknown:
            raise RBMError(f"suite {suite.name}: params.eval_sets: unknown {unknown} (expected {list(splits)})")
        return {e: splits[e] for e in wanted}

    def plan(self, suite, ctx: RunContext) -> list[Cell]:
        """Cells for the given checkpoints, else trained ones; each carries the words and bootstrap settings."""
        cells = self._cells(suite, ctx)
        settings = {"words": list(self.words(suite)), "bootstrap": dict(suite.params.get("bootstrap") or {}),
                    "max_eval_examples": suite.params.get("max_eval_examples")}
        for cell in cells:
            cell.params.update(settings)
        return cells

    def _cells(self, suite, ctx: RunContext) -> list[Cell]:
        tasks = suite_tasks(suite.tasks, ctx)
        if ctx.checkpoints:
            return cells_for_checkpoints(suite, tasks, ctx, lambda t: self.eval_sets(suite, t))
        cells = []
        methods, seeds, settings = methods_and_seeds(suite, ctx)
        words = self.words(suite)
        for task in tasks:
            missing = split_available(task, "train", ctx.data_dir)
            if missing:
                log.warning("suite %s: %s; skipping trained cells for %s (give --checkpoint %s/NAME=PATH)",
                            suite.name, missing, ", ".join(methods), task)
                continue
            for method in methods:
                for seed in seeds:
                    request = train_request(suite, task, method, seed, ctx, settings,
                                            train_examples=lambda t=task: with_groups(load_split(t, "train", ctx.data_dir), words))
                    for eval_set in self.eval_sets(suite, task):
                        cells.append(Cell(suite.name, method, task, eval_set, "clean", seed, train=request))
        if not cells:
            raise RBMError(f"suite {suite.name}: nothing to run: no MNLI train data to train {', '.join(methods)} "
                           f"and no --checkpoint given (e.g. --checkpoint mnli/erm=PATH --checkpoint mnli/groupdro=PATH)")
        return cells

    def evaluate(self, cell: Cell, ctx: RunContext) -> CellResult:
        words = tuple(cell.params.get("words") or NEGATION_WORDS)
        task = get_task(cell.task)
        examples = load_split(task, task.eval_splits()[cell.eval_set], ctx.data_dir)
        limit = cell.params.get("max_eval_examples")  # a first-N slice, for smoke tests only
        if limit:
            examples = examples.subset(np.arange(min(int(limit), len(examples))))
        groups = assign_negation_groups(examples, words)
        result = score_examples(cell, examples)
        correct = np.asarray(result.predictions) == np.asarray(result.labels)
        boot = dict(cell.params.get("bootstrap") or {})
        metrics, rows = group_metrics(correct, groups, group_names(task.label_names),
                                      n_boot=int(boot.get("n", 1000)), seed=int(boot.get("seed", 0)),
                                      level=float(boot.get("level", 0.95)))
        result.metrics = {**metrics, **{k: v for k, v in result.metrics.items() if k not in metrics}}
        result.main_metric = "worst_group_accuracy"
        result.details.update({"groups": rows, "words": list(words), "bootstrap": {"n": int(boot.get("n", 1000)),
                               "seed": int(boot.get("seed", 0)), "level": float(boot.get("level", 0.95))}})
        return result
