"""robustbench-match: robustness evaluation and robust fine-tuning (Match-Tuning and baselines)."""
__version__ = "0.1.0"
