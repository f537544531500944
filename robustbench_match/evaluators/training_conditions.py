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

from ..conditions.base import (CONDITIONS, Perturbed, condition_name, parse_condition, parse_ratio,
                               perturbed_training_set)
from ..conditions.minority import MINORITY_LABEL
from ..data import load_split
from ..errors import DataError, RBMError
from ..tasks import get_task
from .base import Cell, CellResult, CheckpointRef, Evaluator, RunContext, TrainRequest
from .glue import score_examples
from .planning import checkpoint_seed, suite_tasks, tasks_of_checkpoint, train_request, train_settings

log = logging.getLogger(__name__)


def methods_and_seeds(suite, ctx: RunContext) -> tuple[list[str], list[int], dict]:
    """Methods and seeds to train (command line > suite ``params`` > suite ``train``) and trainer settings."""
    methods, seeds, settings = train_settings(suite, ctx)
    if not ctx.methods and suite.params.get("methods"):
        methods = list(suite.params["methods"])
    if not ctx.seeds and suite.params.get("seeds"):
        seeds = [int(s) for s in suite.params["seeds"]]
    return methods, seeds, settings


class TrainingConditionEvaluator(Evaluator):
    """Plans the (task × condition × method × seed) grid and scores each checkpoint on clean dev data."""

    kind: str = ""  # registry name in robustbench_match.conditions
    default_ratios: tuple[float, ...] = ()

    # ------------------------------------------------------------------ planning
    def conditions(self, suite) -> list[str]:
        ratios = [parse_ratio(r) for r in suite.params.get("ratios", self.default_ratios)]
        names = [condition_name(self.kind, r) for r in ratios if r > 0]
        if suite.params.get("include_clean", True):
            names.insert(0, "clean")
        return names

    def plan(self, suite, ctx: RunContext) -> list[Cell]:
        tasks = suite_tasks(suite.tasks, ctx)
        conditions = self.conditions(suite)
        methods, seeds, settings = methods_and_seeds(suite, ctx)
        pool = settings.pop("max_train_examples", None)
        data_seed = suite.params.get("data_seed")  # None: each training seed draws its own perturbation
        sets = _PerturbedSets(self.kind, ctx.data_dir, pool, data_seed)
        external = self._external_cells(suite, tasks, conditions, ctx, sets)
        train_too = bool(ctx.methods) or not ctx.checkpoints
        cells: dict[str, Cell] = {}
        if train_too:
            for task in tasks:
                for cond in conditions:
                    for seed in seeds:
                        pert = sets.get(task, cond, seed)
                        if pert is None:
                            continue
                        for method in methods:
                            cell = self._trained_cell(suite, ctx, settings, task, cond, seed, method, pert, sets, pool)
                            cells[cell.key] = cell
        skipped = sets.missing_tasks()
        for task, reason in skipped.items():
            log.warning("suite %s: %s; skipping its trained cells (give --checkpoint %s/CONDITION/seed-N/MODEL=PATH)",
                        suite.name, reason, task)
        for cell in external:  # an external checkpoint replaces the trained cell with the same key
            cells[cell.key] = cell
        if not cells:
            raise RBMError(f"suite {suite.name}: nothing to run (no training data for {', '.join(tasks)} "
                           f"and no --checkpoint given)")
        return list(cells.values())

    def _trained_cell(self, suite, ctx, settings, task, cond, seed, method, pert: Perturbed,
                      sets: "_PerturbedSets", pool: Optional[int]) -> Cell:
        settings = dict(settings, max_train_examples=pool)
        request = train_request(suite, task, method, seed, ctx, settings, condition=pert_info(pert, pool),
                                train_examples=lambda t=task, c=cond, s=seed: sets.get(t, c, s).examples,
                                tag=cond)
        request.expected_sha256 = pert.sha256
        return Cell(suite.name, method, task, task, cond, seed, train=request,
                    params={"condition": pert_info(pert, pool)})

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
        task = get_task(cell.task)
        examples = load_split(task, task.eval_splits()[cell.eval_set], ctx.data_dir)
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
                self._train[task] = load_split(task, "train", self.data_dir)
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
        target = labels == MINORITY_LABEL
        minority = float((preds[target] == labels[target]).mean()) if target.any() else float("nan")
        result.metrics = {"minority_accuracy": minority, "accuracy": float((preds == labels).mean()),
                          **{k: v for k, v in result.metrics.items() if k != "accuracy"}}
        result.main_metric = "minority_accuracy"
        result.details["n_minority_dev"] = int(target.sum())
        return result
