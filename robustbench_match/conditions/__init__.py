"""Training-time conditions: deterministic perturbations of a training set.

Why a package of its own: the same perturbed set must be reproducible bit for bit by the runner
(which trains the cell), by ``rbm data export`` (which hands it to a method this project does not
ship) and by the checker (which compares a checkpoint card's data hash). Every perturbation is a
pure function of (examples, ratio, seed) and returns the new set plus a record of what changed.
"""
from __future__ import annotations

from .base import (CONDITIONS, Perturbed, condition_name, get_condition, parse_condition, parse_ratio,
                   perturbed_training_set, training_pool)
from .groups import NEGATION_WORDS, assign_negation_groups, group_names, has_negation
from .label_noise import inject_label_noise
from .minority import reduce_minority

__all__ = [
    "CONDITIONS", "NEGATION_WORDS", "Perturbed", "assign_negation_groups", "condition_name", "get_condition",
    "group_names", "has_negation", "inject_label_noise", "parse_condition", "parse_ratio", "perturbed_training_set",
    "reduce_minority", "training_pool",
]
