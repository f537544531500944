"""Run a suite: plan its cells, fingerprint them, skip stored ones, and hand the rest to an executor.

Resumption is per cell: a record is published (atomically) only after its cell finished, and
predictions before the record, so a kill at any moment loses at most the cells in flight. A stored
record is reused only when its fingerprint (checkpoint content or training request, eval data,
evaluator params; see ``cells``) matches the planned cell's; otherwise it is redone, with a line why.

Running one cell (checkpoint, evaluation, record, publishing) lives below the executors, in ``cellrun``
; this module plans and hands jobs to an executor, so imports run one way.

Cells that share a checkpoint form one *job* (trained or loaded once, then evaluated in order). The
executor decides where jobs run: ``inline`` in this process (as always), ``local`` in a pool of worker
processes, ``slurm`` as SLURM jobs via submitit. Every job publishes its own records; ``results.jsonl``
is the merged view.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .card import read_card
from .cellrun import merge_published, reusable
from .cells import fingerprint, stale_reason
from .errors import DataError, RBMError
from .evaluators import EVALUATORS
from .evaluators.base import Cell, Evaluator, RunContext
from .inputs import path_component
from .results import atomic_write_text, dumps, now_iso
from .suites import Suite
from .tasks import get_task

log = logging.getLogger(__name__)


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
    return not reusable(Path(request.config.output), request.config, None)


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
    records = store.compact_if_worthwhile()  # the store read once: for compaction and for the result
    keys = {p.cell.key for p in plan.cells}
    return SuiteRun([r for r in records if r["key"] in keys], failed)


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


def _check_unique(cells: list[Cell]) -> None:
    seen: dict[str, Cell] = {}
    for cell in cells:
        if cell.key in seen:
            raise RBMError(f"two checkpoints map to the same cell {cell.key} (give them different names "
                           f"or seeds, e.g. seed-2/{cell.model}=PATH)")
        seen[cell.key] = cell


