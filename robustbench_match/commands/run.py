"""`rbm run SUITE --checkpoint NAME=PATH ... --output DIR`: evaluate and store, resumably."""
from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Optional

from ..errors import RBMError
from ..inputs import batch_size_arg, seed_arg
from ..evaluators.base import CheckpointRef, RunContext
from ..reports.tables import render, tables_for
from ..results import ResultStore
from ..suites import get_suite
from ..tasks import get_task

HELP = "evaluate checkpoints on a suite and store the results"


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def seed_list(value: str) -> list[int]:
    """``1,2,3`` → [1, 2, 3] (argparse names this function in its error, so the message says what is wanted)."""
    from ..inputs import MAX_SEED

    try:
        seeds = [int(s) for s in _csv(value)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: expected comma-separated integers, e.g. 1,2,3") from None
    if any(not 0 <= s <= MAX_SEED for s in seeds):
        raise argparse.ArgumentTypeError(f"{value!r}: expected comma-separated seeds in 0..{MAX_SEED}, e.g. 1,2,3")
    if not seeds:
        raise argparse.ArgumentTypeError(f"{value!r}: expected comma-separated integers, e.g. 1,2,3")
    return seeds


def with_params(suite, assignments: list[str]):
    """The suite with ``--set key=value`` applied to its ``params`` (values read as YAML: 0.1, true,
    [0.05, 0.1], null), checked like the suite file's own params: an unknown key or a wrong type is one line."""
    if not assignments:
        return suite
    import dataclasses

    import yaml

    from ..evaluators.params import parse_params

    from ..training.config import parse_train_block

    params, train = dict(suite.params), dict(suite.train)
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise RBMError(f"--set {item!r}: expected KEY=VALUE (e.g. --set num_examples=20)")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise RBMError(f"--set {item!r}: the value is not valid YAML (e.g. 0.1, true, [0.05, 0.1])") from None
        if key.strip().startswith("train."):  # the suite's train: block (lr, epochs, batch_size, ...)
            train[key.strip()[len("train."):]] = value
        else:
            _assign(params, key.strip(), value, item)
    where = f"--set (suite {suite.name})"
    train = parse_train_block(train, where)
    typed = parse_params(suite.evaluator, params, where)
    if typed is None:  # an evaluator without a params dataclass: at least no key the suite does not have
        unknown = sorted(set(params) - set(suite.params))
        if unknown:
            raise RBMError(f"{where}: unknown param(s) {', '.join(unknown)} (the suite has: "
                           f"{', '.join(sorted(suite.params)) or 'none'})")
    return dataclasses.replace(suite, params=params, typed_params=typed, train=train)


def _assign(params: dict, key: str, value, item: str) -> None:
    """``families=[typo]`` sets a param; ``settings.typo.rate=0.2`` sets one entry inside a mapping param."""
    import copy

    head, *path = key.split(".")
    if not path:
        params[key] = value
        return
    target = params[head] = copy.deepcopy(params.get(head) or {})
    if not isinstance(target, dict):
        raise RBMError(f"--set {item!r}: params.{head} is not a mapping (set it whole: --set {head}=...)")
    for part in path[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise RBMError(f"--set {item!r}: {part} is not a mapping")
    target[path[-1]] = value


def check_args(args) -> None:
    """Numbers that cannot work fail here, naming the flag, before anything is loaded or written."""
    from ..inference import check_max_length

    check_max_length(args.max_length)
    positive = {"--batch-size": None if args.batch_size == "auto" else args.batch_size, "--num-examples": args.num_examples,
                "--limit": args.limit,
                "--query-budget": args.query_budget, "--max-train-examples": args.max_train_examples}
    for flag, value in positive.items():
        if value is not None and value < 1:
            raise RBMError(f"{flag} {value}: expected a whole number >= 1" + (" or auto" if flag == "--batch-size" else ""))
    if args.epochs is not None and not (math.isfinite(args.epochs) and args.epochs > 0):
        raise RBMError(f"--epochs {args.epochs}: expected a finite number > 0")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", help="suite name (see `rbm suites`) or a suite YAML file")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                        help="HF model folder, hub id or predictions .json; NAME is [TASK/][CONDITION/][seed-N/]MODEL")
    parser.add_argument("--output", default="runs/latest", help="result folder (results.jsonl); reruns resume here")
    parser.add_argument("--data-dir", default=None, help="glue_data-style root (default: $RBM_DATA_DIR, else the hub)")
    parser.add_argument("--tasks", type=_csv, help="restrict to these tasks, e.g. sst2,rte")
    parser.add_argument("--methods", type=_csv, help="methods to train for cells without a checkpoint")
    parser.add_argument("--seeds", type=seed_list, help="seeds to train, e.g. 1,2,3")
    parser.add_argument("--epochs", type=float, help="override the suite's training epochs")
    parser.add_argument("--max-train-examples", type=int, help="override the suite's training subset size")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--batch-size", type=batch_size_arg, default=64,
                        help="inference batch size, or auto: on CUDA the largest that fits (halved on out-of-memory), "
                             "on CPU the fastest of 8..256 on a short probe; recorded with each result")
    parser.add_argument("--max-length", type=int, help="max tokens (default: the checkpoint card's, else 128)")
    parser.add_argument("--log-to", metavar="TRACKERS",
                        help="also log every stored metric, the tables and the adversarial examples to experiment "
                             "trackers, comma-separated: wandb, mlflow, tensorboard, trackio (offline)")
    parser.add_argument("--log-dir", help="where offline trackers write (default: ./rbm-logs)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one of the suite's params (value as YAML), e.g. --set num_examples=20 or "
                             "--set 'ratios=[0.1, 0.2]', one entry of a mapping param, e.g. --set settings.typo.rate=0.2, "
                             "or of its train: block, e.g. --set train.lr=1e-4; repeatable")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="score a seeded sample of N examples of each eval set (quick checks only: the record's "
                             "data source says so; textattack samples with --num-examples)")
    parser.add_argument("--limit-seed", type=seed_arg, default=0, metavar="S", help="seed of the --limit sample")
    parser.add_argument("--force", action="store_true", help="redo cells already stored")
    parser.add_argument("--save-predictions", action="store_true", help="keep per-example predictions")
    parser.add_argument("--include-path", action="append", default=[],
                        help="extra folder of suite and task YAML files (repeatable; a later folder may replace a "
                             "suite, never a task)")
    parser.add_argument("--recipe", type=_csv, help="textattack: recipes, e.g. deepwordbug,pwws")
    parser.add_argument("--num-examples", type=int, help="textattack: examples attacked per task")
    parser.add_argument("--query-budget", type=int, help="textattack: max model queries per example")
    parser.add_argument("--format", default="markdown", choices=["markdown", "latex", "csv", "none"],
                        help="table printed at the end")
    group = parser.add_argument_group("where cells run (see README: Running on a cluster)")
    group.add_argument("--executor", default="inline", choices=["inline", "local", "slurm"],
                       help="inline: this process (default); local: a pool of worker processes; slurm: SLURM "
                            "jobs via submitit (one per checkpoint, as a job array)")
    group.add_argument("--workers", type=int, default=None, help="local: worker processes (default 1)")
    group.add_argument("--threads-per-worker", type=int, default=None,
                       help="intra-op threads per worker (local; slurm: cpus_per_task; inline: this process)")
    group.add_argument("--executor-opt", action="append", default=[], metavar="KEY=VALUE",
                       help="slurm: a submitit parameter, repeatable (slurm_partition=debug, gpus_per_node=1, "
                            "timeout_min=60, slurm_array_parallelism=8, cpus_per_task=4, mem_gb=16)")
    group.add_argument("--plan", action="store_true",
                       help="print the cells, which are stored, which will train or be redone (and why); run nothing")


def run(args) -> int:
    import logging

    from ..executors import ExecutorOptions, parse_executor_opts
    from ..runner import execute, failure_summary, plan_suite

    check_args(args)
    from ..trackers import parse_log_to

    trackers = parse_log_to(args.log_to)  # a tracker not installed: one line before anything runs
    ResultStore(args.output).check_writable()  # before any cell runs, not after an hour of evaluation
    from ..inference import resolve_device, resolve_precision

    resolve_precision(resolve_device(args.device), args.precision)  # the rule `rbm train` applies too
    suite = with_params(get_suite(args.suite, args.include_path), args.set)
    if args.limit:
        if suite.evaluator == "textattack":
            raise RBMError("--limit: the textattack suite samples its own examples; use --num-examples N")
        logging.getLogger(__name__).warning("--limit %d: each eval set is a sample of %d examples (seed %d); "
                                            "for quick checks only, not for reported scores", args.limit,
                                            args.limit, args.limit_seed)
    for flag, value in (("--workers", args.workers), ("--threads-per-worker", args.threads_per_worker)):
        if value is not None and value < 1:
            raise RBMError(f"{flag} {value}: must be at least 1")
    if args.workers is not None and args.executor != "local":
        raise RBMError(f"--workers is for --executor local (got --executor {args.executor})")
    if args.executor_opt and args.executor != "slurm":
        raise RBMError(f"--executor-opt is for --executor slurm (got --executor {args.executor})")
    options = ExecutorOptions(workers=args.workers or 1, threads_per_worker=args.threads_per_worker,
                              options=parse_executor_opts(args.executor_opt),
                              verbose=logging.getLogger().isEnabledFor(logging.DEBUG))
    ctx = RunContext(
        output=Path(args.output),
        checkpoints=[CheckpointRef.parse(c) for c in args.checkpoint],
        data_dir=args.data_dir,
        tasks=[get_task(t).name for t in args.tasks] if args.tasks else None,
        methods=args.methods, seeds=args.seeds, device=args.device, precision=args.precision,
        batch_size=args.batch_size, max_length=args.max_length, force=args.force,
        save_predictions=args.save_predictions,
        options={"recipe": args.recipe, "num_examples": args.num_examples, "query_budget": args.query_budget,
                 **({"limit": args.limit, "limit_seed": args.limit_seed} if args.limit else {})},
        train_overrides={"epochs": args.epochs, "max_train_examples": args.max_train_examples},
        include=[str(p) for p in args.include_path],
    )
    plan = plan_suite(suite, ctx)
    if args.plan:
        print_plan(plan)
        return 0
    outcome = execute(plan, ctx, args.executor, options)
    if args.format != "none" and outcome.records:
        print(render(tables_for(outcome.records), args.format))
    if trackers and outcome.records:  # after the records are stored: a tracker can never lose one
        from ..trackers import log_run

        log_run(trackers, outcome.records, ctx.output, render(tables_for(outcome.records), "markdown"),
                {"suite": suite.name, "evaluator": suite.evaluator, "suite_version": suite.version,
                 "params": suite.params, "train": suite.train, "tasks": ctx.tasks or list(suite.tasks),
                 "checkpoints": [f"{c.model}={c.path}" for c in ctx.checkpoints], "output": str(ctx.output)},
                args.log_dir)
    if outcome.failed:
        print(f"rbm run: {failure_summary(outcome.failed)}", file=sys.stderr)
        return 1
    hint = next_step(outcome.records, ctx.output, args.data_dir)
    if hint:
        print(hint, file=sys.stderr)
    return 0


def next_step(records: list[dict], output: Path, data_dir: Optional[str]) -> str:
    """For a run that trained its own checkpoints (the quickstart): where they are, and a ready-to-paste
    line that scores one of them on another suite."""
    out = output.resolve()
    def located(stored: str) -> Path:  # relative to the run folder (records since issue 35), else as written
        return next((c for c in ((out / stored).resolve(), Path(stored).resolve()) if c.exists()), out / stored)

    where = {r["checkpoint"]["path"]: located(r["checkpoint"]["path"])
             for r in records if (r.get("checkpoint") or {}).get("path")}
    shown = lambda path: os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)  # noqa: E731
    inside = {stored: shown(path) for stored, path in where.items() if path.is_relative_to(out) and path.exists()}
    trained = sorted(inside.values())
    if not trained or len(trained) > 3:
        return ""
    first = next(r for r in records if inside.get((r.get("checkpoint") or {}).get("path")) == trained[0])
    data = f" --data-dir {shlex.quote(data_dir)}" if data_dir else ""
    name = f"{first['task']}/{first['model']}={trained[0]}"
    return (f"checkpoint{'s' if len(trained) > 1 else ''}: {', '.join(trained)}\nscore one on another suite, e.g.:\n"
            f"  rbm run glue-dev --checkpoint {shlex.quote(name)} --tasks {first['task']}{data} "
            f"--output runs/{first['model']}-glue")


def print_plan(plan) -> None:
    """One line per cell (status, key, what happens), then the counts; nothing runs."""
    for p in plan.cells:
        cell = p.cell
        if p.status == "stored":
            what = "stored"
        elif p.trains:
            cfg = cell.train.config
            what = f"trains {cfg.method} on {cfg.task} (seed {cfg.seed}) into {cfg.output}"
        elif cell.train is not None and cell.train.config is not None and cell.checkpoint is None:
            what = f"reuses the checkpoint trained in {cell.train.config.output}"
        else:
            what = f"scores {cell.checkpoint_ref.path if cell.checkpoint_ref else cell.checkpoint.path}"
        if p.status == "redo":
            what += f"; redone: {p.reason}"
        print(f"{p.status:<6}  {cell.key}  {what}")
    counts = {s: sum(1 for p in plan.cells if p.status == s) for s in ("stored", "run", "redo")}
    trains = len({id(p.cell.train) for p in plan.cells if p.trains})
    jobs = len(plan.jobs())
    print(f"{len(plan.cells)} cells: {counts['stored']} stored, {counts['run']} to run, {counts['redo']} to redo; "
          f"{jobs} job(s), {trains} checkpoint(s) to train")
