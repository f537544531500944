"""The robustness layouts' arithmetic over several seeds: mean ± sd (max), drops, arrows and exact sign-flip p-values.

Records are built by hand here (three seeds, two methods) so that every printed number can be
checked against a direct computation; the end-to-end tests cover records made from real runs.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from robustbench_match.evaluators.groups.layout import counterpart, groups_layout
from robustbench_match.evaluators.training_conditions.layout import label_noise_layout, minority_layout

SCORES = {  # (method, condition, task) -> per-seed main metric
    ("vanilla", "clean", "rte"): [0.70, 0.68, 0.72], ("vanilla", "clean", "mrpc"): [0.88, 0.86, 0.87],
    ("vanilla", "noise-10", "rte"): [0.64, 0.63, 0.66], ("vanilla", "noise-10", "mrpc"): [0.84, 0.85, 0.83],
    ("match-tuning", "clean", "rte"): [0.71, 0.70, 0.73], ("match-tuning", "clean", "mrpc"): [0.89, 0.87, 0.88],
    ("match-tuning", "noise-10", "rte"): [0.68, 0.66, 0.69], ("match-tuning", "noise-10", "mrpc"): [0.86, 0.86, 0.85],
}


def record(model, condition, task, seed, value, main="accuracy"):
    return {"suite": "s", "model": model, "task": task, "eval_set": task, "condition": condition, "seed": seed,
            "main_metric": main, "metrics": {main: value, "minority_accuracy": value}, "details": {}}


@pytest.fixture
def noise_records():
    return [record(m, c, t, s + 1, v) for (m, c, t), vals in SCORES.items() for s, v in enumerate(vals)]


def sign_flip_reference(diff) -> float:
    """The exact paired sign-flip p, by enumerating the 2^n sign assignments one by one."""
    obs = abs(np.mean(diff))
    flips = [abs(np.mean(np.asarray(signs) * diff)) for signs in itertools.product((1, -1), repeat=len(diff))]
    return float(np.mean([f >= obs - 1e-12 for f in flips]))


def seed_avg(method, condition):
    return np.mean([SCORES[(method, condition, t)] for t in ("mrpc", "rte")], axis=0)


def test_label_noise_drop_is_from_the_same_methods_clean_avg(noise_records):
    clean, noisy = label_noise_layout(noise_records, None)
    assert list(noisy.frame.index) == ["vanilla", "match-tuning"]
    for m in ("vanilla", "match-tuning"):
        avg, drop = seed_avg(m, "noise-10").mean() * 100, (seed_avg(m, "clean").mean() - seed_avg(m, "noise-10").mean()) * 100
        assert noisy.frame.loc[m, "Avg"] == f"{avg:.2f} (↓ {drop:.2f})"
        p = sign_flip_reference(seed_avg(m, "noise-10") - seed_avg(m, "clean"))
        assert p == 0.25  # three seeds, every drop the same sign: the smallest p three seeds allow
        assert f"{p:.3f}" in noisy.frame.loc[m, "p"]
    rte = np.asarray(SCORES[("vanilla", "noise-10", "rte")]) * 100
    assert noisy.frame.loc["vanilla", "RTE"] == f"{rte.mean():.2f} ± {rte.std(ddof=1):.2f} ({rte.max():.2f})"
    # match-tuning's Avg is higher on every seed, but three seeds cannot reach p < 0.05: nothing bold
    assert not noisy.bold.to_numpy().any() and "cannot go below p = 0.25" in noisy.note


def test_minority_arrows_are_vs_vanilla(noise_records):
    recs = [dict(r, condition={"clean": "clean", "noise-10": "minority-30"}[r["condition"]]) for r in noise_records]
    clean, reduced = minority_layout(recs, None)
    assert reduced.frame.loc["vanilla", "Avg"].endswith("( - )")
    delta = (seed_avg("match-tuning", "noise-10").mean() - seed_avg("vanilla", "noise-10").mean()) * 100
    assert reduced.frame.loc["match-tuning", "Avg"].endswith(f"(↑ {delta:.2f})")
    p = sign_flip_reference(seed_avg("match-tuning", "noise-10") - seed_avg("vanilla", "noise-10"))
    assert f"{p:.3f}" in reduced.frame.loc["match-tuning", "p"]


def test_groups_compare_each_method_with_its_counterpart_without_mt():
    assert counterpart("group-dro+match-tuning", ["group-dro", "erm"]) == "group-dro"
    assert counterpart("match-tuning", ["vanilla", "group-dro"]) == "vanilla"
    assert counterpart("group-dro", ["vanilla", "group-dro"]) is None
    groups = [{"id": g, "name": f"g{g}", "size": 10 + g, "accuracy": 0.5 + 0.05 * g} for g in range(6)]
    recs = []
    for m, worst in (("erm", 0.60), ("erm+match-tuning", 0.62)):
        recs.append({"suite": "n", "model": m, "task": "mnli", "eval_set": "mnli-m", "condition": "clean", "seed": 1,
                     "main_metric": "worst_group_accuracy",
                     "metrics": {"accuracy": 0.8, "worst_group_accuracy": worst, "worst_group_ci_low": worst - 0.05,
                                 "worst_group_ci_high": worst + 0.04},
                     "details": {"groups": groups, "words": ["no"], "bootstrap": {"n": 100, "seed": 0}}})
    summary, detail = groups_layout(recs, None)
    assert summary.frame.loc["erm", "Worst-group Acc"] == "60.0 ( - )"
    assert summary.frame.loc["erm+match-tuning", "Worst-group Acc"] == "62.0 (↑ 2.0)"
    assert summary.frame.loc["erm", "95 % CI (worst)"] == "[55.0, 64.0]"
    assert list(detail.frame.columns)[0] == "g0 (n=10)"


def test_bold_needs_significance_and_skips_degenerate_rows():
    """Seven seeds: match-tuning beats vanilla on every seed (exact p = 2/2^7), so its Avg is bold; a
    degenerate row with an even higher score carries † and is neither bold nor the runner-up."""
    recs = []
    for seed in range(1, 8):
        for t in ("rte", "mrpc"):
            recs.append(record("vanilla", "noise-10", t, seed, 0.60 + 0.01 * seed))
            recs.append(record("match-tuning", "noise-10", t, seed, 0.63 + 0.01 * seed + 0.001 * (seed % 2)))
            recs.append(dict(record("constant", "noise-10", t, seed, 0.90), degenerate=True))
    (table,) = label_noise_layout(recs, None)
    assert table.bold.loc["match-tuning", "Avg"] and table.bold.to_numpy().sum() == 3  # RTE, MRPC, Avg
    assert not table.bold.loc["constant"].any() and table.frame.loc["constant", "Avg"].startswith("90.00†")
    assert table.frame.loc["constant", "RTE"] == "90.00 ± 0.00 (90.00)†"
    assert "constant / MRPC: 7 of 7 seeds" in table.note and "≥ 95 %" in table.note
    assert "cannot go below" not in table.note  # n = 7 can reach p < 0.05
    diff = np.full(7, 0.03) + 0.001 * (np.arange(1, 8) % 2)
    assert sign_flip_reference(diff) == pytest.approx(2 / 2 ** 7)


def test_runner_up_not_significant_bolds_nothing():
    """Seven seeds but the best row wins on only some of them: p >= 0.05, so no bold."""
    rng = np.random.default_rng(0)
    recs = []
    for seed in range(1, 8):
        noise = rng.normal(0, 0.02)
        recs.append(record("vanilla", "noise-10", "rte", seed, 0.60 + noise))
        recs.append(record("match-tuning", "noise-10", "rte", seed, 0.605 - noise))
    (table,) = label_noise_layout(recs, None)
    diff = [r2["metrics"]["accuracy"] - r1["metrics"]["accuracy"] for r1, r2 in zip(recs[::2], recs[1::2])]
    assert sign_flip_reference(diff) >= 0.05
    assert not table.bold.to_numpy().any()


def test_drop_pairs_seeds_when_one_condition_has_extra_seeds(noise_records):
    """Clean has seeds 4-5 too (much higher): the drop is over seeds 1-3, the sample its p tests, and says n."""
    extra = [record(m, "clean", t, s, 0.99) for m in ("vanilla", "match-tuning") for t in ("rte", "mrpc")
             for s in (4, 5)]
    clean, noisy = label_noise_layout(noise_records + extra, None)
    for m in ("vanilla", "match-tuning"):
        avg = seed_avg(m, "noise-10").mean() * 100
        drop = np.mean(seed_avg(m, "clean") - seed_avg(m, "noise-10")) * 100
        assert noisy.frame.loc[m, "Avg"] == f"{avg:.2f} (↓ {drop:.2f})"  # n=3 is the row's own n: not repeated
        assert noisy.frame.loc[m, "p"].startswith("0.250 (n=3)")
    flipped = [dict(r, condition="noise-10" if r["condition"] == "clean" else "clean") for r in noise_records + extra]
    _, noisy = label_noise_layout(flipped, None)  # now the noisy rows have 5 seeds and the reference 3
    assert noisy.frame.loc["vanilla", "Avg"].endswith("; n=3)")
