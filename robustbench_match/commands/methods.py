"""``rbm methods``: the fine-tuning methods, what they do and their default hyperparameters."""
from __future__ import annotations

import argparse
import json

from ..training.methods import COMPOSED_EXAMPLES, METHODS, method_class

HELP = "list the fine-tuning methods and their defaults"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. 'match*'")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def describe(pattern: str = "*") -> list[dict]:
    rows = []
    for name in METHODS.names(pattern):
        cls = method_class(name)
        rows.append({"method": name, "summary": cls.summary, "classification_only": cls.classification_only,
                     "defaults": {p.flag: p.default for p in cls.params}})
    return rows


def run(args: argparse.Namespace) -> int:
    rows = describe(args.pattern)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max((len(r["method"]) for r in rows), default=10)
    for r in rows:
        defaults = " ".join(f"{k} {v}" for k, v in r["defaults"].items()) or "-"
        only = " (classification only)" if r["classification_only"] else ""
        print(f"{r['method']:<{width}}  {r['summary']}{only}\n{'':<{width}}  defaults: {defaults}")
    print(f"\nCombine methods with '+', e.g. {', '.join(COMPOSED_EXAMPLES)}.")
    return 0
