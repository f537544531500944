"""The ``rbm`` command. Each subcommand lives in its own module (lazy: ``rbm suites`` must not
import torch or textattack) exposing ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Optional, Sequence

from .errors import RBMError
from .registry import UnknownNameError

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("robustbench_match.commands.run", "evaluate checkpoints on a suite and store the results"),
    "run-cell": ("robustbench_match.commands.run_cell", "run one cell (or one job's cells) from the JSON spec(s) "
                                                         "that `rbm run` writes"),
    "status": ("robustbench_match.commands.status", "show done / running / failed cells of a run folder, with "
                                                    "job ids and log paths"),
    "compact": ("robustbench_match.commands.compact", "rewrite a run folder's results.jsonl with only the newest "
                                                      "record of each cell"),
    "suites": ("robustbench_match.commands.suites", "list the suites (wildcards allowed)"),
    "table": ("robustbench_match.commands.table", "render stored results as Markdown, LaTeX, CSV or JSON"),
    "report": ("robustbench_match.commands.report", "write a static HTML report (leaderboards, plots, adversarial "
                                                    "examples) from stored results"),
    "card": ("robustbench_match.commands.card", "write a Hugging Face Hub model card (model-index eval results) for "
                                                "one model's stored results; --push uploads it"),
    "compare": ("robustbench_match.commands.compare", "test whether model A differs from model B in a run "
                                                      "(per seed and over seeds)"),
    "train": ("robustbench_match.commands.train", "fine-tune a model with one of the bundled methods"),
    "methods": ("robustbench_match.commands.methods", "list the fine-tuning methods and their defaults"),
    "plot": ("robustbench_match.commands.plot", "plot training dynamics, loss curves or degradation"),
    "data": ("robustbench_match.commands.data", "export a perturbed training set (label noise, minority)"),
    "perturbations": ("robustbench_match.commands.perturbations",
                      "list the perturbation families, the tasks' DIR expectations and the MFT template files"),
    "resources": ("robustbench_match.commands.resources", "list attack recipes and whether their resources are present"),
    "tasks": ("robustbench_match.commands.tasks", "list the tasks: label order, metrics, eval sets, data folders"),
}


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows every real default (``(default: 16)``), but not None/False/[] or one the text already gives."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (default in (None, False, [], argparse.SUPPRESS) or "default" in text or not action.option_strings
                or isinstance(action, (argparse._HelpAction, argparse._VersionAction))):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    from ._version import __version__

    parser = argparse.ArgumentParser(prog="rbm", description="robustbench-match: robustness suites for fine-tuned NLP models")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"rbm (robustbench-match) {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
        if name == chosen:  # import only the module that runs
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest: Optional[list[str]] = None
    if next((a for a in argv if a in COMMANDS), None) == "plot":  # `rbm plot KIND ...`: the rest is KIND's own
        from .commands.plot import split_argv

        argv, rest = split_argv(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if rest is not None:
        args.plot_args = rest
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if "transformers" in sys.modules or args.command in ("run", "train", "run-cell"):
        import transformers

        # transformers' own chatter (fresh-head notices, fast-tokenizer pad hints) drowns our progress lines
        transformers.logging.set_verbosity_error()
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from .tasks import forget_user_tasks

    forget_user_tasks()  # the tasks of this command: the built-ins and its own --include-path folders
    try:
        return int(args._run(args) or 0)
    except (RBMError, UnknownNameError) as exc:
        print(f"rbm {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `rbm table RUN | head`: the reader closed the pipe; nothing is wrong here
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 1
    except KeyboardInterrupt:
        print(f"rbm {args.command}: interrupted; finished cells are saved, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
