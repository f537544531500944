"""One planner for every suite: :func:`plan_grid` maps checkpoints to cells and plans the cells the
runner trains itself, so every suite answers the same questions the same way:

- which checkpoint serves which task (its name token, its card or file keys, else ``--tasks``);
- which methods and seeds are trained: command line > suite ``params`` > suite ``train:``, each
  method by its canonical name (``Match-Tuning`` and ``match-tuning`` are one row);
- a task without a training split is skipped with one line, never trained on dev data;
- an external checkpoint replaces the trained cell with the same key.

Evaluators only say what differs: the eval sets of a task, how a model is scored (:class:`Scoring`),
the training conditions and how each one's training set is built (:class:`TrainData`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from ..checkpoints import COLLECTION_LABELS, GLUE_DEV, EvalSetRef, PredictionsFile
from ..data import find_in_data_dir, resolve_data_dir
from ..errors import RBMError
from ..inputs import inside, path_component
from ..tasks import TaskSpec, get_task
from .base import Cell, CheckpointRef, RunContext, TrainRequest
from .params import SuiteParams, suite_params

log = logging.getLogger(__name__)

EvalSets = Callable[[str], dict[str, str]]  # task → {eval set: split}


@dataclass(frozen=True)
class Scoring:
    """One way each model is scored: the cell condition and the data collection (see :class:`EvalSetRef`).

    ``absent`` ends the line logged when a predictions file has no key for it (what is lost);
    ``note_absent_tasks`` logs predictions files that lack whole tasks (once, on the first scoring)."""

    condition: str = "clean"
    collection: str = GLUE_DEV
    plain_keys: bool = True
    absent: str = ""
    note_absent_tasks: bool = True


@dataclass
class TrainData:
    """The training set of a trained cell, as a JSON recipe that any machine can rebuild
    (:func:`build_train_examples`). ``recipe`` None: the task's train split, sampled by the trainer."""

    recipe: Optional[dict] = None
    sha256: Optional[str] = None  # known at plan time (perturbed sets): external checkpoints must match it
    info: Optional[dict] = None  # what the card and the cell record about the data (condition, counts)
    build: Optional[Callable[[], object]] = None  # a faster builder from the plan's own cache


def suite_tasks(suite_task_names: Iterable[str], ctx: RunContext,
                fits: Optional[Callable[[TaskSpec], Optional[str]]] = None) -> list[str]:
    """The suite's tasks, restricted by ``--tasks``; ``--tasks`` may also add any task the suite's evaluator
    fits (``fits(task)`` says why not, or None), so a user task runs on every suite kind that fits it."""
    tasks = list(suite_task_names)
    if ctx.tasks:
        extra = [t for t in ctx.tasks if t not in tasks]
        for name in extra:
            why = fits(get_task(name)) if fits is not None else f"not in this suite (it has {', '.join(tasks)})"
            if why:
                raise RBMError(f"--tasks {name}: {why}")
        tasks = [t for t in tasks if t in ctx.tasks] + extra
    return tasks


def tasks_of_checkpoint(ref: CheckpointRef, ctx: RunContext) -> list[str]:
    """Which tasks a checkpoint was made for: its name token, its card / file keys, else ``--tasks``."""
    known = ctx.open(ref).tasks()
    if ref.task:
        if known and ref.task not in known:
            _check_transfer(ref, known)
        return [ref.task]
    if known:
        return known
    if ctx.tasks:
        return list(ctx.tasks)
    raise RBMError(f"checkpoint {ref.model} ({ref.path}): cannot tell which task it was fine-tuned for; "
                   f"name it TASK/{ref.model}=PATH (e.g. sst2/{ref.model}) or pass --tasks")


def _check_transfer(ref: CheckpointRef, known: list[str]) -> None:
    """A checkpoint named for another task than its card's: a transfer evaluation (an SST-2 model on a user's
    sentiment set) when both tasks have the same labels, said in one line; otherwise (an SST-2 model as RTE)
    the numbers would mean nothing, so it is refused."""
    wanted = get_task(ref.task)
    same = [t for t in known if get_task(t).label_names == wanted.label_names]
    if not same:
        raise RBMError(f"checkpoint {ref.model} ({ref.path}): named for task {ref.task}, but it was made for "
                       f"{', '.join(known)} (its {'card' if len(known) == 1 else 'keys'}), whose labels differ; fix "
                       f"the name ({known[0]}/{ref.model}=PATH) — a model is never scored on another task's labels")
    log.warning("checkpoint %s (%s) was trained for %s and is scored on %s (same labels: %s): a transfer evaluation",
                ref.model, ref.path, same[0], ref.task, ", ".join(wanted.label_names or ("score",)))


def checkpoint_seed(ref: CheckpointRef, ctx: RunContext) -> Optional[int]:
    if ref.seed is not None:
        return ref.seed
    card_seed = ctx.open(ref).describe().get("card_seed")
    return int(card_seed) if card_seed is not None else None


def split_available(task: str, split: str, data_dir: Optional[str]) -> Optional[str]:
    """None when the split can be read; else a one-line reason. The hub is assumed reachable."""
    spec = get_task(task)
    if spec.data_files is not None:
        return None if split in spec.data_files else f"task {spec.name} ({spec.source}) has no {split} data_files"
    root = resolve_data_dir(data_dir) if spec.layout is not None else None
    if root is None:
        return None
    folder = find_in_data_dir(root, spec.glue_dir, spec.name)
    stem = spec.split_files[split]
    if folder is not None and ((folder / f"{stem}.tsv").is_file() or (folder / f"{stem}_hf").is_dir()
                               or (folder / split).is_dir()):
        return None
    return f"no {spec.display} {split} data under {root}"


def canonical_method(name: str) -> str:
    """``Match-Tuning`` → ``match-tuning``; ``R3F+match-tuning`` → ``r3f+match-tuning`` (each part)."""
    from ..training.methods import METHODS, split_name

    try:
        return "+".join(METHODS.canonical(p) for p in split_name(str(name)))
    except KeyError as exc:  # UnknownNameError: a complete sentence
        raise RBMError(str(exc)) from None


def methods_and_seeds(suite, ctx: RunContext, params: Optional[SuiteParams] = None) -> tuple[list[str], list[int], dict]:
    """Methods and seeds to train — command line > suite ``params`` > suite ``train:`` > vanilla, seed 1 —
    and the trainer settings (suite ``train:`` overridden by ``--epochs``/``--max-train-examples``)."""
    params = params if params is not None else suite_params(suite)
    spec = dict(suite.train)
    train_methods, train_seeds = spec.pop("methods", None), spec.pop("seeds", None)
    methods = ctx.methods or params.methods or train_methods or ["vanilla"]
    seeds = ctx.seeds or params.seeds or train_seeds or [1]
    spec.update({k: v for k, v in ctx.train_overrides.items() if v is not None})
    canonical: list[str] = []
    for m in methods:
        name = canonical_method(m)
        if name not in canonical:
            canonical.append(name)
    return canonical, [int(s) for s in dict.fromkeys(seeds)], spec


def build_train_examples(recipe: Optional[dict], task: str, data_dir: Optional[str]):
    """The training set a recipe names, rebuilt bit for bit on any machine; None: the trainer loads it."""
    if not recipe:
        return None
    from ..data import load_train

    kind = recipe.get("kind")
    if kind == "perturbed":
        from ..conditions.base import perturbed_training_set

        train = load_train(task, data_dir)
        return perturbed_training_set(recipe["condition_kind"], train, float(recipe["ratio"]), int(recipe["seed"]),
                                      recipe.get("pool")).examples
    if kind == "groups":
        from ..conditions.groups import with_groups

        if get_task(task).group_field:  # the task's own group column (already in extra["group"])
            return load_train(task, data_dir)
        return with_groups(load_train(task, data_dir), tuple(recipe["words"]))
    raise RBMError(f"training data recipe {recipe!r}: unknown kind {kind!r} (expected perturbed or groups)")


def train_request(suite, task: str, method: str, seed: int, ctx: RunContext, settings: dict,
                  condition: Optional[dict] = None, train_examples=None, tag: str = "clean",
                  data: Optional[TrainData] = None) -> TrainRequest:
    """A request to train ``method`` on ``task`` (optionally on a perturbed set) into the run folder."""
    from ..training import TrainConfig

    settings = dict(settings)
    method_args = dict(settings.pop("method_args", {}) or {}).get(method, {})
    parts = [path_component(p) for p in (suite.name, task, tag, method)] + [f"seed-{seed}"]
    output = inside(ctx.output, Path(ctx.output).joinpath("checkpoints", *parts), "a trained checkpoint")
    data = data or TrainData()
    if condition is None and data.info is not None:
        condition = data.info
    config = TrainConfig(method=method, task=task, seed=seed, output=str(output), data_dir=ctx.data_dir,
                         device=ctx.device, condition=condition, method_args=dict(method_args), **settings)
    if train_examples is None and data.recipe is not None:
        recipe, data_dir = data.recipe, ctx.data_dir
        train_examples = data.build or (lambda: build_train_examples(recipe, task, data_dir))
    return TrainRequest(config=config, train_examples=train_examples, expected_sha256=data.sha256,
                        data=data.recipe)


def cells_for_checkpoints(suite, tasks: list[str], ctx: RunContext, eval_sets: EvalSets | None = None,
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


def plan_grid(suite, ctx: RunContext, *, eval_sets: EvalSets | None = None,
              scorings: Sequence[Scoring] = (Scoring(),), conditions: Sequence[str] = ("clean",),
              train_data: Optional[Callable[[str, str, int, dict], Optional[TrainData]]] = None,
              external: Optional[Callable[[list[str]], list[Cell]]] = None,
              trains_by_default: bool = False, nothing: str = "",
              params: Optional[SuiteParams] = None,
              fits: Optional[Callable[[TaskSpec], Optional[str]]] = None) -> list[Cell]:
    """Every cell of a suite: the command line's checkpoints and the cells the runner trains.

    Trained cells are planned when ``--methods`` is given, or when no checkpoint is given and the suite
    can train (a ``train:`` block, ``params.methods``, or ``trains_by_default``). For each task with a
    training split, each training condition, seed and method, one training request serves every
    (eval set × scoring) cell. ``train_data(task, condition, seed, settings)`` says how that condition's
    set is built (None: skip); ``external(tasks)`` maps checkpoints itself (training-condition suites),
    else each checkpoint is scored on each scoring's collection. ``nothing`` is the error when no cell
    results (it should say which --checkpoint to give)."""
    params = params if params is not None else suite_params(suite)
    tasks = suite_tasks(suite.tasks, ctx, fits)
    can_train = bool(suite.train) or bool(params.methods) or trains_by_default
    cells: dict[str, Cell] = {}
    if ctx.methods or (not ctx.checkpoints and can_train):
        methods, seeds, settings = methods_and_seeds(suite, ctx, params)
        for task in tasks:
            missing = split_available(task, get_task(task).train_split, ctx.data_dir)
            if missing:
                log.warning("suite %s: %s; skipping its trained cells (%s) — never trained on dev data; give "
                            "--checkpoint %s/NAME=PATH", suite.name, missing, ", ".join(methods), task)
                continue
            sets = eval_sets(task) if eval_sets else get_task(task).eval_splits()
            for cond in conditions:
                for seed in seeds:
                    data = train_data(task, cond, seed, settings) if train_data else TrainData()
                    if data is None:
                        continue
                    for method in methods:
                        request = train_request(suite, task, method, seed, ctx, settings, tag=cond, data=data)
                        for eval_set in sets:
                            for sc in scorings:
                                cell = Cell(suite.name, method, task, eval_set,
                                            cond if cond != "clean" else sc.condition, seed, train=request,
                                            eval_ref=EvalSetRef(sc.collection, eval_set, sc.plain_keys),
                                            params={"condition": data.info} if data.info else {})
                                cells[cell.key] = cell
    if ctx.checkpoints:
        if external is not None:
            given = external(tasks)
        else:
            given = []
            for i, sc in enumerate(scorings):
                given += cells_for_checkpoints(suite, tasks, ctx, eval_sets, sc.condition, sc.collection,
                                               sc.plain_keys, sc.absent, sc.note_absent_tasks and i == 0)
        for cell in given:  # an external checkpoint replaces the trained cell with the same key
            cells[cell.key] = cell
    if not cells:
        if not ctx.checkpoints and not can_train:
            raise RBMError(nothing or f"suite {suite.name}: give checkpoints to evaluate (--checkpoint NAME=PATH)")
        raise RBMError(f"suite {suite.name}: no cell to evaluate for {', '.join(tasks)} (no --checkpoint for these "
                       f"tasks, and no training data to train one)")
    return list(cells.values())

__all__ = ["Scoring", "TrainData", "build_train_examples", "canonical_method", "cells_for_checkpoints",
           "checkpoint_seed", "methods_and_seeds", "plan_grid", "split_available", "suite_tasks",
           "tasks_of_checkpoint", "train_request"]
