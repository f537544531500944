"""Suites whose condition lives in the training data: label noise (Table 3) and minority class (Table 5).

A cell is (method, task, condition, seed): the runner trains ``method`` with ``seed`` on the task's
training set perturbed by (condition, seed) and the evaluator scores it on the *clean* dev set. The
clean condition is planned too, because the paper reports each method's drop from its own clean score.
External checkpoints map to cells by name (``rte/noise-10/seed-1/mine=PATH``) and must carry the
cell's ``train_data_sha256`` on their card (see ``rbm data export``).
"""
from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from ...conditions.base import (CONDITIONS, Perturbed, condition_name, parse_condition, parse_ratio,
                               perturbed_training_set)
from ...data import load_train
from ...errors import DataError, RBMError
from ...metrics import MINORITY_LABEL, minority_accuracy
from ...tasks import get_task
from ..base import Cell, CellResult, CheckpointRef, Evaluator, RunContext, TrainRequest
from .params import TrainingConditionParams
from ..planning import TrainData, checkpoint_seed, methods_and_seeds, plan_grid, tasks_of_checkpoint
from ..scoring import score_examples

log = logging.getLogger(__name__)


class TrainingConditionEvaluator(Evaluator):
    """Plans the (task × condition × method × seed) grid and scores each checkpoint on clean dev data."""

    kind: str = ""  # registry name in robustbench_match.conditions
    default_ratios: tuple[float, ...] = ()
    params_class = TrainingConditionParams

    # ------------------------------------------------------------------ planning
    def conditions(self, suite) -> list[str]:
        params = self.params(suite)
        ratios = [parse_ratio(r) for r in (params.ratios if params.ratios is not None else self.default_ratios)]
        names = [condition_name(self.kind, r) for r in ratios if r > 0]
        if params.include_clean:
            names.insert(0, "clean")
        return names

    def task_problem(self, task) -> Optional[str]:
        if task.is_regression:
            return f"{self.kind} needs a classification task ({task.name} is a regression task)"
        return None

    def plan(self, suite, ctx: RunContext) -> list[Cell]:
        params = self.params(suite)
        conditions = self.conditions(suite)
        _, _, settings = methods_and_seeds(suite, ctx, params)
        pool = settings.get("max_train_examples")
        # data_seed None: each training seed draws its own perturbation
        sets = _PerturbedSets(self.kind, ctx.data_dir, pool, params.data_seed)

        def train_data(task: str, cond: str, seed: int, _settings: dict) -> Optional[TrainData]:
            pert = sets.get(task, cond, seed)
            if pert is None:
                return None
            recipe = {"kind": "perturbed", "condition_kind": self.kind, "ratio": pert.ratio,
                      "seed": int(sets.data_seed if sets.data_seed is not None else seed), "pool": pool}
            return TrainData(recipe=recipe, sha256=pert.sha256, info=pert_info(pert, pool),
                             build=lambda: sets.get(task, cond, seed).examples)

        cells = plan_grid(suite, ctx, conditions=conditions, train_data=train_data, trains_by_default=True,
                          fits=self.task_problem,
                          external=lambda tasks: self._external_cells(suite, tasks, conditions, ctx, sets),
                          params=params)
        for task, reason in sets.missing_tasks().items():
            log.warning("suite %s: %s; skipping its trained cells (give --checkpoint %s/CONDITION/seed-N/MODEL=PATH)",
                        suite.name, reason, task)
        return cells

    def _external_cells(self, suite, tasks, conditions, ctx: RunContext, sets: "_PerturbedSets") -> list[Cell]:
        cells = []
        for ref in ctx.checkpoints:
            for task in [t for t in tasks_of_checkpoint(ref, ctx) if t in tasks]:
                cond = self._condition_of(ref, ctx)
                if cond not in conditions:
                    log.warning("checkpoint %s: condition %s is not in suite %s (%s); skipped",
                                ref.path, cond, suite.name, ", ".join(conditions))
                    continue
                seed = checkpoint_seed(ref, ctx)
                if seed is None:
                    raise RBMError(f"checkpoint {ref.model} ({ref.path}): no seed on its name or card; the perturbed "
                                   f"data depends on it (name it {task}/{cond}/seed-N/{ref.model}=PATH)")
                pert = sets.get(task, cond, seed)
                expected = pert.sha256 if pert is not None else None
                if expected is None:
                    log.warning("checkpoint %s: no %s training data here, so its data hash cannot be checked",
                                ref.path, task)
                info = pert_info(pert, sets.pool) if pert is not None else {"condition": cond, "seed": seed}
                cells.append(Cell(suite.name, ref.model, task, task, cond, seed, ctx.open(ref), ref,
                                  TrainRequest(config=None, expected_sha256=expected), params={"condition": info}))
        return cells

    def _condition_of(self, ref: CheckpointRef, ctx: RunContext) -> str:
        if ref.condition:
            kind, ratio = parse_condition(ref.condition)
            if kind not in ("clean", CONDITIONS.canonical(self.kind)):
                raise RBMError(f"checkpoint {ref.model}: condition {ref.condition!r} is not a {self.kind} condition")
            return condition_name(self.kind, ratio) if ratio else "clean"
        card_condition = (getattr(ctx.open(ref), "card", {}) or {}).get("condition") or {}
        if isinstance(card_condition, dict) and card_condition.get("condition"):
            return str(card_condition["condition"])
        raise RBMError(f"checkpoint {ref.model} ({ref.path}): which condition was it trained on? name it "
                       f"TASK/CONDITION/seed-N/{ref.model}=PATH (e.g. rte/{condition_name(self.kind, 0.1)}/seed-1/"
                       f"{ref.model}) or clean")

    # ------------------------------------------------------------------ scoring
    def evaluate(self, cell: Cell, ctx: RunContext) -> CellResult:
        examples = self.examples(cell, ctx)  # the task's GLUE dev set (a --limit sample of it, if asked)
        result = score_examples(cell, examples, details={"train_condition": cell.params.get("condition")})
        return self.finish(result)

    def finish(self, result: CellResult) -> CellResult:
        return result


def pert_info(pert: Perturbed, pool: Optional[int]) -> dict:
    """What a result and a checkpoint card record about the training data of a cell."""
    return {"name": pert.kind, "condition": pert.condition, "ratio": pert.ratio, "seed": pert.seed,
            "n_train": len(pert.examples), "n_changed": int(len(pert.changed)), "max_train_examples": pool,
            "train_data_sha256": pert.sha256}


class _PerturbedSets:
    """Perturbed training sets of one plan, built once per (task, condition, seed) and cached.

    A task whose training split is missing (QQP, QNLI, MNLI locally) is remembered with the reason,
    never replaced by another split."""

    def __init__(self, kind: str, data_dir: Optional[str], pool: Optional[int], data_seed: Optional[int]) -> None:
        self.kind, self.data_dir, self.pool, self.data_seed = kind, data_dir, pool, data_seed
        self._train: dict[str, object] = {}
        self._sets: dict[tuple[str, str, int], Perturbed] = {}
        self._missing: dict[str, str] = {}

    def get(self, task: str, condition: str, seed: int) -> Optional[Perturbed]:
        if task in self._missing:
            return None
        if task not in self._train:
            try:
                self._train[task] = load_train(task, self.data_dir)
            except DataError as exc:
                self._missing[task] = f"no {get_task(task).display} train data ({exc})"
                return None
        seed_used = int(self.data_seed if self.data_seed is not None else seed)
        key = (task, condition, seed_used)
        if key not in self._sets:
            _, ratio = parse_condition(condition)
            self._sets[key] = perturbed_training_set(self.kind, self._train[task], ratio, seed_used, self.pool)
        return self._sets[key]

    def missing_tasks(self) -> dict[str, str]:
        return dict(self._missing)


class LabelNoiseEvaluator(TrainingConditionEvaluator):
    """Table 3: train on labels flipped at 5/10/15 %, score the task's metric on clean dev."""

    kind = "label-noise"
    layout = "label-noise"
    default_ratios = (0.05, 0.10, 0.15)


class MinorityEvaluator(TrainingConditionEvaluator):
    """Table 5: keep 30/40/50 % of the label-1 training rows; score accuracy on dev rows labelled 1."""

    kind = "minority"
    layout = "minority"
    default_ratios = (0.30, 0.40, 0.50)

    def finish(self, result: CellResult) -> CellResult:
        labels, preds = np.asarray(result.labels), np.asarray(result.predictions)
        minority = minority_accuracy(labels, preds)  # the one definition (metrics), as the guard scores it
        result.metrics = {"minority_accuracy": minority, "accuracy": float((preds == labels).mean()),
                          **{k: v for k, v in result.metrics.items() if k != "accuracy"}}
        result.main_metric = "minority_accuracy"
        result.details["n_minority_dev"] = int((labels == MINORITY_LABEL).sum())
        return result
