"""Planning helpers shared by evaluators: which checkpoint serves which task, and cells that the
runner must train itself. One place decides this so every suite maps checkpoints the same way."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable, Optional

from ..checkpoints import COLLECTION_LABELS, GLUE_DEV, EvalSetRef, PredictionsFile
from ..errors import RBMError
from ..tasks import get_task
from .base import Cell, CheckpointRef, RunContext, TrainRequest

log = logging.getLogger(__name__)


def suite_tasks(suite_task_names: Iterable[str], ctx: RunContext) -> list[str]:
    """The suite's tasks, restricted by ``--tasks`` (which may not add tasks the suite lacks)."""
    tasks = list(suite_task_names)
    if ctx.tasks:
        unknown = [t for t in ctx.tasks if t not in tasks]
        if unknown:
            raise RBMError(f"--tasks: {', '.join(unknown)} not in this suite (it has {', '.join(tasks)})")
        tasks = [t for t in tasks if t in ctx.tasks]
    return tasks


def tasks_of_checkpoint(ref: CheckpointRef, ctx: RunContext) -> list[str]:
    """Which tasks a checkpoint was made for: its name token, its card / file keys, else ``--tasks``."""
    if ref.task:
        return [ref.task]
    known = ctx.open(ref).tasks()
    if known:
        return known
    if ctx.tasks:
        return list(ctx.tasks)
    raise RBMError(f"checkpoint {ref.model} ({ref.path}): cannot tell which task it was fine-tuned for; "
                   f"name it TASK/{ref.model}=PATH (e.g. sst2/{ref.model}) or pass --tasks")


def checkpoint_seed(ref: CheckpointRef, ctx: RunContext) -> Optional[int]:
    if ref.seed is not None:
        return ref.seed
    card_seed = ctx.open(ref).describe().get("card_seed")
    return int(card_seed) if card_seed is not None else None


def cells_for_checkpoints(suite, tasks: list[str], ctx: RunContext,
                          eval_sets: Callable[[str], dict[str, str]] | None = None,
                          condition: str = "clean", collection: str = GLUE_DEV, plain_keys: bool = True,
                          absent: str = "", note_absent_tasks: bool = True) -> list[Cell]:
    """One cell per (checkpoint, eval set) for the checkpoints given on the command line.

    ``collection`` and ``plain_keys`` say which data the cells score and whether a predictions file's bare
    keys mean it (see :class:`EvalSetRef`). Eval sets a predictions file has no key for are skipped with one
    line per (checkpoint, task), ending in ``absent`` (what is lost); a partial file is not an error."""
    cells = []
    for ref in ctx.checkpoints:
        known = tasks_of_checkpoint(ref, ctx)
        mine = [t for t in known if t in tasks]
        if not mine:
            log.warning("checkpoint %s (%s) is for %s, which this suite (%s) does not score; skipped",
                        ref.model, ref.path, ", ".join(known), ", ".join(tasks))
            continue
        checkpoint = ctx.open(ref)
        predictions = isinstance(checkpoint, PredictionsFile)
        if predictions and note_absent_tasks and ref.task is None and len(mine) < len(tasks):
            log.warning("predictions file %s (%s): no predictions for %s; skipped", ref.path, ref.model,
                        ", ".join(t for t in tasks if t not in mine))
        for task in mine:
            sets = eval_sets(task) if eval_sets else get_task(task).eval_splits()
            refs = {e: EvalSetRef(collection, e, plain_keys) for e in sets}
            if predictions:
                missing = [refs[e] for e in sets if checkpoint.key_for(refs[e]) is None]
                if missing:
                    what = ("" if plain_keys else "clean ") + COLLECTION_LABELS.get(collection, collection)
                    log.warning("predictions file %s (%s): no %s predictions for %s (key%s %s); %s", ref.path,
                                ref.model, what, ", ".join(r.eval_set for r in missing),
                                "s" if len(missing) > 1 else "", ", ".join(repr(r.key) for r in missing),
                                absent or "skipped")
                sets = [e for e in sets if refs[e] not in missing]
            for eval_set in sets:
                cells.append(Cell(suite.name, ref.model, task, eval_set, ref.condition or condition,
                                  checkpoint_seed(ref, ctx), checkpoint, ref, eval_ref=refs[eval_set]))
    return cells


def train_settings(suite, ctx: RunContext) -> tuple[list[str], list[int], dict]:
    """Methods, seeds and trainer settings for cells the runner trains (suite ``train:`` + command line)."""
    spec = dict(suite.train)
    methods = ctx.methods or spec.pop("methods", None) or ["vanilla"]
    seeds = ctx.seeds or spec.pop("seeds", None) or [1]
    spec.pop("methods", None)
    spec.pop("seeds", None)
    spec.update({k: v for k, v in ctx.train_overrides.items() if v is not None})
    return list(methods), [int(s) for s in seeds], spec


def train_request(suite, task: str, method: str, seed: int, ctx: RunContext, settings: dict,
                  condition: Optional[dict] = None, train_examples=None, tag: str = "clean") -> TrainRequest:
    """A request to train ``method`` on ``task`` (optionally on a perturbed set) into the run folder."""
    from ..training import TrainConfig

    settings = dict(settings)
    method_args = dict(settings.pop("method_args", {}) or {}).get(method, {})
    output = Path(ctx.output) / "checkpoints" / suite.name / task / tag / method / f"seed-{seed}"
    config = TrainConfig(method=method, task=task, seed=seed, output=str(output), data_dir=ctx.data_dir,
                         device=ctx.device, condition=condition, method_args=dict(method_args), **settings)
    return TrainRequest(config=config, train_examples=train_examples)


def trained_cells(suite, tasks: list[str], ctx: RunContext,
                  eval_sets: Callable[[str], dict[str, str]] | None = None) -> list[Cell]:
    """Cells whose checkpoints the runner trains itself (no ``--checkpoint`` given, suite has ``train:``)."""
    methods, seeds, settings = train_settings(suite, ctx)
    cells = []
    for task in tasks:
        for method in methods:
            for seed in seeds:
                request = train_request(suite, task, method, seed, ctx, settings)
                sets = eval_sets(task) if eval_sets else get_task(task).eval_splits()
                for eval_set in sets:
                    cells.append(Cell(suite.name, method, task, eval_set, "clean", seed, train=request))
    return cells
