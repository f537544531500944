"""The ``perturbation`` suite kind (CheckList's INV / DIR / MFT tests on any task): evaluator.py (plans and scores
cells), params.py (typed suite params), layout.py (its tables); the families live in ``robustbench_match.perturbations``."""
