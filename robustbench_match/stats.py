"""Statistics across seeds and over examples: what the paper's tables leave out.

* ``summarize`` — mean ± sd and mean (max) over seeds (Table 1 reports mean (max) over 10 seeds).
* ``paired_test`` — two methods trained with the same seeds are paired by seed; a paired test
  (t-test, or Wilcoxon signed-rank when normality is doubtful) is the honest comparison at n=3..10.
* ``bootstrap_group_ci`` — worst-group accuracy on MNLI rests on a few hundred examples in the
  smallest group; a stratified bootstrap (examples resampled within each group, sizes fixed) gives
  its 95 % interval. Every resampling is seeded and the seed is returned with the interval.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

import numpy as np
from scipy import stats as sps

PAIRED_TESTS = ("ttest", "wilcoxon")


@dataclass(frozen=True)
class Summary:
    """Scores of one (method, cell) over seeds."""

    n: int
    mean: float
    sd: float  # sample standard deviation (ddof=1); NaN for one seed
    max: float
    min: float

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(values: Sequence[float]) -> Summary:
    """Mean, sample sd, max and min of finite values (NaN scores — e.g. a degenerate MCC — are dropped)."""
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if arr.size == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan)
    sd = float(arr.std(ddof=1)) if arr.size > 1 else float("nan")
    return Summary(int(arr.size), float(arr.mean()), sd, float(arr.max()), float(arr.min()))


@dataclass(frozen=True)
class PairedTest:
    test: str
    n: int
    mean_diff: float  # mean of a - b over paired seeds
    statistic: float
    p_value: float  # two-sided; NaN when it cannot be computed (n < 2, or all differences zero)


def paired_test(a: Sequence[float], b: Sequence[float], test: str = "ttest") -> PairedTest:
    """Two-sided paired test of ``a`` vs ``b`` (same seeds, same order)."""
    if test not in PAIRED_TESTS:
        raise ValueError(f"paired test {test!r}: expected one of {PAIRED_TESTS}")
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired test: {x.size} vs {y.size} values (pair them by seed)")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    diff = x - y
    nan = float("nan")
    mean_diff = float(diff.mean()) if diff.size else nan
    if diff.size < 2 or np.allclose(diff, 0):
        return PairedTest(test, int(diff.size), mean_diff, nan, nan)
    if test == "ttest":
        if np.allclose(diff, diff[0]):  # zero variance: t is infinite, p is 0 only in the limit
            return PairedTest(test, int(diff.size), mean_diff, float("inf") * np.sign(diff[0]), 0.0)
        res = sps.ttest_rel(x, y)
    else:
        res = sps.wilcoxon(x, y)
    return PairedTest(test, int(diff.size), mean_diff, float(res.statistic), float(res.pvalue))


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float
    n_boot: int
    seed: int


def group_accuracies(correct: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Accuracy per group id 0..n_groups-1 (NaN for an empty group)."""
    correct = np.asarray(correct, dtype=float)
    sizes = np.bincount(groups, minlength=n_groups)
    hits = np.bincount(groups, weights=correct, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sizes > 0, hits / np.maximum(sizes, 1), np.nan)


def worst_group(acc: np.ndarray) -> float:
    return float(np.nanmin(acc)) if np.isfinite(acc).any() else float("nan")


def bootstrap_group_ci(correct: np.ndarray, groups: np.ndarray, n_groups: int,
                       statistic: Callable[[np.ndarray], float] = worst_group, *, n_boot: int = 1000,
                       level: float = 0.95, seed: int = 0) -> tuple[Interval, np.ndarray]:
    """Percentile CI of ``statistic(per-group accuracies)`` under a stratified bootstrap, plus the
    per-group percentile intervals (shape ``(n_groups, 2)``).

    Resampling within groups keeps each group's size fixed, as the evaluation set fixes it; only the
    uncertainty of each group's accuracy propagates to the worst group.
    """
    correct = np.asarray(correct, dtype=float)
    groups = np.asarray(groups, dtype=np.int64)
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(groups == g) for g in range(n_groups)]
    boot = np.full((n_boot, n_groups), np.nan)
    for g, idx in enumerate(members):
        if idx.size:
            draws = rng.integers(0, idx.size, size=(n_boot, idx.size))
            boot[:, g] = correct[idx][draws].mean(axis=1)
    stat = np.asarray([statistic(row) for row in boot])
    alpha = (1 - level) / 2
    low, high = np.nanquantile(stat, [alpha, 1 - alpha])
    per_group = np.full((n_groups, 2), np.nan)
    for g, idx in enumerate(members):
        if idx.size:
            per_group[g] = np.quantile(boot[:, g], [alpha, 1 - alpha])
    return Interval(float(low), float(high), level, n_boot, seed), per_group


def format_p(p: Optional[float]) -> str:
    """p-values as tables print them: ``0.031``, ``<0.001``, ``–`` when not computable."""
    if p is None or not np.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
