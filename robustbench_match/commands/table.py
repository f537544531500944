"""`rbm table DIR...`: tables from stored results (never re-runs a model)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..reports.tables import FORMATS, render, tables_for
from ..results import load_records, atomic_write_text

HELP = "render stored results as Markdown, LaTeX or CSV"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="result folders (the --output of rbm run)")
    parser.add_argument("--format", default="markdown", choices=FORMATS)
    parser.add_argument("--baseline", help="row the Δ column compares against (default: vanilla, else the first)")
    parser.add_argument("--suite", help="only this suite's results")
    parser.add_argument("--standalone", action="store_true", help="LaTeX: a complete document (compiles alone)")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")


def run(args) -> int:
    specs = tables_for(load_records(args.dirs), baseline=args.baseline, suite=args.suite)
    text = render(specs, args.format, standalone=args.standalone)
    if args.output:
        atomic_write_text(Path(args.output), text)
    else:
        print(text)
    return 0
