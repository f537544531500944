"""``rbm train``: fine-tune with one of the bundled methods and write a loadable checkpoint folder."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from ..errors import RBMError
from ..inputs import seed_arg
from ..training.config import TrainConfig
from ..training.methods import METHODS, method_class

HELP = "fine-tune a model with one of the bundled methods"


def method_params() -> dict[str, object]:
    """Every method hyperparameter by name (shared names such as reserve_p appear once)."""
    params: dict[str, object] = {}
    for name in METHODS:
        for p in method_class(name).params:
            params.setdefault(p.name, (p, []))[1].append(name)  # type: ignore[union-attr]
    return params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    parser.add_argument("--method", required=True,
                        help=f"one of {', '.join(METHODS)}; combine with '+', e.g. match-tuning+r3f")
    parser.add_argument("--task", required=True, help="a task (sst2, rte, mrpc, cola, stsb, ... or a task YAML's name on "
                                                      "--include-path; see `rbm tasks`)")
    parser.add_argument("--include-path", action="append", default=[], metavar="DIR",
                        help="folder of task YAML files (repeatable; also $RBM_INCLUDE_PATH)")
    parser.add_argument("--seed", type=seed_arg, default=d.seed, help="seed of the fresh head, dropout and batch order")
    parser.add_argument("--output", required=True, help="checkpoint folder to create")
    parser.add_argument("--model", default=None, help="base model folder or hub id (default: packaged MiniLM-L6)")
    parser.add_argument("--data-dir", default=None, help="glue_data-style folder (default: $RBM_DATA_DIR, else the hub)")
    parser.add_argument("--epochs", type=float, default=d.epochs,
                        help="training epochs (a fraction is allowed)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (overrides --epochs)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size,
                        help="examples per optimizer step")
    parser.add_argument("--lr", type=float, default=d.lr,
                        help="peak learning rate of AdamW (linear warm-up and decay)")
    parser.add_argument("--max-length", type=int, default=d.max_length,
                        help="max tokens per example (longer ones are truncated)")
    parser.add_argument("--max-train-examples", type=int, default=None, help="train on a seeded random sample of N examples (the same for every method and seed)")
    parser.add_argument("--warmup-ratio", type=float, default=d.warmup_ratio,
                        help="share of the steps spent warming up the learning rate")
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay,
                        help="AdamW decay toward zero (method weight-decay decays toward the pretrained weights)")
    parser.add_argument("--max-grad-norm", type=float, default=d.max_grad_norm,
                        help="clip the gradient norm to this (0: no clipping)")
    parser.add_argument("--dropout", type=float, default=None, help="set every dropout to this (default: the model's)")
    parser.add_argument("--group-by-length", action=argparse.BooleanOptionalAction, default=d.group_by_length,
                        help="batch sentences of similar length together (less padding, faster on GPU); off by "
                             "default: random batches, as in the paper — for in-batch methods such as "
                             "match-tuning the batch is part of the method")
    parser.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:1 ...")
    parser.add_argument("--precision", default=d.precision, choices=("auto", "fp32", "bf16", "fp16"),
                        help="auto: bf16 autocast on CUDA, fp32 on CPU")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint folder written by rbm train (never any other folder or file)")
    group = parser.add_argument_group("method hyperparameters (only those of the chosen method apply)")
    for name, (p, owners) in method_params().items():  # type: ignore[misc]
        help_text = f"{p.help} [{', '.join(owners)}; default {p.default}]"
        if isinstance(p.default, bool):  # an on/off switch: --merge
            group.add_argument(p.flag, dest=f"m_{name}", action="store_const", const=True, default=None, help=help_text)
            continue
        kwargs = {"choices": p.choices} if p.choices else {"metavar": _METAVARS.get(p.type, "VALUE")}
        group.add_argument(p.flag, dest=f"m_{name}", type=p.type, default=None, help=help_text, **kwargs)


_METAVARS = {int: "N", float: "X", str: "TEXT"}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    method_args = {k[2:]: v for k, v in vars(args).items() if k.startswith("m_") and v is not None}
    return TrainConfig(method=args.method, task=args.task, seed=args.seed, output=args.output, model=args.model,
                       data_dir=args.data_dir, epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
                       lr=args.lr, max_length=args.max_length, max_train_examples=args.max_train_examples,
                       method_args=method_args, device=args.device, precision=args.precision,
                       warmup_ratio=args.warmup_ratio, weight_decay=args.weight_decay,
                       max_grad_norm=args.max_grad_norm, dropout=args.dropout,
                       group_by_length=args.group_by_length, overwrite=args.overwrite)


def run(args: argparse.Namespace) -> int:
    from ..tasks import load_task_files
    from ..training.trainer import train

    load_task_files(args.include_path)
    cfg = config_from_args(args)
    if not args.method.strip():
        raise RBMError("--method is empty")
    path = train(cfg)
    if os.environ.get("RANK", "0") == "0":  # one line per run under torchrun / accelerate launch
        print(path)
        print(next_step(cfg, path), file=sys.stderr)
    return 0


def next_step(cfg: TrainConfig, path: str) -> str:
    """A ready-to-paste `rbm run` line that scores the new checkpoint on its task's GLUE dev set."""
    from ..tasks import get_task

    task = get_task(cfg.task).name
    name = Path(path).name or "mine"
    data = f" --data-dir {shlex.quote(cfg.data_dir)}" if cfg.data_dir else ""
    return (f"checkpoint written to {path}\nscore it with:\n  rbm run glue-dev --checkpoint "
            f"{shlex.quote(f'{task}/{name}={path}')} --tasks {task}{data} --output {shlex.quote(f'runs/{name}-eval')}")
