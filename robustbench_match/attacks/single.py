"""One example attacked by one TextAttack ``Attack``: shared by the textattack suite (dev samples) and
adversarial training (training rows), so both attack the same way and log the same row.
"""
from __future__ import annotations

import contextlib
import random
import time
from collections import OrderedDict
from typing import Any, Iterator

import numpy as np

from ..data import Examples
from .metrics import log_row


@contextlib.contextmanager
def preserved_random_state() -> Iterator[None]:
    """TextAttack's attacks (``set_seed``) and augmenters draw from and reseed the global python, numpy and torch
    streams: code that calls them inside a training run gets its own streams back afterwards."""
    import torch

    py, npy, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def sample_positions(n_total: int, num_examples: int, seed: int) -> np.ndarray:
    """The attacked sample: a seeded permutation's prefix, so a larger sample extends a smaller one."""
    order = np.random.default_rng(seed).permutation(n_total)
    return order[: min(num_examples, n_total)]


def attack_input(examples: Examples, position: int) -> str | OrderedDict:
    """What ``Attack.attack`` takes: a string, or an OrderedDict of the task's two text columns."""
    if examples.text_b is None:
        return examples.text_a[position]
    keys = examples.task.text_keys
    return OrderedDict((k, examples.texts[k][position]) for k in keys)


def example_seed(sample_seed: int, idx: int) -> int:
    """Per-example random seed: an example's attack does not depend on what was attacked before it."""
    return (sample_seed * 1_000_003 + int(idx)) % (2 ** 32)


def attack_example(attack: Any, examples: Examples, position: int, sample_seed: int) -> dict:
    """Attack one example with TextAttack's ``Attack.attack`` and return its log row.

    The attack's caches are cleared and the seed is set per example, so the outcome depends on the
    example alone (not on what was attacked before it): a resumed run equals an uninterrupted one.
    """
    import textattack

    idx, label = int(examples.idx[position]), int(examples.labels[position])
    attack.clear_cache()
    textattack.shared.utils.set_seed(example_seed(sample_seed, idx))
    start = time.perf_counter()
    result = attack.attack(attack_input(examples, position), label)
    return log_row(result, position=position, idx=idx, label=label, seconds=time.perf_counter() - start)
