"""``rbm plot KIND ...``: a small registry of plot kinds, each in its own module.

A kind is a ``"module:attr"`` string naming an object with ``add_arguments(parser)`` and
``run(args) -> int``; only the chosen kind's module is imported. Adding a kind is one line::

    PLOTS["degradation"] = ("robustbench_match.suites.plots:DEGRADATION", "accuracy vs perturbation strength")
"""
from __future__ import annotations

import argparse
import importlib
from typing import Optional

HELP = "plot training dynamics, loss curves or degradation"

PLOTS: dict[str, tuple[str, str]] = {
    "dynamics": ("robustbench_match.training.plots:DYNAMICS",
                 "Match-Tuning's matching-matrix masses (self / same label / other label) during training (Fig. 3)"),
    "loss": ("robustbench_match.training.plots:LOSS", "training-loss curves of one or more checkpoints (Fig. 4)"),
    "degradation": ("robustbench_match.reports.degradation_plot:DEGRADATION",
                    "score vs noise / reduction ratio, one line per method (label-noise, minority results)"),
}


def load_kind(kind: str):
    module, attr = PLOTS[kind][0].split(":", 1)
    return getattr(importlib.import_module(module), attr)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="plot_kind", metavar="KIND", required=True)
    for kind, (_, help_text) in PLOTS.items():
        p = sub.add_parser(kind, help=help_text, description=help_text, add_help=False)
        p.set_defaults(plot_args=[])  # main() hands everything after KIND to the kind's own parser


def split_argv(argv: list[str]) -> tuple[list[str], Optional[list[str]]]:
    """``[..., "plot", KIND, *rest]`` → (up to KIND, rest): rest goes to KIND's own parser untouched, so
    ``rbm plot degradation -h`` and ``rbm plot loss -o x.pdf RUN`` work. No KIND: (argv, None)."""
    start = argv.index("plot")
    for i in range(start + 1, len(argv)):
        if argv[i] in PLOTS:
            return argv[:i + 1], argv[i + 1:]
        if not argv[i].startswith("-"):
            break
    return argv, None


def run(args: argparse.Namespace) -> int:
    """Parse the kind's own arguments with its own parser, then draw."""
    kind = load_kind(args.plot_kind)
    parser = argparse.ArgumentParser(prog=f"rbm plot {args.plot_kind}", description=PLOTS[args.plot_kind][1])
    kind.add_arguments(parser)
    return int(kind.run(parser.parse_args(args.plot_args)) or 0)
