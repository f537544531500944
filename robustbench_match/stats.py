"""Statistics across seeds and over examples, built so that a table cannot overclaim.

* ``summarize`` — mean ± sd and mean (max) over seeds (Table 1 reports mean (max) over 10 seeds), with
  the number of seeds used *and* the number that were NaN, so a dropped seed is always visible.
* ``paired_test`` — two methods trained with the same seeds are paired by seed. At 3–10 seeds only an
  exact test is honest: the default is the paired sign-flip (permutation) test over all 2ⁿ sign
  assignments, whose smallest attainable p is 2/2ⁿ (0.25 at three seeds), never 0. The t-test and
  Wilcoxon stay available by name.
* ``mcnemar_exact`` / ``paired_bootstrap`` — two checkpoints on the *same examples*: exact McNemar for
  accuracy, a paired bootstrap over examples for F1/MCC/correlations (Dror et al., 2018).
* ``proportion_ci`` — Wilson or Clopper–Pearson intervals for an accuracy; a percentile bootstrap
  collapses to [0, 0] at 0/91 correct, the exact interval reaches ≈ 4 %.

Every resampling is seeded and the seed is returned with its result.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence, Union

import numpy as np
from scipy import stats as sps

PAIRED_TESTS = ("permutation", "ttest", "wilcoxon")
EXACT_MAX_N = 16  # up to 2^16 sign assignments are enumerated; beyond, Monte Carlo
MC_RESAMPLES = 100_000
MC_SEED = 0
PROPORTION_CI_METHODS = {"wilson": "wilson", "clopper-pearson": "exact"}


@dataclass(frozen=True)
class Summary:
    """Scores of one (method, cell) over seeds. ``n`` counts the finite values used, ``n_nan`` the seeds
    whose score was NaN (e.g. an undefined MCC): tables print both, nothing is dropped silently."""

    n: int
    mean: float
    sd: float  # sample standard deviation (ddof=1); NaN for one seed
    max: float
    min: float
    n_nan: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(values: Sequence[Optional[float]]) -> Summary:
    """Mean, sample sd, max and min of the finite values; NaN/None values are counted in ``n_nan``."""
    vals = [np.nan if v is None else float(v) for v in values]
    arr = np.asarray([v for v in vals if np.isfinite(v)], dtype=float)
    n_nan = len(vals) - int(arr.size)
    if arr.size == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, n_nan)
    sd = float(arr.std(ddof=1)) if arr.size > 1 else float("nan")
    return Summary(int(arr.size), float(arr.mean()), sd, float(arr.max()), float(arr.min()), n_nan)


# ---------------------------------------------------------------------------- across seeds
@dataclass(frozen=True)
class PairedTest:
    """A two-sided paired test of ``a - b`` over seeds."""

    test: str
    n: int  # pairs used (both values finite)
    mean_diff: float  # mean of a - b over the pairs used
    statistic: float  # permutation: the mean difference; ttest: t; wilcoxon: W
    p_value: float  # two-sided; NaN when it cannot be computed (n < 2; t-test on constant differences)
    min_p: float = float("nan")  # the smallest p this test can give at this n (2/2^n for the exact test)
    n_dropped: int = 0  # pairs dropped because a value was NaN
    n_resamples: int = 0  # 0: exact enumeration; else Monte Carlo sign assignments (seed ``seed``)
    seed: Optional[int] = None

    def can_reach(self, alpha: float = 0.05) -> bool:
        """Whether this n could give p < alpha at all (a table says "n too small" otherwise)."""
        return bool(np.isfinite(self.min_p) and self.min_p < alpha)


@functools.lru_cache(maxsize=None)
def _sign_matrix(n: int) -> np.ndarray:
    """All 2ⁿ sign assignments (rows), built once per n: a leaderboard runs thousands of tests."""
    signs = np.asarray(list(itertools.product((1.0, -1.0), repeat=n)))
    signs.setflags(write=False)
    return signs


def sign_flip_p(diff: np.ndarray, *, exact_max_n: int = EXACT_MAX_N, n_resamples: int = MC_RESAMPLES,
                seed: int = MC_SEED) -> tuple[float, float, int]:
    """Two-sided sign-flip p of the mean of ``diff``: (p, min attainable p, resamples; 0 = exact).

    Under H0 (no difference) each seed's difference is as likely positive as negative, so every one of
    the 2ⁿ sign assignments is equally likely; p is the share whose |mean| reaches the observed |mean|
    (with a relative tolerance of 1e-9 so that float rounding cannot drop the observed assignment).
    Monte Carlo beyond ``exact_max_n`` uses p = (b + 1)/(m + 1), which is never 0.
    """
    d = np.asarray(diff, dtype=float)
    n = d.size
    observed = abs(d.mean())
    tol = 1e-9 * max(float(np.abs(d).max()), 1e-300)
    if n <= exact_max_n:
        means = np.abs(_sign_matrix(n) @ d) / n
        return float(np.mean(means >= observed - tol)), 2.0 / 2 ** n, 0
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_resamples, 10_000):
        m = min(10_000, n_resamples - start)
        signs = rng.choice((1.0, -1.0), size=(m, n))
        hits += int(np.sum(np.abs(signs @ d) / n >= observed - tol))
    return (hits + 1) / (n_resamples + 1), max(2.0 / 2 ** n, 1.0 / (n_resamples + 1)), n_resamples


def paired_test(a: Sequence[float], b: Sequence[float], test: str = "permutation", *,
                n_resamples: int = MC_RESAMPLES, seed: int = MC_SEED) -> PairedTest:
    """Two-sided paired test of ``a`` vs ``b`` (same seeds, same order). Pairs with a NaN are dropped
    and counted in ``n_dropped``. Default: the exact sign-flip test (Monte Carlo beyond 16 pairs)."""
    if test not in PAIRED_TESTS:
        raise ValueError(f"paired test {test!r}: expected one of {PAIRED_TESTS}")
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired test: {x.size} vs {y.size} values (pair them by seed)")
    ok = np.isfinite(x) & np.isfinite(y)
    dropped = int((~ok).sum())
    x, y = x[ok], y[ok]
    diff = x - y
    n = int(diff.size)
    nan = float("nan")
    mean_diff = float(diff.mean()) if n else nan
    if n < 2:
        return PairedTest(test, n, mean_diff, nan, nan, 1.0 if n else nan, dropped)
    if test == "permutation":
        p, min_p, m = sign_flip_p(diff, n_resamples=n_resamples, seed=seed)
        return PairedTest(test, n, mean_diff, mean_diff, p, min_p, dropped, m, seed if m else None)
    if test == "ttest":
        if np.ptp(diff) <= 1e-12 * max(float(np.abs(diff).max()), 1e-300):
            # zero variance: t is ±inf (or 0/0) and the t-distribution says nothing; p = 0 would overclaim
            stat = nan if np.allclose(diff, 0) else float(np.sign(diff[0]) * np.inf)
            return PairedTest(test, n, mean_diff, stat, nan, 0.0, dropped)
        res = sps.ttest_rel(x, y)
        return PairedTest(test, n, mean_diff, float(res.statistic), float(res.pvalue), 0.0, dropped)
    if np.allclose(diff, 0):
        return PairedTest(test, n, mean_diff, nan, nan, 2.0 / 2 ** n, dropped)
    res = sps.wilcoxon(x, y)
    return PairedTest(test, n, mean_diff, float(res.statistic), float(res.pvalue), 2.0 / 2 ** n, dropped)


def t_interval(diff: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """The t-interval of the mean of paired per-seed differences (n − 1 degrees of freedom); NaN below two
    finite values. Seeds are few, so it is wide — which is the point: it says how large a difference the
    run could have missed, where "p > 0.05" alone would read as "no difference"."""
    d = np.asarray(diff, dtype=float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return float("nan"), float("nan")
    half = float(sps.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    return float(d.mean() - half), float(d.mean() + half)


def holm(p_values: Sequence[Optional[float]]) -> list[float]:
    """Holm's step-down adjustment (family-wise error) of the finite p-values, in input order; a missing or
    NaN p stays NaN and does not count in the family size m. adj_(i) = max_{j<=i} min(1, (m - j + 1) p_(j))."""
    p = np.array([np.nan if v is None else float(v) for v in p_values], dtype=float)
    ok = np.flatnonzero(np.isfinite(p))
    out = np.full(p.shape, np.nan)
    m = ok.size
    running = 0.0
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


# ---------------------------------------------------------------------------- over examples
@dataclass(frozen=True)
class McNemar:
    """Exact McNemar test of two classifiers on the same examples."""

    n: int
    a_only: int  # examples A gets right and B wrong
    b_only: int  # examples B gets right and A wrong
    accuracy_a: float
    accuracy_b: float
    p_value: float  # two-sided exact binomial on the discordant pairs; 1.0 when there are none

    @property
    def delta(self) -> float:
        return self.accuracy_a - self.accuracy_b


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> McNemar:
    """Exact McNemar: under H0 a discordant example is equally likely to favour A or B, so the number
    favouring A is Binomial(b + c, 1/2); the two-sided p is scipy's exact binomial test."""
    ca, cb = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if ca.shape != cb.shape:
        raise ValueError(f"McNemar: {ca.size} vs {cb.size} outcomes (the same examples in the same order)")
    b, c = int(np.sum(ca & ~cb)), int(np.sum(~ca & cb))
    p = float(sps.binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0
    n = int(ca.size)
    nan = float("nan")
    return McNemar(n, b, c, float(ca.mean()) if n else nan, float(cb.mean()) if n else nan, p)


@dataclass(frozen=True)
class BootstrapDelta:
    """Paired bootstrap of ``metric(a) - metric(b)`` over the same examples."""

    metric: str
    n: int
    delta: float  # on the full set
    ci_low: float
    ci_high: float
    level: float
    p_value: float  # two-sided: 2·(b + 1)/(m + 1), b = resamples whose delta is on the other side of 0
    n_boot: int  # resamples whose delta was defined (NaN resamples, e.g. constant correlations, dropped)
    seed: int


def _binary_counts(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
    tp = np.sum((y == 1) & (p == 1), axis=1).astype(float)
    fp = np.sum((y != 1) & (p == 1), axis=1).astype(float)
    fn = np.sum((y == 1) & (p != 1), axis=1).astype(float)
    tn = np.sum((y != 1) & (p != 1), axis=1).astype(float)
    return tp, fp, fn, tn


def _f1_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    tp, fp, fn, _ = _binary_counts(y, p)
    den = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)  # scikit-learn's zero_division=0


def _mcc_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    tp, fp, fn, tn = _binary_counts(y, p)
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (tp * tn - fp * fn) / np.where(den > 0, den, 1), 0.0)  # scikit-learn: 0


def _pearson_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    yc, pc = y - y.mean(axis=1, keepdims=True), p - p.mean(axis=1, keepdims=True)
    den = np.sqrt((yc ** 2).sum(axis=1) * (pc ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (yc * pc).sum(axis=1) / np.where(den > 0, den, 1), np.nan)


def _resampled_ranks(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank, as scipy's ``rankdata``) of ``values[idx]`` per row,
    from counts over the distinct values: O(rows × n) without sorting each resample."""
    uniq, inv = np.unique(values, return_inverse=True)
    rows, u = idx.shape[0], uniq.size
    flat = (inv[idx] + np.arange(rows)[:, None] * u).ravel()
    counts = np.bincount(flat, minlength=rows * u).reshape(rows, u).astype(float)
    avg = np.cumsum(counts, axis=1) - (counts - 1) / 2
    return np.take_along_axis(avg, inv[idx], axis=1)


def _row_metric(name: str, y: np.ndarray) -> Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """A vectorised form of a GLUE metric over resampled index rows ``(y, p, idx) -> one value per row``,
    where one exists; equal to the scikit-learn/scipy function (tested). Multiclass F1/MCC fall back
    to the registered function."""
    binary = y.dtype.kind in "iub" and set(np.unique(y).tolist()) <= {0, 1}
    table = {"accuracy": lambda yy, pp, idx: np.mean(yy[idx] == pp[idx], axis=1),
             "pearson": lambda yy, pp, idx: _pearson_rows(yy[idx].astype(float), pp[idx].astype(float)),
             "spearmanr": lambda yy, pp, idx: _pearson_rows(_resampled_ranks(yy, idx), _resampled_ranks(pp, idx))}
    if binary:
        table["f1"] = lambda yy, pp, idx: _f1_rows(yy[idx], pp[idx])
        table["matthews_correlation"] = lambda yy, pp, idx: _mcc_rows(yy[idx], pp[idx])
    return table.get(name)


def paired_bootstrap(y_true: Sequence, pred_a: Sequence, pred_b: Sequence,
                     metric: Union[str, Callable[[np.ndarray, np.ndarray], float]], n_boot: int = 10_000,
                     seed: int = 0, level: float = 0.95) -> BootstrapDelta:
    """Delta ``metric(a) - metric(b)`` with a percentile CI and a two-sided p from resampling example
    indices *jointly* (both systems see the same resampled examples, which keeps the pairing).

    p = min(1, 2·(b + 1)/(m + 1)) where b counts resamples whose delta lies on the other side of 0
    from the observed delta (or at 0): the percentile-bootstrap test of delta = 0, so p < 1 - level
    exactly when 0 is outside the CI (up to the +1 correction, which keeps p above 0).
    """
    from .metrics import METRICS

    y, a, b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    if not (y.shape == a.shape == b.shape):
        raise ValueError(f"paired bootstrap: {y.size} labels, {a.size} and {b.size} predictions")
    name = METRICS.canonical(metric) if isinstance(metric, str) else getattr(metric, "__name__", "metric")
    fn = METRICS.get(metric) if isinstance(metric, str) else metric
    rows = _row_metric(name, y) if isinstance(metric, str) else None
    with np.errstate(all="ignore"):
        delta = float(fn(y, a) - fn(y, b))
    rng = np.random.default_rng(seed)
    deltas = np.empty(n_boot)
    n = y.size
    chunk = max(1, 2_000_000 // max(n, 1))
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
        if rows is not None:
            deltas[start:start + len(idx)] = rows(y, a, idx) - rows(y, b, idx)
        else:
            with np.errstate(all="ignore"):
                deltas[start:start + len(idx)] = [fn(y[i], a[i]) - fn(y[i], b[i]) for i in idx]
    deltas = deltas[np.isfinite(deltas)]
    m = int(deltas.size)
    nan = float("nan")
    if m == 0 or not np.isfinite(delta):
        return BootstrapDelta(name, int(n), delta, nan, nan, level, nan, m, seed)
    alpha = (1 - level) / 2
    low, high = np.quantile(deltas, [alpha, 1 - alpha])
    if delta == 0:
        p = 1.0
    else:
        other = int(np.sum(deltas <= 0)) if delta > 0 else int(np.sum(deltas >= 0))
        p = min(1.0, 2 * (other + 1) / (m + 1))
    return BootstrapDelta(name, int(n), delta, float(low), float(high), level, p, m, seed)


# ---------------------------------------------------------------------------- intervals
def proportion_ci(k: int, n: int, method: str = "wilson", level: float = 0.95) -> tuple[float, float]:
    """Two-sided interval for a proportion k/n (``wilson`` or exact ``clopper-pearson``), via
    ``scipy.stats.binomtest``; (NaN, NaN) for n = 0. Never collapses at 0/n or n/n."""
    if method not in PROPORTION_CI_METHODS:
        raise ValueError(f"proportion CI method {method!r}: expected one of {list(PROPORTION_CI_METHODS)}")
    if n <= 0:
        return float("nan"), float("nan")
    ci = sps.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method=PROPORTION_CI_METHODS[method])
    return float(ci.low), float(ci.high)


def group_proportion_cis(correct: np.ndarray, groups: np.ndarray, n_groups: int, method: str = "clopper-pearson",
                         level: float = 0.95) -> np.ndarray:
    """Per-group accuracy intervals, shape ``(n_groups, 2)`` (NaN rows for empty groups)."""
    correct = np.asarray(correct, dtype=bool)
    groups = np.asarray(groups, dtype=np.int64)
    sizes = np.bincount(groups, minlength=n_groups)
    hits = np.bincount(groups, weights=correct.astype(float), minlength=n_groups)
    return np.asarray([proportion_ci(int(round(hits[g])), int(sizes[g]), method, level) for g in range(n_groups)])


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


def format_p(p: Optional[float]) -> str:
    """p-values as tables print them: ``0.031``, ``<0.001``, ``–`` when not computable."""
    if p is None or not np.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
