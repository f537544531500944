"""Scoring a cell's checkpoint on examples with the task's GLUE metrics: the one step every suite shares.

A layer below the evaluators, so that they sit side by side and none imports another."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..data import Examples
from ..metrics import compute_metrics
from .base import Cell, CellResult


def score_examples(cell: Cell, examples: Examples, details: Optional[dict] = None) -> CellResult:
    """Predict ``examples`` with the cell's checkpoint and compute the task's GLUE metrics."""
    task = examples.task
    predictions = cell.checkpoint.predict(examples, cell.eval_ref)
    metrics = compute_metrics(task.metrics, examples.labels, predictions)
    return CellResult(metrics=metrics, main_metric=task.main_metric, n_examples=len(examples),
                      data_source=examples.source, data_sha256=examples.sha256,
                      predictions=np.asarray(predictions), example_ids=examples.idx, labels=examples.labels,
                      details=details or {})
