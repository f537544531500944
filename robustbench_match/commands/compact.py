"""`rbm compact RUN_DIR...`: drop superseded records (reruns append; the newest record of a cell wins).

Safe while jobs of the run are writing: the rewrite holds the store's lock, so a concurrent put lands
before or after it, never lost. `rbm run` also compacts by itself once superseded lines dominate.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import RBMError
from ..inputs import printable
from ..results import RESULTS_FILE, ResultStore

HELP = "rewrite a run folder's results.jsonl with only the newest record of each cell"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="the --output folder(s) of `rbm run`")


def run(args) -> int:
    for run_dir in map(Path, args.run_dirs):
        store = ResultStore(run_dir.parent if run_dir.name == RESULTS_FILE else run_dir)
        if not store.path.is_file():
            raise RBMError(f"{printable(str(run_dir))}: no {RESULTS_FILE} here (expected the --output folder of `rbm run`)")
        before, after = store.compact()
        print(f"{printable(str(store.path))}: {before} lines -> {after} records")
    return 0
