"""Seed statistics, paired tests and the stratified bootstrap of worst-group accuracy."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from robustbench_match.stats import (bootstrap_group_ci, format_p, group_accuracies, paired_test, summarize,
                                     worst_group)


def test_summarize_mean_sd_max_drops_nan():
    s = summarize([0.5, 0.7, float("nan"), 0.6])
    assert s.n == 3 and s.mean == pytest.approx(0.6) and s.max == 0.7 and s.min == 0.5
    assert s.sd == pytest.approx(0.1)
    assert np.isnan(summarize([0.4]).sd) and summarize([]).n == 0


def test_paired_test_matches_scipy_and_handles_degenerate_cases():
    a, b = [0.71, 0.69, 0.74, 0.70, 0.73], [0.68, 0.69, 0.70, 0.66, 0.71]
    t = paired_test(a, b, "ttest")
    ref = sps.ttest_rel(a, b)
    assert t.p_value == pytest.approx(ref.pvalue) and t.mean_diff == pytest.approx(0.026)
    w = paired_test(a, b, "wilcoxon")
    assert 0 < w.p_value <= 1
    assert np.isnan(paired_test([0.5], [0.4]).p_value)
    assert np.isnan(paired_test([0.5, 0.6], [0.5, 0.6]).p_value)
    with pytest.raises(ValueError):
        paired_test([0.1, 0.2], [0.1])
    assert format_p(0.0004) == "<0.001" and format_p(0.0312) == "0.031" and format_p(float("nan")) == "–"


def test_bootstrap_worst_group_ci_covers_and_is_seeded():
    rng = np.random.default_rng(0)
    sizes, accs = [2000, 60, 1500], [0.9, 0.5, 0.8]
    groups = np.concatenate([np.full(n, g) for g, n in enumerate(sizes)])
    correct = np.concatenate([rng.random(n) < a for n, a in zip(sizes, accs)])
    observed = worst_group(group_accuracies(correct, groups, 3))
    ci, per_group = bootstrap_group_ci(correct, groups, 3, n_boot=500, seed=7)
    assert ci.low <= observed <= ci.high
    assert 0.15 < ci.high - ci.low < 0.35  # ±1.96·sqrt(.25/60) ≈ ±0.13 for the small group
    big = per_group[0, 1] - per_group[0, 0]
    assert big < 0.05  # the large group's interval is narrow
    again, _ = bootstrap_group_ci(correct, groups, 3, n_boot=500, seed=7)
    assert again == ci
    empty = group_accuracies(np.array([1, 0]), np.array([0, 0]), 2)
    assert empty[0] == 0.5 and np.isnan(empty[1])
