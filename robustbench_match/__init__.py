"""robustbench-match: robustness evaluation and robust fine-tuning (Match-Tuning and baselines).

Data flows one way — task data → model → predictions → metrics → store → tables — and so do imports.
Layers, lowest first; a module imports only from its own layer or a lower one, and no modules import
each other in a circle (``tests/test_layers.py`` reads this list and fails on an upward or circular
import; imports under ``if TYPE_CHECKING:`` are type hints, not imports):

0. _version, errors, registry, typed, inputs, models, progress, trackers
1. metrics, inference
2. tasks, figures
3. data, card, stats
4. results, conditions, checkpoints, tabulation, perturbations, attacks, augmentation
5. training
6. evaluators, suites
7. cells, cellrun, executors
8. runner
9. reports, model_card
10. api, commands, cli, __init__
"""
from ._version import __version__

__all__ = ["evaluate", "train", "table", "EvalResult", "__version__"]


def __getattr__(name: str):
    """``from robustbench_match import evaluate, train, table``: the Python API, imported on first use (so
    ``import robustbench_match`` and ``rbm suites`` stay light)."""
    if name in ("evaluate", "train", "table", "EvalResult"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'robustbench_match' has no attribute {name!r}")
