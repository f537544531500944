"""`rbm report RUN_DIR... -o DIR`: a static HTML report (leaderboards, figures, adversarial examples, provenance)
from stored records only."""
from __future__ import annotations

import argparse

HELP = "write a static HTML report (leaderboards, plots, adversarial examples) from stored results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="result folders (the --output of rbm run)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="folder for index.html and records/ (new, empty, or an earlier rbm report's)")
    parser.add_argument("--baseline", help="row the Δ columns compare against (default: vanilla, else the first)")
    parser.add_argument("--title", help="page title (default: robustbench-match report)")


def run(args) -> int:
    from ..reports.html import build_report

    print(build_report(args.run_dirs, args.output, baseline=args.baseline, title=args.title))
    return 0
