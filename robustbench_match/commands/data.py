"""``rbm data export``: write a perturbed training set (label noise, minority) and its manifest."""
from __future__ import annotations

import argparse
import json

from ..errors import RBMError
from ..inputs import seed_arg

HELP = "export a perturbed training set (label noise, minority) with a manifest"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    p = sub.add_parser("export", help="write the whole perturbed training set + manifest.json")
    p.add_argument("--task", required=True, help="GLUE task, e.g. rte")
    p.add_argument("--condition", required=True, help="label-noise or minority")
    p.add_argument("--ratio", required=True, help="a fraction in (0, 1) such as 0.10, or a percentage written with %% such as 10%% (noise: share "
                        "flipped; minority: share of label 1 kept)")
    p.add_argument("--seed", type=seed_arg, default=1)
    p.add_argument("--output", required=True, help="folder to write (DIR/<TASK>/train.tsv or a .jsonl)")
    p.add_argument("--format", choices=("tsv", "jsonl"), default="tsv")
    p.add_argument("--max-train-examples", type=int, default=None,
                   help="the seeded sample a suite with train.max_train_examples trains on (perturbed after sampling)")
    p.add_argument("--data-dir", default=None, help="glue_data-style root (default: $RBM_DATA_DIR, else the hub)")
    p.add_argument("--include-path", action="append", default=[], metavar="DIR",
                   help="folder of task YAML files (repeatable; also $RBM_INCLUDE_PATH)")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "data_command", None) != "export":
        raise RBMError("rbm data: expected an action (rbm data export --task rte --condition label-noise ...)")
    from ..data import load_train, resolve_data_dir
    from ..tasks import get_task
    from ..conditions.base import CONDITIONS, parse_ratio, perturbed_training_set
    from ..conditions.export import check_export_target, export_perturbed

    from ..tasks import load_task_files

    load_task_files(args.include_path)
    kind = CONDITIONS.canonical(args.condition)
    ratio = parse_ratio(args.ratio)
    check_export_target(args.output, resolve_data_dir(args.data_dir), get_task(args.task), args.format)
    train = load_train(args.task, args.data_dir)
    perturbed = perturbed_training_set(kind, train, ratio, args.seed, args.max_train_examples)
    manifest = export_perturbed(perturbed, args.output, args.format)
    print(json.dumps({k: manifest[k] for k in ("task", "condition", "seed", "n_rows", "n_changed", "file",
                                               "file_sha256", "train_data_sha256")}, indent=2))
    return 0
