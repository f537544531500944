"""One cell, anywhere: materialise its checkpoint, evaluate, build its record, publish it.

Below the executors (they call :func:`run_cell` in this process, a worker or a SLURM job) and below the
runner (which plans and hands jobs to an executor), so the import graph runs one way:
runner → executors → cellrun → evaluators. A record is published atomically (a job's own copy under
``published/`` first, then merged into ``results.jsonl`` under its lock), so a kill at any moment loses at
most the cells in flight.
"""
from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path
from typing import Optional

from .card import CARD_FILE, read_card
from .checkpoints import HFCheckpoint
from .errors import RBMError
from .evaluators.base import Cell, CellResult, CheckpointRef, Evaluator, RunContext
from .inputs import path_component
from .metrics import DEGENERATE_SHARE, accuracy_stderr, higher_is_better, prediction_guard
from .results import (PUBLISHED_DIR, Record, ResultStore, git_dirty, git_revision, portable_record,
                      now_iso, record_problem, versions)
from .suites import Suite
from .tasks import get_task

log = logging.getLogger(__name__)

QUARANTINE_DIR = "quarantine"  # published copies that could not be merged (kept for the user, never deleted)


def run_cell(suite: Suite, evaluator: Evaluator, cell: Cell, ctx: RunContext, store: ResultStore,
             executor: Optional[dict] = None) -> dict:
    """Materialise the cell's checkpoint, evaluate, and publish its record (the same for every executor)."""
    materialize_checkpoint(cell, ctx)
    start = time.perf_counter()
    result = evaluator.evaluate(cell, ctx)
    seconds = time.perf_counter() - start
    try:
        predictions_file = None
        if ctx.save_predictions and result.predictions is not None:
            for rel, text in result.attachments.items():
                store.save_attachment(rel, text)
            predictions_file = store.save_predictions(cell.slug, result.example_ids, result.predictions, result.labels,
                                                      result.columns)
        record = build_record(suite, evaluator, cell, result, ctx, seconds, predictions_file)
        record["fingerprint"] = cell.fingerprint
        record["executor"] = executor or executor_info("inline")
        store.publish(record, cell.slug)
    except OSError as exc:  # a full disk: say what was kept, so nothing has to be recomputed by hand
        kept = getattr(cell.checkpoint, "path", None)
        where = f"; its checkpoint is kept at {kept} (a rerun reuses it)" if cell.train is not None and kept else ""
        raise RBMError(f"--output {ctx.output}: cannot store the result of {cell.key} ({exc.strerror or exc})"
                       f"{where}; free space and rerun the same command") from None
    warn_if_degenerate(record)
    return record


def executor_info(kind: str, job_id: Optional[str] = None) -> dict:
    return {"kind": kind, "job_id": job_id, "host": socket.gethostname()}


def merge_published(store: ResultStore) -> int:
    """Merge records that jobs published but did not merge (killed after publishing); returns how many.

    A copy is checked like a line of ``results.jsonl`` before it is merged: one that is not a record of this
    run folder (malformed, another folder's, hand-made) is moved to ``quarantine/`` with one warning, never
    merged and never deleted; a copy older than the stored record is quarantined too (it lost to a rerun)."""
    folder = store.dir / PUBLISHED_DIR
    if not folder.is_dir():
        return 0
    merged = 0
    current = {r["key"]: r for r in store.records()}
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            record = None
        except (json.JSONDecodeError, OSError):
            if time.time() - _mtime(path) < 60:
                continue  # a copy being written right now (its job merges it itself)
            record = None
        problem = record_problem(record) if record is not None else "is not JSON"
        if problem is None:
            cell = _cell_of(record)
            if cell.key != record["key"] or path.name != path_component(cell.slug) + ".json":
                problem = "does not match its key or file name (not published by a job of this run folder)"
        if problem:
            _quarantine(store, path, problem)
            continue
        old = current.get(record["key"])
        if old is None or (str(old.get("date") or "")) <= str(record.get("date") or ""):
            if old != record:
                store.put(record)
                current[record["key"]] = record
                merged += 1
            path.unlink(missing_ok=True)
        else:
            _quarantine(store, path, f"is older than the stored record of {record['key']}")
    return merged


def _cell_of(record: dict) -> Cell:
    return Cell(record["suite"], record["model"], record["task"], record["eval_set"], record["condition"],
                record.get("seed"))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _quarantine(store: ResultStore, path: Path, problem: str) -> None:
    target = store.dir / QUARANTINE_DIR / path.name
    n = 1
    while target.exists():
        n += 1
        target = store.dir / QUARANTINE_DIR / f"{path.stem}.{n}{path.suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    path.rename(target)
    log.warning("%s %s; not merged into %s, moved to %s", path, problem, store.path.name, target)


def materialize_checkpoint(cell: Cell, ctx: RunContext) -> None:
    """Give the cell a checkpoint: verify an external one, reuse a trained one, or train it now."""
    request = cell.train
    if cell.checkpoint is None and cell.checkpoint_ref is not None:  # a cell read from its spec
        cell.checkpoint = ctx.open(cell.checkpoint_ref)
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
    if not reusable(output, request.config, examples):
        from .training import train

        if output.exists():  # our own run folder, trained with other settings: replace it
            log.info("%s was trained with other settings or data; retraining", output)
            request.config.overwrite = True
        log.info("training %s on %s (seed %s) into %s", request.config.method, request.config.task,
                 request.config.seed, output)
        train(request.config, train_examples=examples)
    cell.checkpoint = ctx.open(CheckpointRef(cell.model, str(output), cell.task, cell.condition, cell.seed))


def reusable(output: Path, config, examples) -> bool:
    """A checkpoint trained earlier in this run folder with the same method, seed and data."""
    if not (output / CARD_FILE).is_file():
        return False
    try:
        card = read_card(output)
    except RBMError:
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


def resolved_run(ctx: RunContext) -> dict:
    """What the run really used (``auto`` resolved: cuda:0/cpu, bf16/fp32) beside what was asked for."""
    try:
        from .inference import resolve_device, resolve_precision

        device = resolve_device(ctx.device)
        return {"device": str(device), "precision": resolve_precision(device, ctx.precision),
                "requested": {"device": ctx.device, "precision": ctx.precision}}
    except RBMError:
        return {"device": ctx.device, "precision": ctx.precision}


def _attack_epochs(card: dict) -> dict:
    """adv-train's attack epochs in brief (recipe; per epoch rows attacked, successful, added) for the record."""
    adv = card["adversarial_training"]
    keep = ("epoch", "attacked", "successful", "failed", "skipped", "added")
    return {"recipe": adv.get("recipe"), "epochs": [{k: e.get(k) for k in keep} for e in adv.get("epochs") or []]}


def build_record(suite: Suite, evaluator: Evaluator, cell: Cell, result: CellResult, ctx: RunContext,
                 seconds: float, predictions_file: Optional[tuple[str, str]]) -> dict:
    stderr = {}
    for name in ("accuracy",):
        if name in result.metrics and result.n_examples:
            stderr[name] = accuracy_stderr(result.metrics[name], result.n_examples)
    checkpoint = cell.checkpoint.describe() if cell.checkpoint is not None else {}
    card = cell.checkpoint.card if isinstance(cell.checkpoint, HFCheckpoint) else {}
    # the degenerate-model guard, from the cell's own predictions, so every evaluator and checkpoint kind
    # gets it; an evaluator that knows better (group metrics) may have set majority_score already
    labels, predictions, main = result.guard or (result.labels, result.predictions, result.main_metric)
    guard = prediction_guard(get_task(cell.task), labels, predictions, main)
    details = {**guard.details(), **result.details}
    task = get_task(cell.task)
    record = Record(
        key=cell.key, suite=suite.name, suite_version=suite.version, evaluator=suite.evaluator,
        layout=evaluator.layout, model=cell.model, task=cell.task, eval_set=cell.eval_set, condition=cell.condition,
        seed=cell.seed, metrics=result.metrics, stderr=stderr, main_metric=result.main_metric,
        higher_is_better={m: higher_is_better(m) for m in result.metrics}, degenerate=guard.degenerate,
        n_examples=result.n_examples, data={"source": result.data_source, "sha256": result.data_sha256},
        checkpoint={**checkpoint, "train_data_sha256": card.get("train_data_sha256"),
                    "train_condition": card.get("condition"), "hyperparameters": card.get("hyperparameters"),
                    **{k: card[k] for k in ("seen_in_training", "augmentation") if card.get(k)},
                    **({"adversarial_training": _attack_epochs(card)} if card.get("adversarial_training") else {})},
        details=details,
        config={**resolved_run(ctx), "batch_size": ctx.batch_size, "max_length": ctx.max_length,
                "data_dir": ctx.data_dir, "params": suite.params, "task_file": task.source,
                "task_sha256": task.sha256},
        timing={"seconds": round(seconds, 3),
                "examples_per_s": round(result.n_examples / seconds, 2) if seconds > 0 else None},
        predictions_file=predictions_file[0] if predictions_file else None,
        predictions_sha256=predictions_file[1] if predictions_file else None,
        versions=versions(), git=git_revision(), git_dirty=git_dirty(), date=now_iso(),
    ).to_dict()
    return portable_record(record, ctx.output)  # no path of this machine in a record (results travel)
