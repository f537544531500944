"""`rbm tasks ['m*']`: the tasks, with the label order a checkpoint's ``id2label`` is checked against."""
from __future__ import annotations

import argparse
import json

from ..errors import RBMError
from ..tasks import TASKS, get_task

HELP = "list the tasks: label order, metrics, eval sets, data folders"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. 'mn*'")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--include-path", action="append", default=[], metavar="DIR",
                        help="folder of task YAML files (repeatable; also $RBM_INCLUDE_PATH)")


def describe(pattern: str = "*") -> list[dict]:
    rows = []
    for name in TASKS.names(pattern):
        task = get_task(name)
        rows.append({"task": task.name, "display": task.display, "inputs": list(task.text_keys),
                     "labels": list(task.label_names) if task.label_names else None,
                     "metrics": list(task.metrics), "main_metric": task.main_metric,
                     "eval_sets": list(task.eval_splits()), "glue_dir": task.glue_dir if task.layout else None,
                     "group_field": task.group_field, "source": task.source,
                     "data": _data_source(task)})
    return rows


def _data_source(task) -> str:
    if task.data_files:
        return f"{task.dataset_path}: " + ", ".join(f"{k}={len(v)} file(s)" for k, v in task.data_files.items())
    hub = f"hub {task.dataset_path}{'/' + task.dataset_name if task.dataset_name else ''}"
    return f"{hub} or --data-dir */{task.glue_dir}/" if task.layout else hub


def run(args: argparse.Namespace) -> int:
    from ..tasks import load_task_files

    load_task_files(args.include_path)
    rows = describe(args.pattern)
    if not rows:
        raise RBMError(f"no task matches {args.pattern!r} (known: {', '.join(TASKS.names())})")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from tabulate import tabulate

    table = [(r["task"], r["display"], ", ".join(f"{i}={n}" for i, n in enumerate(r["labels"] or ())) or "score",
              ", ".join(r["metrics"]), ", ".join(r["eval_sets"]), r["data"], r["source"]) for r in rows]
    print(tabulate(table, headers=["task", "name", "labels (id=name)", "metrics (first: main)", "eval sets",
                                   "data", "task file"], tablefmt="plain"))
    return 0
