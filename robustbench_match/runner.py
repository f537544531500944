"""Run a suite: plan its cells, fingerprint them, skip stored ones, and hand the rest to an executor.

Resumption is per cell: a record is published (atomically) only after its cell finished, and
predictions before the record, so a kill at any moment loses at most the cells in flight. A stored
record is reused only when its fingerprint (checkpoint content or training request, eval data,
evaluator params; see ``cells``) matches the planned cell's; otherwise it is redone, with a line why.

Cells that share a checkpoint form one *job* (trained or loaded once, then evaluated in order). The
executor decides where jobs run: ``inline`` in this process (as always), ``local`` in a pool of worker
processes, ``slurm`` as SLURM jobs via submitit. Every job publishes its own records; ``results.jsonl``
is the merged view.
"""
from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .card import CARD_FILE, read_card
from .cells import fingerprint, stale_reason
from .checkpoints import HFCheckpoint
from .errors import DataError, RBMError
from .evaluators import EVALUATORS, Cell, CellResult, CheckpointRef, Evaluator, RunContext
from .inputs import inside, path_component
from .metrics import DEGENERATE_SHARE, accuracy_stderr, higher_is_better, prediction_guard
from .results import (SCHEMA_VERSION, MemoryStore, ResultStore, atomic_write_text, dumps, git_dirty, git_revision, now_iso,
                      record_problem, versions)
from .suites import Suite
from .tasks import get_task

log = logging.getLogger(__name__)

PUBLISHED_DIR = "published"  # records a job has published but not yet merged into results.jsonl
QUARANTINE_DIR = "quarantine"  # published copies that could not be merged (kept for the user, never deleted)


@dataclass
class PlannedCell:
    """One cell of a plan and what the run will do with it."""

    cell: Cell
    status: str  # "stored" (reused), "run" (not stored yet), "redo" (stored, but its fingerprint differs)
    reason: str = ""
    trains: bool = False  # its checkpoint is trained by this run (not found trained in the run folder)


@dataclass
class Job:
    """Cells that share one checkpoint: trained or loaded once, then evaluated in order, in one process."""

    name: str
    cells: list[Cell]
    trains: bool = False


@dataclass
class Plan:
    suite: Suite
    evaluator: Evaluator
    cells: list[PlannedCell]

    @property
    def todo(self) -> list[Cell]:
        return [p.cell for p in self.cells if p.status != "stored"]

    def jobs(self) -> list[Job]:
        trains = {id(p.cell): p.trains for p in self.cells}
        return group_jobs(self.todo, trains)


@dataclass
class SuiteRun:
    """What a run did: the suite's records, and the jobs that failed (their cells are missing)."""

    records: list[dict]
    failed: list = field(default_factory=list)  # executors.JobOutcome


def run_suite(suite: Suite, ctx: RunContext, executor: str = "inline", options=None) -> list[dict]:
    """Evaluate every cell of ``suite`` not yet in ``ctx.output``; returns the suite's records.
    A failed job is one line naming its cells and log (RBMError) after every other job finished."""
    outcome = execute(plan_suite(suite, ctx), ctx, executor, options)
    if outcome.failed:
        raise RBMError(failure_summary(outcome.failed))
    return outcome.records


def plan_suite(suite: Suite, ctx: RunContext) -> Plan:
    """Plan, fingerprint and compare with the store; checks every cell to run before any runs."""
    evaluator: Evaluator = EVALUATORS.get(suite.evaluator)()
    store = ctx.result_store()
    merge_published(store)
    cells = evaluator.plan(suite, ctx)
    _check_unique(cells)
    stored = {r["key"]: r for r in store.records()}
    shas: dict[tuple, str] = {}
    planned = []
    for cell in cells:
        cell.fingerprint = fingerprint(suite, cell, ctx, _eval_sha(evaluator, cell, ctx, shas))
        rec = stored.get(cell.key)
        if rec is None:
            planned.append(PlannedCell(cell, "run"))
        elif ctx.force:
            planned.append(PlannedCell(cell, "redo", "--force"))
        else:
            reason = stale_reason(rec, cell.fingerprint)
            planned.append(PlannedCell(cell, "redo" if reason else "stored", reason or ""))
    for p in planned:
        p.trains = p.status != "stored" and _will_train(p.cell)
        if p.status == "redo" and p.reason != "--force":
            log.info("%s: stored record redone: %s", p.cell.key, p.reason)
    todo = [p.cell for p in planned if p.status != "stored"]
    evaluator.check(todo, ctx)  # counts, labels, tasks of every cell: stop before the first cell, or never
    log.info("suite %s: %d cells, %d already stored, %d to run (results: %s)",
             suite.name, len(cells), len(cells) - len(todo), len(todo), store.path)
    return Plan(suite, evaluator, planned)


def _eval_sha(evaluator: Evaluator, cell: Cell, ctx: RunContext, cache: dict) -> str:
    """The sha256 of the data a cell scores (loaded once per eval set); "unknown" where it cannot be read
    now (the cell's own run then reports why)."""
    key = (cell.task, cell.eval_set, cell.eval_ref, cell.condition if cell.eval_ref is None else "",
           repr(sorted(((k, v) for k, v in cell.params.items() if k != "condition"), key=str)))
    if key not in cache:
        try:
            cache[key] = evaluator.examples(cell, ctx).sha256
        except DataError as exc:
            if get_task(cell.task).data_files is not None:  # a user's own files: a bad file stops the run now
                raise
            log.debug("%s: eval data not readable at plan time (%s)", cell.key, exc)
            cache[key] = "unknown"
    return cache[key]


def _will_train(cell: Cell) -> bool:
    request = cell.train
    if cell.checkpoint is not None or request is None or request.config is None:
        return False
    card = read_card(request.config.output) if Path(request.config.output).is_dir() else {}
    if not card:
        return True
    if request.expected_sha256 and card.get("train_data_sha256") != request.expected_sha256:
        return True
    return not _reusable(Path(request.config.output), request.config, None)


def group_jobs(cells: list[Cell], trains: Optional[dict] = None) -> list[Job]:
    """One job per checkpoint: a training request's output folder, or an external checkpoint's path."""
    jobs: dict[str, Job] = {}
    for cell in cells:
        if cell.checkpoint is None and cell.train is not None and cell.train.config is not None:
            group = "train:" + str(Path(cell.train.config.output).resolve())
            parts = Path(cell.train.config.output).parts[-5:]  # already path components (train_request)
            name = "__".join(parts)
        else:
            path = cell.checkpoint_ref.path if cell.checkpoint_ref else str(getattr(cell.checkpoint, "path", cell.key))
            group = "ckpt:" + path
            name = f"{path_component(cell.suite)}__{path_component(cell.model)}__{_short(path)}"
        name = path_component(name)
        job = jobs.setdefault(group, Job(name, []))
        job.cells.append(cell)
        job.trains = job.trains or bool((trains or {}).get(id(cell)))
    return list(jobs.values())


def _short(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:8]


def execute(plan: Plan, ctx: RunContext, executor: str = "inline", options=None) -> SuiteRun:
    """Run the plan's jobs with an executor; the records of every planned cell that is stored at the end."""
    from .executors import EXECUTORS, ExecutorOptions

    store = ctx.result_store()
    jobs = plan.jobs()
    options = options or ExecutorOptions()
    write_plan_file(plan, ctx)
    failed = []
    if jobs:
        runner = EXECUTORS.get(executor)(options)
        failed = [o for o in runner.run(plan, jobs, ctx) if not o.ok]
    merge_published(store)
    keys = {p.cell.key for p in plan.cells}
    return SuiteRun([r for r in store.records() if r["key"] in keys], failed)


def failure_summary(failed: list) -> str:
    cells = sum(len(o.cells) for o in failed)
    first = failed[0]
    return (f"{len(failed)} job(s) failed ({cells} cell(s) not stored), e.g. {first.name}: {first.error or 'no result'} "
            f"(log {first.log}); rerun the same command to retry only the missing cells")


def write_plan_file(plan: Plan, ctx: RunContext) -> None:
    """``RUN_DIR/jobs/plan.json``: the cells of the latest run, so `rbm status` can list those not yet done."""
    if ctx.store is not None:  # evaluate(output=None): nothing on disk
        return
    rows = [{"key": p.cell.key, "status": p.status, "reason": p.reason, "trains": p.trains} for p in plan.cells]
    atomic_write_text(Path(ctx.output) / "jobs" / "plan.json",
                      dumps({"suite": plan.suite.name, "date": now_iso(), "cells": rows}) + "\n")


# ---------------------------------------------------------------------------- one cell, anywhere
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
            predictions_file = store.save_predictions(cell.slug, result.example_ids, result.predictions, result.labels)
        record = build_record(suite, evaluator, cell, result, ctx, seconds, predictions_file)
        record["fingerprint"] = cell.fingerprint
        record["executor"] = executor or executor_info("inline")
        publish(store, record, cell.slug)
    except OSError as exc:  # a full disk: say what was kept, so nothing has to be recomputed by hand
        kept = getattr(cell.checkpoint, "path", None)
        where = f"; its checkpoint is kept at {kept} (a rerun reuses it)" if cell.train is not None and kept else ""
        raise RBMError(f"--output {ctx.output}: cannot store the result of {cell.key} ({exc.strerror or exc})"
                       f"{where}; free space and rerun the same command") from None
    warn_if_degenerate(record)
    return record


def executor_info(kind: str, job_id: Optional[str] = None) -> dict:
    return {"kind": kind, "job_id": job_id, "host": socket.gethostname()}


def publish(store: ResultStore, record: dict, slug: str) -> None:
    """The job's own atomic copy first (``published/``), then the merge into ``results.jsonl`` under its
    lock; the copy is removed once merged. A job killed in between leaves the copy, merged by the next run.
    The in-memory store of ``evaluate(output=None)`` takes the record directly."""
    if isinstance(store, MemoryStore):
        store.put(record)
        return
    path = inside(store.dir, store.dir / PUBLISHED_DIR / (path_component(slug) + ".json"), "a published record")
    atomic_write_text(path, dumps(record) + "\n")
    store.put(record)
    path.unlink(missing_ok=True)


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
        "config": {**resolved_run(ctx), "batch_size": ctx.batch_size,
                   "max_length": ctx.max_length, "data_dir": ctx.data_dir, "params": suite.params,
                   "task_file": get_task(cell.task).source, "task_sha256": get_task(cell.task).sha256},
        "timing": {"seconds": round(seconds, 3),
                   "examples_per_s": round(result.n_examples / seconds, 2) if seconds > 0 else None},
        "predictions_file": predictions_file[0] if predictions_file else None,  # relative to the run folder
        "predictions_sha256": predictions_file[1] if predictions_file else None,
        "versions": versions(),
        "git": git_revision(),
        "git_dirty": git_dirty(),
        "date": now_iso(),
    }
