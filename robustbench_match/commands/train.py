"""``rbm train``: fine-tune with one of the bundled methods and write a loadable checkpoint folder."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from ..errors import RBMError
from ..inputs import seed_arg
from ..training.config import TrainConfig, cli_fields
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
    """One flag per TrainConfig field (training/config.py holds each setting's default and help), then
    ``--include-path`` and the methods' own hyperparameters."""
    import typing

    hints = typing.get_type_hints(TrainConfig)
    for f in cli_fields():
        meta, flag = f.metadata, "--" + f.name.replace("_", "-")
        kwargs: dict = {"help": meta["help"], "default": f.default}
        kind = meta["kind"]
        if kind == "flag":
            kwargs["action"] = "store_true"
        elif kind == "switch":
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = seed_arg if kind == "seed" else (kind or _plain_type(hints[f.name]))
        if meta["required"]:
            kwargs.update(required=True, default=None)
            if f.name == "method":
                kwargs["help"] = (f"one of {', '.join(METHODS)}; combine with '+', e.g. match-tuning+r3f. "
                                  "child-tuning-d spends one extra epoch (its Fisher pass over the training "
                                  "set, with its own progress line) before step 1")
        if meta["choices"]:
            kwargs["choices"] = meta["choices"]
        parser.add_argument(flag, **kwargs)
    parser.add_argument("--include-path", action="append", default=[], metavar="DIR",
                        help="folder of task YAML files (repeatable; also $RBM_INCLUDE_PATH)")
    group = parser.add_argument_group("method hyperparameters (only those of the chosen method apply)")
    for name, (p, owners) in method_params().items():  # type: ignore[misc]
        help_text = f"{p.help} [{', '.join(owners)}; default {p.default}]".replace("%", "%%")  # argparse formats help
        if isinstance(p.default, bool):  # an on/off switch: --merge
            group.add_argument(p.flag, dest=f"m_{name}", action="store_const", const=True, default=None, help=help_text)
            continue
        kwargs = {"choices": p.choices} if p.choices else {"metavar": _METAVARS.get(p.type, "VALUE")}
        group.add_argument(p.flag, dest=f"m_{name}", type=p.type, default=None, help=help_text, **kwargs)


_METAVARS = {int: "N", float: "X", str: "TEXT"}


def _plain_type(hint) -> type:
    """``Optional[int]`` → int: what argparse converts a flag's text with."""
    import typing

    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    method_args = {k[2:]: v for k, v in vars(args).items() if k.startswith("m_") and v is not None}
    return TrainConfig(**{f.name: getattr(args, f.name) for f in cli_fields()}, method_args=method_args)


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
