"""MNLI negation groups (Sagawa et al., 2019): label × "hypothesis contains a negation word".

Sagawa et al. take the words from Gururangan et al. (2018) and test membership after deleting
ASCII punctuation, lower-casing and splitting on single spaces; we do exactly that, so group sizes
match theirs. Group id = label · 2 + has_negation, as in their ``group_array``.
"""
from __future__ import annotations

import string
from typing import Iterable, Sequence

import numpy as np

from ..data import Examples
from ..errors import RBMError

NEGATION_WORDS: tuple[str, ...] = ("nobody", "no", "never", "nothing")
_STRIP = str.maketrans("", "", string.punctuation)


def hypothesis_tokens(text: str) -> list[str]:
    return text.translate(_STRIP).lower().split(" ")


def has_negation(text: str, words: Iterable[str] = NEGATION_WORDS) -> bool:
    tokens = set(hypothesis_tokens(text))
    return any(w.lower() in tokens for w in words)


def assign_negation_groups(examples: Examples, words: Sequence[str] = NEGATION_WORDS,
                           field: str = "hypothesis") -> np.ndarray:
    """Group id per example: ``label * 2 + has_negation(field)``."""
    if examples.task.is_regression:
        raise RBMError(f"groups: task {examples.task.name} is a regression task (expected NLI labels)")
    if field not in examples.texts:
        raise RBMError(f"groups: task {examples.task.name} has no text field {field!r} "
                       f"(fields: {sorted(examples.texts)})")
    neg = np.fromiter((has_negation(t, words) for t in examples.texts[field]), dtype=np.int64,
                      count=len(examples))
    return examples.labels.astype(np.int64) * 2 + neg


def group_names(label_names: Sequence[str]) -> list[str]:
    """Display names in group-id order: ``entailment/no-negation``, ``entailment/negation``, …"""
    return [f"{label}/{'negation' if neg else 'no-negation'}" for label in label_names for neg in (0, 1)]


def with_groups(examples: Examples, words: Sequence[str] = NEGATION_WORDS) -> Examples:
    """The same examples with ``extra["group"]`` set (what GroupDRO training reads)."""
    groups = assign_negation_groups(examples, words)
    out = examples.subset(np.arange(len(examples)))
    out.source = examples.source
    out.extra["group"] = groups.tolist()
    return out
