"""`rbm table DIR...`: tables from stored results (never re-runs a model)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import RBMError
from ..reports.tables import FORMATS, LatexOptions, render, tables_for
from ..results import atomic_write_text, load_records

HELP = "render stored results as Markdown, LaTeX or CSV"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="result folders (the --output of rbm run)")
    parser.add_argument("--format", default="markdown", choices=FORMATS)
    parser.add_argument("--baseline", help="row the Δ column compares against (default: vanilla, else the first)")
    parser.add_argument("--suite", help="only this suite's results")
    parser.add_argument("--majority-row", action="store_true",
                        help="add a 'majority class' reference row: the score of always predicting the eval set's "
                             "most frequent label (from the records' details.majority_score)")
    latex = parser.add_argument_group("LaTeX (--format latex)")
    latex.add_argument("--standalone", action="store_true", help="a complete document (compiles alone with pdflatex)")
    latex.add_argument("--latex-fragment", action="store_true",
                       help="bare tabular environments only (for \\input inside your own table; notes as comments)")
    latex.add_argument("--caption", help="caption of the table float (default: the table's title); notes follow it")
    latex.add_argument("--label", help="\\label of the table float (further tables get -2, -3, …)")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")


def run(args) -> int:
    latex = LatexOptions(standalone=args.standalone, fragment=args.latex_fragment, caption=args.caption,
                         label=args.label)
    if args.format != "latex":
        used = [flag for flag, on in (("--standalone", args.standalone), ("--latex-fragment", args.latex_fragment),
                                      ("--caption", args.caption is not None), ("--label", args.label is not None)) if on]
        if used:
            raise RBMError(f"{', '.join(used)}: only with --format latex (got --format {args.format})")
    else:
        latex.check()
    specs = tables_for(load_records(args.dirs), baseline=args.baseline, suite=args.suite,
                       majority_row=args.majority_row)
    text = render(specs, args.format, latex=latex)
    if args.output:
        atomic_write_text(Path(args.output), text)
    else:
        print(text)
    return 0
