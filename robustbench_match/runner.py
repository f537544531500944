"""Run a suite: plan cells, skip stored ones, make missing checkpoints, evaluate, store.

Resumption is per cell: a record is written (atomically) only after its cell finished, and
predictions before the record, so a kill at any moment loses at most the cell in flight.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Optional

from .checkpoints import CARD_FILE, HFCheckpoint
from .errors import RBMError
from .evaluators import EVALUATORS, Cell, CellResult, CheckpointRef, Evaluator, RunContext
from .metrics import DEGENERATE_SHARE, accuracy_stderr, higher_is_better, prediction_guard
from .results import SCHEMA_VERSION, ResultStore, git_revision, now_iso, versions
from .suites import Suite
from .tasks import get_task

log = logging.getLogger(__name__)


def run_suite(suite: Suite, ctx: RunContext) -> list[dict]:
    """Evaluate every cell of ``suite`` not yet in ``ctx.output``; returns the suite's records."""
    evaluator: Evaluator = EVALUATORS.get(suite.evaluator)()
    store = ResultStore(ctx.output)
    cells = evaluator.plan(suite, ctx)
    _check_unique(cells)
    done = store.keys()
    todo = [c for c in cells if ctx.force or c.key not in done]
    evaluator.check(todo, ctx)  # counts, labels, tasks of every cell: stop before the first cell, or never
    log.info("suite %s: %d cells, %d already stored, %d to run (results: %s)",
             suite.name, len(cells), len(cells) - len(todo), len(todo), store.path)
    for i, cell in enumerate(todo, 1):
        log.info("[%d/%d] %s", i, len(todo), cell.key)
        materialize_checkpoint(cell, ctx)
        start = time.perf_counter()
        result = evaluator.evaluate(cell, ctx)
        seconds = time.perf_counter() - start
        predictions_file = None
        if ctx.save_predictions and result.predictions is not None:
            predictions_file = store.save_predictions(cell.slug, result.example_ids, result.predictions, result.labels)
        record = build_record(suite, evaluator, cell, result, ctx, seconds, predictions_file)
        store.put(record)
        warn_if_degenerate(record)
    keys = {c.key for c in cells}
    return [r for r in store.records() if r["key"] in keys]


def _check_unique(cells: list[Cell]) -> None:
    seen: dict[str, Cell] = {}
    for cell in cells:
        if cell.key in seen:
            raise RBMError(f"two checkpoints map to the same cell {cell.key} (give them different names "
                           f"or seeds, e.g. seed-2/{cell.model}=PATH)")
        seen[cell.key] = cell


def materialize_checkpoint(cell: Cell, ctx: RunContext) -> None:
    """Give the cell a checkpoint: verify an external one, reuse a trained one, or train it now."""
    request = cell.train
    if cell.checkpoint is not None:
        if request is not None and request.expected_sha256 and isinstance(cell.checkpoint, HFCheckpoint):
            got = cell.checkpoint.card.get("train_data_sha256")
            if got != request.expected_sha256:
                raise RBMError(f"checkpoint {cell.checkpoint.path}: {CARD_FILE} train_data_sha256 is {got}, "
                               f"cell {cell.key} expects {request.expected_sha256} (was it trained on this "
                               f"condition's data? see `rbm data export`)")
        return
    if request is None:
        raise RBMError(f"cell {cell.key}: no checkpoint given and the suite cannot train one")
    examples = request.train_examples() if request.train_examples else None
    output = Path(request.config.output)
    if not _reusable(output, request.config, examples):
        from .training import train

        if output.exists():  # our own run folder, trained with other settings: replace it
            log.info("%s was trained with other settings or data; retraining", output)
            request.config.overwrite = True
        log.info("training %s on %s (seed %s) into %s", request.config.method, request.config.task,
                 request.config.seed, output)
        train(request.config, train_examples=examples)
    cell.checkpoint = ctx.open(CheckpointRef(cell.model, str(output), cell.task, cell.condition, cell.seed))


def _reusable(output: Path, config, examples) -> bool:
    """A checkpoint trained earlier in this run folder with the same method, seed and data."""
    card_path = output / CARD_FILE
    if not card_path.is_file():
        return False
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError:
        return False
    same = card.get("method") == config.method and card.get("seed") == config.seed and card.get("task") == config.task
    stored = card.get("hyperparameters") or {}
    wanted = {**config.trainer_hyperparameters(), **(config.method_args or {})}
    wanted.pop("precision", None)  # the card stores the resolved precision ("auto" → fp32/bf16)
    same = same and all(stored.get(k) == v for k, v in wanted.items())
    if examples is not None:
        same = same and card.get("train_data_sha256") == examples.sha256
    return same


def warn_if_degenerate(record: dict) -> None:
    """One WARNING line per degenerate cell: its scores are those of a constant predictor."""
    if not record.get("degenerate"):
        return
    d = record["details"]
    seed = "-" if record.get("seed") is None else record["seed"]
    where = f"{record['model']} on {record['task']}/{record['eval_set']} ({record['condition']}, seed {seed})"
    if d.get("prediction_share") is None:  # regression: (near-)constant output
        log.warning("degenerate model: %s predicts a (near-)constant score (sd %.2g × the gold sd)",
                    where, d.get("prediction_sd_ratio") or 0.0)
        return
    majority = d.get("majority_score")
    log.warning("degenerate model: %s predicts %r for %.1f %% of %d examples (>= %.0f %%); always predicting the "
                "majority class %r scores %s %s", where, d.get("predicted_class"), 100 * d["prediction_share"],
                record.get("n_examples") or 0, 100 * DEGENERATE_SHARE, d.get("majority_class"),
                record.get("main_metric"), "n/a" if majority is None else f"{majority:.4f}")


def build_record(suite: Suite, evaluator: Evaluator, cell: Cell, result: CellResult, ctx: RunContext,
                 seconds: float, predictions_file: Optional[Path]) -> dict:
    stderr = {}
    for name in ("accuracy",):
        if name in result.metrics and result.n_examples:
            stderr[name] = accuracy_stderr(result.metrics[name], result.n_examples)
    checkpoint = cell.checkpoint.describe() if cell.checkpoint is not None else {}
    card = cell.checkpoint.card if isinstance(cell.checkpoint, HFCheckpoint) else {}
    # the degenerate-model guard, from the cell's own predictions, so every evaluator and checkpoint kind
    # gets it; an evaluator that knows better (group metrics) may have set majority_score already
    guard = prediction_guard(get_task(cell.task), result.labels, result.predictions, result.main_metric)
    details = {**guard.details(), **result.details}
    return {
        "schema": SCHEMA_VERSION,
        "key": cell.key,
        "suite": suite.name,
        "suite_version": suite.version,
        "evaluator": suite.evaluator,
        "layout": evaluator.layout,
        "model": cell.model,
        "task": cell.task,
        "eval_set": cell.eval_set,
        "condition": cell.condition,
        "seed": cell.seed,
        "metrics": result.metrics,
        "stderr": stderr,
        "main_metric": result.main_metric,
        "higher_is_better": {m: higher_is_better(m) for m in result.metrics},
        "degenerate": guard.degenerate,
        "n_examples": result.n_examples,
        "data": {"source": result.data_source, "sha256": result.data_sha256},
        "checkpoint": {**checkpoint, "train_data_sha256": card.get("train_data_sha256"),
                       "train_condition": card.get("condition"), "hyperparameters": card.get("hyperparameters")},
        "details": details,
        "config": {"device": ctx.device, "precision": ctx.precision, "batch_size": ctx.batch_size,
                   "max_length": ctx.max_length, "data_dir": ctx.data_dir, "params": suite.params},
        "timing": {"seconds": round(seconds, 3),
                   "examples_per_s": round(result.n_examples / seconds, 2) if seconds > 0 else None},
        "predictions_file": str(predictions_file) if predictions_file else None,
        "versions": versions(),
        "git": git_revision(),
        "date": now_iso(),
    }
