"""`rbm suites ['adv*']`: list the suites with their one-line descriptions."""
from __future__ import annotations

import argparse

from tabulate import tabulate

from ..errors import RBMError
from ..suites import list_suites

HELP = "list the suites (wildcards allowed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. 'adv*'")
    parser.add_argument("--include-path", action="append", default=[], help="extra folder of suite YAML files")


def run(args) -> int:
    suites = list_suites(args.pattern, args.include_path)
    if not suites:
        known = ", ".join(s.name for s in list_suites("*", args.include_path))
        raise RBMError(f"no suite matches {args.pattern!r} (known: {known})")
    rows = [(s.name, s.evaluator, ",".join(s.tasks), s.description) for s in suites]
    print(tabulate(rows, headers=["suite", "evaluator", "tasks", "description"], tablefmt="plain",
                   maxcolwidths=[None, None, 40, 70]))
    return 0
