"""The ``textattack`` suite: TextAttack recipes × tasks × checkpoints, resumable per example.

Every checkpoint of a task is attacked on the same seeded sample of dev examples, so their numbers
compare. Each attacked example is appended to the cell's CSV log at once (see ``log``); the cell's
metrics are always computed from the full log, so a killed run resumes at the next unattacked
example and reports what an uninterrupted run would.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ...checkpoints import HFCheckpoint
from ...data import Examples, load_split
from ...errors import RBMError
from ..base import Cell, CellResult, Evaluator, RunContext
from .params import TextAttackParams
from ..planning import plan_grid, suite_tasks
from ...progress import Progress
from ...tasks import get_task
from ...attacks.environment import configure_nltk, import_textattack
from ...attacks.log import AttackLog
from ...attacks.metrics import LOG_FIELDS, attack_metrics
from ...attacks.single import attack_example, attack_input, sample_positions  # noqa: F401 - attack_input: API
from ...attacks.recipes import build_attack, get_recipe, parse_recipes, require_resources
from ...attacks.wrapper import fast_wrapper

log = logging.getLogger(__name__)

LOG_NAME = "attack_log.csv"
META_NAME = "attack_meta.json"


@dataclass(frozen=True)
class AttackSettings:
    """What an attack cell runs with: suite ``params`` overridden by command-line options."""

    recipes: tuple[str, ...] = ("deepwordbug",)
    num_examples: int = 100
    query_budget: Optional[int] = None
    sample_seed: int = 0
    model_batch_size: int = 128

    @classmethod
    def resolve(cls, params: dict, options: dict) -> "AttackSettings":
        def pick(option: str, param: str, default: Any) -> Any:
            value = options.get(option)
            return value if value is not None else params.get(param, default)

        recipes = parse_recipes(pick("recipe", "recipes", list(cls.recipes)))
        settings = cls(tuple(recipes), int(pick("num_examples", "num_examples", cls.num_examples)),
                       pick("query_budget", "query_budget", None), int(params.get("sample_seed", cls.sample_seed)),
                       int(params.get("model_batch_size", cls.model_batch_size)))
        if not settings.recipes:
            raise RBMError("textattack: no recipe given (--recipe deepwordbug,pwws; see `rbm resources`)")
        if settings.num_examples < 1:
            raise RBMError(f"--num-examples {settings.num_examples}: must be at least 1")
        if settings.query_budget is not None and int(settings.query_budget) < 1:
            raise RBMError(f"--query-budget {settings.query_budget}: must be at least 1")
        return settings

    def cell_params(self, recipe: str) -> dict:
        return {"recipe": recipe, "num_examples": self.num_examples, "query_budget": self.query_budget,
                "sample_seed": self.sample_seed, "model_batch_size": self.model_batch_size}


def attack_condition(condition: str, recipe: str) -> str:
    return f"attack:{recipe}" if condition in ("", "clean") else f"{condition}+attack:{recipe}"


class TextAttackEvaluator(Evaluator):
    layout = "attack"
    params_class = TextAttackParams

    def task_problem(self, task) -> Optional[str]:
        if task.is_regression:
            return f"TextAttack's recipes attack classifiers ({task.name} is a regression task)"
        return None

    def plan(self, suite, ctx: RunContext) -> list[Cell]:
        settings = AttackSettings.resolve(suite.params, ctx.options)
        configure_nltk(ctx.data_dir)
        for recipe in settings.recipes:  # a missing resource stops the run before any cell starts
            require_resources(get_recipe(recipe))
        tasks = [t for t in suite_tasks(suite.tasks, ctx, self.task_problem) if not get_task(t).is_regression]
        sub = replace(suite, tasks=tasks) if tasks else suite
        if ctx.tasks:
            ctx = replace(ctx, tasks=[t for t in ctx.tasks if t in tasks])
        base = plan_grid(sub, ctx, params=self.params(suite), fits=self.task_problem,
                         nothing=f"suite {suite.name}: give checkpoints to attack (--checkpoint TASK/NAME=PATH)")
        return [replace(cell, condition=attack_condition(cell.condition, recipe), params=settings.cell_params(recipe))
                for cell in base for recipe in settings.recipes]

    def evaluate(self, cell: Cell, ctx: RunContext) -> CellResult:
        params = cell.params
        task = get_task(cell.task)
        examples = load_split(task, task.eval_splits()[cell.eval_set], ctx.data_dir)
        positions = sample_positions(len(examples), int(params["num_examples"]), int(params["sample_seed"]))
        sample = examples.subset(positions)
        folder = ctx.cell_dir(cell)
        attack_log = AttackLog(folder / LOG_NAME, LOG_FIELDS)
        meta = self._meta(cell, sample)
        _reset_if_stale(attack_log, folder / META_NAME, meta, ctx.force)
        done = {int(r["position"]) for r in attack_log.rows()}
        todo = [p for p in range(len(sample)) if p not in done]
        label_how = _model_checkpoint(cell).label_map(task)[1]
        if todo:
            self._attack(cell, ctx, sample, todo, attack_log)
        rows = sorted((r for r in attack_log.rows() if int(r["position"]) < len(sample)), key=lambda r: int(r["position"]))
        if len(rows) != len(sample):
            raise RBMError(f"cell {cell.key}: attack log {attack_log.path} has {len(rows)} of {len(sample)} examples")
        return self._result(cell, sample, rows, attack_log.path, label_how)

    @staticmethod
    def _meta(cell: Cell, sample: Examples) -> dict:
        checkpoint = cell.checkpoint
        return {"recipe": cell.params["recipe"], "query_budget": cell.params["query_budget"],
                "sample_seed": cell.params["sample_seed"], "checkpoint": getattr(checkpoint, "path", None),
                "max_length": _max_length(checkpoint) if isinstance(checkpoint, HFCheckpoint) else None,
                "task": cell.task, "eval_set": cell.eval_set, "sample_sha256": sample.sha256}

    def _attack(self, cell: Cell, ctx: RunContext, sample: Examples, todo: list[int], attack_log: AttackLog) -> None:
        """Attack the positions in ``todo`` and append each result to the log as it finishes."""
        import_textattack(ctx.data_dir)
        checkpoint = _model_checkpoint(cell)
        model, tokenizer = checkpoint.load()
        label_map, _ = checkpoint.label_map(sample.task)
        wrapper = fast_wrapper(model, tokenizer, label_map=label_map, batch_size=checkpoint.batch_size_for(sample),
                               max_length=_max_length(checkpoint), device=checkpoint.device, precision=checkpoint.precision)
        params = cell.params
        attack = build_attack(params["recipe"], wrapper, query_budget=params["query_budget"],
                              model_batch_size=params["model_batch_size"], data_dir=ctx.data_dir)
        log.info("%s: attacking %d of %d examples with %s", cell.key, len(todo), len(sample), params["recipe"])
        counts: dict[str, int] = {}
        with Progress(len(todo), f"{cell.key}: {params['recipe']}", unit="example", logger=log) as progress:
            for position in todo:
                row = attack_example(attack, sample, position, int(params["sample_seed"]))
                attack_log.append(row)
                counts[row["result"]] = counts.get(row["result"], 0) + 1
                progress.update(extra=", ".join(f"{k} {v}" for k, v in sorted(counts.items())), **counts)

    @staticmethod
    def _result(cell: Cell, sample: Examples, rows: list[dict], log_path: Path, label_how: Optional[str]) -> CellResult:
        metrics = attack_metrics(rows)
        perturbed = np.asarray([int(r["perturbed_output"]) for r in rows], dtype=np.int64)
        return CellResult(
            metrics=metrics, main_metric="accuracy_under_attack", n_examples=len(rows),
            data_source=sample.source, data_sha256=sample.sha256, predictions=perturbed,
            example_ids=np.asarray(sample.idx), labels=np.asarray(sample.labels),
            details={**{k: cell.params[k] for k in ("recipe", "query_budget", "sample_seed", "num_examples",
                                                    "model_batch_size")},
                     "sample_indices": [int(i) for i in sample.idx], "log": str(log_path),
                     "label_mapping": label_how, "attack_seconds": round(sum(float(r["seconds"]) for r in rows), 3),
                     "textattack_version": _textattack_version()})


def _model_checkpoint(cell: Cell) -> HFCheckpoint:
    if not isinstance(cell.checkpoint, HFCheckpoint):
        raise RBMError(f"checkpoint {cell.model}: textattack needs a model (a Hugging Face folder or hub id), "
                       f"not a predictions file")
    return cell.checkpoint


def _max_length(checkpoint: HFCheckpoint) -> int:
    """The same truncation the other suites use for this checkpoint (--max-length, its card, else 128)."""
    return checkpoint.max_length or int(checkpoint.card.get("hyperparameters", {}).get("max_length", 128))


def _textattack_version() -> Optional[str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("textattack")
    except PackageNotFoundError:
        return None


def _reset_if_stale(attack_log: AttackLog, meta_path: Path, meta: dict, force: bool) -> None:
    """Start the log over when forced or when it was written for other settings or data."""
    old = json.loads(meta_path.read_text()) if meta_path.is_file() else None
    if old is not None and old != meta:
        log.warning("attack log %s was written for other settings; starting over", attack_log.path)
    if force or old != meta:
        attack_log.reset()
        tmp = meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
        tmp.replace(meta_path)
