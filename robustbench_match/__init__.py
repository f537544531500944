"""robustbench-match: robustness evaluation and robust fine-tuning (Match-Tuning and baselines)."""
__version__ = "0.1.0"

__all__ = ["evaluate", "train", "table", "EvalResult", "__version__"]


def __getattr__(name: str):
    """``from robustbench_match import evaluate, train, table``: the Python API, imported on first use (so
    ``import robustbench_match`` and ``rbm suites`` stay light)."""
    if name in ("evaluate", "train", "table", "EvalResult"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'robustbench_match' has no attribute {name!r}")
