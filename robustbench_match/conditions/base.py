"""What every training-time condition shares: its result type, names and the condition registry."""
from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..data import Examples, training_pool  # training_pool: re-exported (it lives in the data layer)
from ..errors import RBMError
from ..registry import Registry


@dataclass
class Perturbed:
    """A perturbed training set and what was done to it (stored in manifests and results)."""

    examples: Examples
    condition: str  # e.g. "noise-10", "minority-30"
    kind: str  # registry name: "label-noise" or "minority"
    ratio: float
    seed: int
    changed: np.ndarray  # dataset idx (row in the source split) of the rows flipped / dropped
    info: dict = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return self.examples.sha256

    def manifest(self) -> dict:
        """JSON-ready provenance: enough to regenerate the set and check a copy of it."""
        return {"condition": self.condition, "kind": self.kind, "ratio": self.ratio, "seed": self.seed,
                "task": self.examples.task.name, "n_rows": len(self.examples), "n_changed": int(len(self.changed)),
                "train_data_sha256": self.sha256, **self.info}


PerturbFn = Callable[[Examples, float, int], Perturbed]
CONDITIONS: Registry[PerturbFn] = Registry("condition")

#: short prefixes used in cell conditions and ``--checkpoint rte/noise-10/...`` names
PREFIXES: dict[str, str] = {"label-noise": "noise", "minority": "minority"}


def parse_ratio(value: float | int | str) -> float:
    """``0.1`` or ``"10%"`` → 0.1. A bare number is a fraction in (0, 1); a percentage says so with ``%``.

    Why so strict: ``1.5`` could mean 1.5 % or 150 %, ``1`` 1 % or 100 %, and ``0`` would silently be the
    clean condition (which suites add with ``include_clean``); each guess would train on other data than asked.
    """
    text = str(value).strip()
    percent = text.endswith("%")
    expected = "expected a fraction in (0, 1) such as 0.1, or a percentage in (0, 100) written with % such as 10%"
    try:
        ratio = float(text[:-1] if percent else text)
    except ValueError:
        raise RBMError(f"ratio {value!r}: {expected}") from None
    if isinstance(value, bool) or not math.isfinite(ratio):
        raise RBMError(f"ratio {value!r}: {expected}")
    if percent:
        ratio /= 100.0
    if not 0.0 < ratio < 1.0:
        raise RBMError(f"ratio {value!r}: {expected}")
    return round(ratio, 6)


def condition_name(kind: str, ratio: float) -> str:
    """``("label-noise", 0.1)`` → ``"noise-10"``; ratio 0 is the clean condition."""
    if ratio == 0:
        return "clean"
    pct = ratio * 100
    label = f"{pct:g}" if abs(pct - round(pct)) > 1e-9 else str(int(round(pct)))
    return f"{PREFIXES[CONDITIONS.canonical(kind)]}-{label}"


def parse_condition(name: str) -> tuple[str, float]:
    """Inverse of :func:`condition_name`: ``"noise-10"`` → ``("label-noise", 0.1)``."""
    if name == "clean":
        return "clean", 0.0
    m = re.fullmatch(r"([a-z-]+?)-(\d+(?:\.\d+)?)", name)
    kinds = {v: k for k, v in PREFIXES.items()}
    if not m or m.group(1) not in kinds:
        raise RBMError(f"condition {name!r}: expected clean, noise-PCT or minority-PCT (e.g. noise-10)")
    return kinds[m.group(1)], parse_ratio(m.group(2) + "%")


def get_condition(kind: str) -> PerturbFn:
    return CONDITIONS.get(kind)


def count_for(ratio: float, n: int) -> int:
    """round(ratio·n), halves rounded up (Python's round() would round 2.5 to 2)."""
    return int(np.floor(ratio * n + 0.5 + 1e-9))


def rng_for(kind: str, task: str, seed: int) -> np.random.Generator:
    """One random stream per (condition kind, task, seed) — independent of the ratio, so that the
    sets of a seed are nested (the 5 % flips are the first 5 % of the 10 % flips) and the degradation
    curve measures the ratio, not a different draw at each point."""
    return np.random.default_rng([int(seed), zlib.crc32(f"{kind}/{task}".encode())])


def perturbed_training_set(kind: str, examples: Examples, ratio: float, seed: int,
                           max_examples: int | None = None, pool_seed: int = 0) -> Perturbed:
    """The training set of one cell: the (optionally sampled) pool, then the condition's perturbation.
    Ratio 0 (``clean``) returns the pool itself, so clean cells share the same rows."""
    pool = training_pool(examples, max_examples, pool_seed)
    if ratio == 0:
        return Perturbed(pool, "clean", "clean", 0.0, int(seed), np.zeros(0, dtype=np.int64),
                         {"source_sha256": pool.sha256, "n_source": len(pool)})
    return get_condition(kind)(pool, ratio, seed)
