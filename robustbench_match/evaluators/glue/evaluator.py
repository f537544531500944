"""GLUE dev-set evaluation: the clean score every other suite compares against."""
from __future__ import annotations

from ..base import Cell, CellResult, Evaluator, RunContext
from .params import GlueParams
from ..planning import plan_grid
from ..scoring import score_examples

__all__ = ["GlueEvaluator", "score_examples"]


class GlueEvaluator(Evaluator):
    layout = "tasks"
    params_class = GlueParams

    def plan(self, suite, ctx: RunContext) -> list[Cell]:
        return plan_grid(suite, ctx, params=self.params(suite), fits=self.task_problem,
                         nothing=f"suite {suite.name}: give checkpoints to evaluate (--checkpoint NAME=PATH)")

    def evaluate(self, cell: Cell, ctx: RunContext) -> CellResult:
        return score_examples(cell, self.examples(cell, ctx))
