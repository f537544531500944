"""Minority class (paper Table 5): keep a seeded random r of the training instances labelled 1."""
from __future__ import annotations

import numpy as np

from ..data import Examples
from ..errors import RBMError
from ..metrics import MINORITY_LABEL  # the metric owns the label it scores; re-exported here
from .base import CONDITIONS, Perturbed, condition_name, count_for, rng_for


@CONDITIONS.register("minority", aliases=("minority-class", "reduction"))
def reduce_minority(examples: Examples, ratio: float, seed: int, label: int = MINORITY_LABEL) -> Perturbed:
    """Keep exactly ``round(ratio·N1)`` of the N1 rows labelled ``label`` (uniformly, seeded) and every
    other row, in the original order. ``ratio`` is the share *kept* (the paper's "reduce to 30 %").

    As with label noise the draw is one permutation per (task, seed): a 50 % set contains the 40 % set.
    """
    task = examples.task
    if task.is_regression or not 0 <= label < task.num_labels:
        raise RBMError(f"minority: task {task.name} has no label {label} (expected a classification task)")
    target = np.flatnonzero(examples.labels == label)
    rng = rng_for("minority", task.rng_key, seed)
    kept_target = rng.permutation(target)[:count_for(ratio, len(target))]
    keep = np.sort(np.concatenate([np.flatnonzero(examples.labels != label), kept_target]))
    dropped = np.setdiff1d(target, kept_target)  # positions
    subset = examples.subset(keep)
    subset.source = f"{examples.source} [{condition_name('minority', ratio)} seed={seed}]"
    return Perturbed(subset, condition_name("minority", ratio), "minority", ratio, int(seed), examples.idx[dropped],
                     {"source_sha256": examples.sha256, "n_source": len(examples), "minority_label": label,
                      "n_label_source": int(len(target)), "n_label_kept": int(len(kept_target))})
