"""`rbm table DIR...`: tables from stored results (never re-runs a model)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import RBMError
from ..reports.tables import FORMATS, LatexOptions, render, tables_for
from ..results import RESULTS_FILE, atomic_write_text, load_records

HELP = "render stored results as Markdown, LaTeX, CSV or JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="result folders (the --output of rbm run)")
    parser.add_argument("--format", default="markdown", choices=FORMATS)
    parser.add_argument("--baseline", help="row the Δ column compares against (default: vanilla, else the first)")
    parser.add_argument("--suite", help="only this suite's results")
    parser.add_argument("--majority-row", action="store_true",
                        help="add a 'majority class' reference row: the score of always predicting the eval set's "
                             "most frequent label (from the records' details.majority_score)")
    parser.add_argument("--ci", action="store_true",
                        help="print every paired Δ with its 95 %% interval over seeds (t-interval of the per-seed "
                             "differences)")
    latex = parser.add_argument_group("LaTeX (--format latex)")
    latex.add_argument("--standalone", action="store_true", help="a complete document (compiles alone with pdflatex)")
    latex.add_argument("--latex-fragment", action="store_true",
                       help="bare tabular environments only (for \\input inside your own table; notes as comments)")
    latex.add_argument("--caption", help="caption of the table float (default: the table's title); notes follow it")
    latex.add_argument("--label", help="\\label of the table float (further tables get -2, -3, …)")
    parser.add_argument("--perturbation-metric", default="flip_rate", choices=["flip_rate", "drop", "perturbed"],
                        help="perturbation suite: what each family column shows — flip_rate (share of changed rows "
                             "whose prediction changed; DIR families: violation rate), drop (clean − perturbed main "
                             "metric) or perturbed (the main metric on the perturbed set)")
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
                       majority_row=args.majority_row, ci=args.ci, perturbation_metric=args.perturbation_metric)
    text = render(specs, args.format, latex=latex)
    if args.output:
        check_table_output(Path(args.output))
        atomic_write_text(Path(args.output), text)
    else:
        print(text)
    return 0


#: suffixes a table file may have (an existing file with another suffix is never overwritten)
TABLE_SUFFIXES = (".md", ".markdown", ".tex", ".csv", ".json")


def check_table_output(path: Path) -> None:
    """``-o`` may create a file or replace an earlier table, never a results file, a folder, a file of a
    model folder, or a file that is not a table (its data would be lost)."""
    if path.is_dir():
        raise RBMError(f"-o {path}: is a folder (expected a file name for the table, e.g. table.md)")
    if path.name == RESULTS_FILE or path.name.startswith(".results"):
        raise RBMError(f"-o {path}: refusing to overwrite a results file with a table (choose e.g. table.md)")
    if path.exists() and (path.suffix.lower() not in TABLE_SUFFIXES or not _looks_like_table(path)):
        raise RBMError(f"-o {path}: exists and is not a table written by rbm table (expected a new file or an "
                       f"earlier {'/'.join(TABLE_SUFFIXES)} table); nothing was written")


def _looks_like_table(path: Path) -> bool:
    """An earlier output of rbm table, by its shape: Markdown starts with a ``### title``, CSV with
    ``method,table``, LaTeX holds a tabular, JSON is our list of tables (a README, a data CSV or a
    predictions file is none of these, so it is never replaced)."""
    if (path.parent / "config.json").is_file():
        return False  # a file of a model folder
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        return text.lstrip().startswith("### ")
    if suffix == ".csv":
        return text.startswith("method,table")
    if suffix == ".tex":
        return "\\begin{tabular}" in text
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, list) and all(isinstance(t, dict) and "title" in t for t in data)
