"""GLUE dev-set evaluation: the clean score every other suite compares against."""
from __future__ import annotations

import numpy as np

from ..data import Examples
from ..errors import RBMError
from ..metrics import compute_metrics
from .base import Cell, CellResult, Evaluator, RunContext
from .planning import cells_for_checkpoints, suite_tasks, trained_cells


def score_examples(cell: Cell, examples: Examples, details: dict | None = None) -> CellResult:
    """Predict ``examples`` with the cell's checkpoint and compute the task's GLUE metrics."""
    task = examples.task
    predictions = cell.checkpoint.predict(examples, cell.eval_ref)
    metrics = compute_metrics(task.metrics, examples.labels, predictions)
    return CellResult(metrics=metrics, main_metric=task.main_metric, n_examples=len(examples),
                      data_source=examples.source, data_sha256=examples.sha256,
                      predictions=np.asarray(predictions), example_ids=examples.idx, labels=examples.labels, details=details or {})


class GlueEvaluator(Evaluator):
    layout = "tasks"

    def plan(self, suite, ctx: RunContext) -> list[Cell]:
        tasks = suite_tasks(suite.tasks, ctx)
        if ctx.checkpoints:
            return cells_for_checkpoints(suite, tasks, ctx)
        if suite.train:
            return trained_cells(suite, tasks, ctx)
        raise RBMError(f"suite {suite.name}: give checkpoints to evaluate (--checkpoint NAME=PATH)")

    def evaluate(self, cell: Cell, ctx: RunContext) -> CellResult:
        return score_examples(cell, self.examples(cell, ctx))

