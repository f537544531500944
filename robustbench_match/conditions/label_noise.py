"""Label noise (paper Table 3): flip exactly round(r·N) training labels, each to another label."""
from __future__ import annotations

import numpy as np

from ..data import Examples
from ..errors import RBMError
from .base import CONDITIONS, Perturbed, condition_name, count_for, rng_for


@CONDITIONS.register("label-noise", aliases=("noise", "label_noise"))
def inject_label_noise(examples: Examples, ratio: float, seed: int) -> Perturbed:
    """Flip ``round(ratio·N)`` labels at positions drawn uniformly without replacement; each flipped
    label moves to one of the *other* labels, chosen uniformly. Row order and texts are unchanged.

    The position order and the label offsets are drawn once per (task, seed) for the whole set, so a
    higher ratio flips a superset of the rows of a lower one, each to the same wrong label.
    """
    task = examples.task
    if task.is_regression:
        raise RBMError(f"label-noise: task {task.name} is a regression task (expected a classification task)")
    n, k = len(examples), task.num_labels
    rng = rng_for("label-noise", task.rng_key, seed)
    order = rng.permutation(n)
    offsets = rng.integers(1, k, size=n)  # 1..k-1: never the same label
    flip = np.sort(order[:count_for(ratio, n)])
    labels = examples.labels.copy()
    labels[flip] = (labels[flip] + offsets[flip]) % k
    source = f"{examples.source} [{condition_name('label-noise', ratio)} seed={seed}]"
    return Perturbed(examples.with_labels(labels, source), condition_name("label-noise", ratio), "label-noise",
                     ratio, int(seed), examples.idx[flip], {"source_sha256": examples.sha256, "n_source": n})
