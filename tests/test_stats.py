"""Seed statistics, the exact sign-flip test, McNemar, the paired bootstrap and exact proportion CIs.

The numbers are checked against brute-force enumerations or scipy's own exact tests, so a wrong
implementation fails; the paired tests use real GLUE dev labels where example-level data is needed.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps

from robustbench_match.metrics import METRICS
from robustbench_match.stats import (format_p, group_accuracies, group_proportion_cis,
                                     mcnemar_exact, paired_bootstrap, paired_test, proportion_ci, sign_flip_p,
                                     summarize, worst_group)


def test_summarize_counts_nan_seeds_instead_of_hiding_them():
    s = summarize([0.5, 0.7, float("nan"), 0.6, None])
    assert s.n == 3 and s.n_nan == 2 and s.mean == pytest.approx(0.6) and s.max == 0.7 and s.min == 0.5
    assert s.sd == pytest.approx(0.1)
    assert np.isnan(summarize([0.4]).sd) and summarize([]).n == 0
    empty = summarize([float("nan")] * 3)
    assert empty.n == 0 and empty.n_nan == 3 and np.isnan(empty.mean)


def test_constant_difference_over_three_seeds_is_not_significant():
    """The issue's case: 38.51 vs 43.24 on every seed. Only 2 of the 2^3 sign assignments reach the
    observed |mean|, so p = 0.25 exactly — and no test at n = 3 can go lower."""
    other, vanilla = [38.51, 38.51, 38.51], [43.24, 43.24, 43.24]
    t = paired_test(other, vanilla)
    assert t.test == "permutation" and t.n == 3 and t.n_resamples == 0
    assert t.p_value == 0.25 and t.min_p == 0.25 and not t.can_reach(0.05)
    assert t.mean_diff == pytest.approx(-4.73)
    tt = paired_test(other, vanilla, "ttest")  # opt-in t-test: zero variance is "not computable", never p = 0
    assert np.isnan(tt.p_value) and tt.statistic == -np.inf
    assert paired_test(other, vanilla, "wilcoxon").p_value == pytest.approx(0.25)
    assert format_p(t.p_value) == "0.250"


def brute_force_sign_flip(d):
    """Reference: every sign assignment, one at a time, in plain Python."""
    obs = abs(sum(d) / len(d))
    hits = sum(abs(sum(s * x for s, x in zip(signs, d)) / len(d)) >= obs - 1e-12
               for signs in itertools.product((1, -1), repeat=len(d)))
    return hits / 2 ** len(d)


def test_exact_enumeration_equals_brute_force_at_n5():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = rng.normal(0.8, 0.02, 5), rng.normal(0.79, 0.02, 5)
        t = paired_test(a, b)
        assert t.p_value == pytest.approx(brute_force_sign_flip(list(a - b)), abs=1e-12)
        assert t.min_p == 2 / 32 and t.p_value >= t.min_p
    # ties in |d|: the tolerance keeps the observed assignment even when float sums are reordered
    assert paired_test([0.3, 0.1, 0.2, 0.7, 0.4], [0.2, 0.2, 0.1, 0.6, 0.3]).p_value == \
        pytest.approx(brute_force_sign_flip([0.1, -0.1, 0.1, 0.1, 0.1]))


def test_monte_carlo_beyond_16_pairs_agrees_with_exact_and_is_never_zero():
    rng = np.random.default_rng(5)
    d = rng.normal(0.4, 1.0, 18)
    exact, exact_min, m0 = sign_flip_p(d, exact_max_n=18)
    t = paired_test(d, np.zeros(18))
    assert m0 == 0 and t.n_resamples > 0 and t.seed == 0
    assert t.p_value == pytest.approx(exact, abs=0.01)
    assert paired_test(d, np.zeros(18)) == t  # seeded
    far = paired_test(np.full(30, 1.0) + rng.normal(0, 0.01, 30), np.zeros(30))
    assert far.p_value == pytest.approx(1 / (far.n_resamples + 1)) and far.p_value > 0


def test_nan_pairs_are_dropped_and_counted():
    t = paired_test([0.7, float("nan"), 0.72, 0.69], [0.6, 0.61, float("nan"), 0.62])
    assert t.n == 2 and t.n_dropped == 2 and t.p_value == 0.5 and t.min_p == 0.5
    one = paired_test([0.5], [0.4])
    assert np.isnan(one.p_value) and one.n == 1
    same = paired_test([0.5, 0.6], [0.5, 0.6])
    assert same.p_value == 1.0 and same.mean_diff == 0
    with pytest.raises(ValueError):
        paired_test([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="expected one of"):
        paired_test([0.1, 0.2], [0.1, 0.3], "z-test")
    assert format_p(0.0004) == "<0.001" and format_p(0.0312) == "0.031" and format_p(float("nan")) == "–"


@pytest.fixture(scope="module")
def sst2_dev(data_dir):
    from robustbench_match.data import load_split

    return load_split("sst2", "validation", data_dir)


def test_mcnemar_equals_scipy_exact_binomial_on_real_size_vectors(sst2_dev):
    y = sst2_dev.labels
    rng = np.random.default_rng(0)
    for flip_a, flip_b in ((0.12, 0.15), (0.2, 0.2), (0.1, 0.3)):
        a = np.where(rng.random(y.size) < flip_a, 1 - y, y)
        b = np.where(rng.random(y.size) < flip_b, 1 - y, y)
        m = mcnemar_exact(a == y, b == y)
        only_a, only_b = int(np.sum((a == y) & (b != y))), int(np.sum((a != y) & (b == y)))
        assert (m.a_only, m.b_only, m.n) == (only_a, only_b, 872)
        assert m.p_value == sps.binomtest(only_a, only_a + only_b, 0.5).pvalue
        assert m.delta == pytest.approx((a == y).mean() - (b == y).mean())
    assert mcnemar_exact(y == y, y == y).p_value == 1.0  # no discordant pair: no evidence


@pytest.mark.parametrize("metric", ["accuracy", "f1", "mcc", "pearson", "spearmanr"])
def test_vectorised_bootstrap_equals_the_registered_metric_resample_by_resample(metric):
    """The fast path (confusion counts, rank counts) gives the same deltas as scikit-learn/scipy."""
    rng = np.random.default_rng(1)
    if metric in ("pearson", "spearmanr"):
        y = np.round(rng.random(300) * 5, 1)  # STS-B-like scores with ties
        a, b = y + rng.normal(0, 1, 300), np.round(y + rng.normal(0, 1.5, 300), 1)
    else:
        y = rng.integers(0, 2, 300)
        a, b = np.where(rng.random(300) < 0.2, 1 - y, y), np.where(rng.random(300) < 0.3, 1 - y, y)
    fn = METRICS.get(metric)
    fast = paired_bootstrap(y, a, b, metric, n_boot=300, seed=4)
    slow = paired_bootstrap(y, a, b, lambda yy, pp: fn(yy, pp), n_boot=300, seed=4)
    assert fast.delta == pytest.approx(fn(y, a) - fn(y, b))
    assert (fast.ci_low, fast.ci_high, fast.p_value, fast.n_boot) == pytest.approx(
        (slow.ci_low, slow.ci_high, slow.p_value, slow.n_boot), abs=1e-9)
    assert fast.seed == 4 and fast.metric == METRICS.canonical(metric)


def test_paired_bootstrap_p_and_ci_on_real_mrpc_labels(data_dir):
    from robustbench_match.data import load_split

    y = load_split("mrpc", "validation", data_dir).labels
    rng = np.random.default_rng(2)
    good = np.where(rng.random(y.size) < 0.1, 1 - y, y)
    bad = np.where(rng.random(y.size) < 0.3, 1 - y, y)
    res = paired_bootstrap(y, good, bad, "f1", n_boot=2000, seed=0)
    assert res.delta > 0 and res.ci_low > 0 and res.p_value < 0.01 and res.p_value >= 2 / 2001
    same = paired_bootstrap(y, good, good, "f1", n_boot=500)
    assert same.delta == 0 and same.p_value == 1.0
    assert paired_bootstrap(y, good, bad, "f1", n_boot=2000, seed=0) == res


def test_clopper_pearson_and_wilson_do_not_collapse_at_zero():
    low, high = proportion_ci(0, 91, "clopper-pearson")
    assert low == 0 and high == pytest.approx(0.0397, abs=1e-4)
    assert high == pytest.approx(1 - 0.025 ** (1 / 91))  # closed form of the exact bound at k = 0
    wl, wh = proportion_ci(0, 91, "wilson")
    assert wl == pytest.approx(0, abs=1e-12) and 0.03 < wh < 0.05
    assert proportion_ci(91, 91, "clopper-pearson")[0] == pytest.approx(1 - high)
    assert all(np.isnan(proportion_ci(0, 0)))
    with pytest.raises(ValueError):
        proportion_ci(1, 2, "bootstrap")


def test_group_intervals_are_each_groups_own_exact_interval():
    sizes, hits = [2000, 91, 1500], [1800, 0, 1200]
    groups = np.concatenate([np.full(n, g) for g, n in enumerate(sizes)])
    correct = np.concatenate([np.arange(n) < k for n, k in zip(sizes, hits)])
    cis = group_proportion_cis(correct, groups, 3, "clopper-pearson")
    for g in range(3):
        ref = sps.binomtest(hits[g], sizes[g]).proportion_ci(method="exact")
        assert tuple(cis[g]) == pytest.approx((ref.low, ref.high))
    assert cis[1, 1] == pytest.approx(0.0397, abs=1e-4)


def test_group_accuracies_leave_empty_groups_nan():
    assert worst_group(group_accuracies(np.array([1, 0, 1]), np.array([0, 0, 1]), 2)) == 0.5
    empty = group_accuracies(np.array([1, 0]), np.array([0, 0]), 2)
    assert empty[0] == 0.5 and np.isnan(empty[1])
