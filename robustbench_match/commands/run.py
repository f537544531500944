"""`rbm run SUITE --checkpoint NAME=PATH ... --output DIR`: evaluate and store, resumably."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..evaluators import CheckpointRef, RunContext
from ..reports.tables import render, tables_for
from ..suites import get_suite
from ..tasks import get_task

HELP = "evaluate checkpoints on a suite and store the results"


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", help="suite name (see `rbm suites`) or a suite YAML file")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                        help="HF model folder, hub id or predictions .json; NAME is [TASK/][CONDITION/][seed-N/]MODEL")
    parser.add_argument("--output", default="runs/latest", help="result folder (results.jsonl); reruns resume here")
    parser.add_argument("--data-dir", default=None, help="glue_data-style root (default: $RBM_DATA_DIR, else the hub)")
    parser.add_argument("--tasks", type=_csv, help="restrict to these tasks, e.g. sst2,rte")
    parser.add_argument("--methods", type=_csv, help="methods to train for cells without a checkpoint")
    parser.add_argument("--seeds", type=lambda v: [int(s) for s in _csv(v)], help="seeds to train, e.g. 1,2,3")
    parser.add_argument("--epochs", type=float, help="override the suite's training epochs")
    parser.add_argument("--max-train-examples", type=int, help="override the suite's training subset size")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--batch-size", type=int, default=64, help="inference batch size")
    parser.add_argument("--max-length", type=int, help="max tokens (default: the checkpoint card's, else 128)")
    parser.add_argument("--force", action="store_true", help="redo cells already stored")
    parser.add_argument("--save-predictions", action="store_true", help="keep per-example predictions")
    parser.add_argument("--include-path", action="append", default=[], help="extra folder of suite YAML files")
    parser.add_argument("--recipe", type=_csv, help="textattack: recipes, e.g. deepwordbug,pwws")
    parser.add_argument("--num-examples", type=int, help="textattack: examples attacked per task")
    parser.add_argument("--query-budget", type=int, help="textattack: max model queries per example")
    parser.add_argument("--format", default="markdown", choices=["markdown", "latex", "csv", "none"],
                        help="table printed at the end")


def run(args) -> int:
    from ..runner import run_suite

    suite = get_suite(args.suite, args.include_path)
    ctx = RunContext(
        output=Path(args.output),
        checkpoints=[CheckpointRef.parse(c) for c in args.checkpoint],
        data_dir=args.data_dir,
        tasks=[get_task(t).name for t in args.tasks] if args.tasks else None,
        methods=args.methods, seeds=args.seeds, device=args.device, precision=args.precision,
        batch_size=args.batch_size, max_length=args.max_length, force=args.force,
        save_predictions=args.save_predictions,
        options={"recipe": args.recipe, "num_examples": args.num_examples, "query_budget": args.query_budget},
        train_overrides={"epochs": args.epochs, "max_train_examples": args.max_train_examples},
    )
    records = run_suite(suite, ctx)
    if args.format != "none" and records:
        print(render(tables_for(records), args.format))
    return 0
