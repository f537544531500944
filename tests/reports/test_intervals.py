"""Intervals wherever a difference is read (issue 21): `rbm table --ci` and `rbm compare` print the 95 %
t-interval of the paired per-seed differences, and `rbm compare` adjusts its p-values with Holm's method.
Each number is checked against an independent computation (scipy's t distribution; Holm by its definition)."""
from __future__ import annotations


import numpy as np
import pytest
from scipy import stats as sps

from robustbench_match.reports.tables import tables_for
from robustbench_match.stats import holm, t_interval

VANILLA = [0.801, 0.796, 0.806, 0.799, 0.810]
OTHER = [0.808, 0.799, 0.800, 0.812, 0.815]


def record(model: str, seed: int, value: float) -> dict:
    return {"suite": "s", "model": model, "task": "sst2", "eval_set": "sst2", "condition": "clean", "seed": seed,
            "main_metric": "accuracy", "metrics": {"accuracy": value}, "details": {}, "layout": "tasks"}


def reference_interval(diff) -> tuple[float, float]:
    d = np.asarray(diff)
    return sps.t.interval(0.95, d.size - 1, loc=d.mean(), scale=sps.sem(d))


def test_t_interval_equals_scipy():
    diff = np.subtract(OTHER, VANILLA)
    assert t_interval(diff) == pytest.approx(reference_interval(diff), abs=1e-12)
    assert all(np.isnan(t_interval([0.1])))
    assert t_interval([0.1, np.nan, 0.3, 0.2]) == pytest.approx(reference_interval([0.1, 0.3, 0.2]))


def test_table_ci_prints_the_interval_of_the_paired_seeds():
    records = [record("vanilla", s + 1, v) for s, v in enumerate(VANILLA)]
    records += [record("other", s + 1, v) for s, v in enumerate(OTHER)]
    records.append(record("other", 9, 0.9))  # an unpaired seed: not in Δ, its p or its interval
    (plain,) = tables_for(records)
    (spec,) = tables_for(records, ci=True)
    text = spec.frame.loc["other", "Δ"]
    low, high = reference_interval(np.subtract(OTHER, VANILLA))
    delta = np.mean(np.subtract(OTHER, VANILLA))
    assert text == f"{delta * 100:+.2f} [{low * 100:+.2f}, {high * 100:+.2f}]".replace("-", "−")
    assert plain.frame.loc["other", "Δ"] == f"{delta * 100:+.2f}".replace("-", "−")  # off by default
    assert "95 % t-interval" in spec.note and "95 % t-interval" not in plain.note


def holm_reference(p: list[float]) -> list[float]:
    """Holm by its definition: reject H_(1..k) while p_(j) <= alpha/(m-j+1); the adjusted p of a hypothesis is
    the smallest alpha at which it is rejected, searched over a fine grid of the candidate values."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    candidates = sorted({min(1.0, (m - j) * p[i]) for j, i in enumerate(order)})
    out = [1.0] * m
    for alpha in reversed(candidates):
        rejected = set()
        for j, i in enumerate(order):
            if p[i] * (m - j) <= alpha + 1e-15:
                rejected.add(i)
            else:
                break
        for i in rejected:
            out[i] = alpha
    return out


@pytest.mark.parametrize("p", [
    [0.01, 0.04, 0.03, 0.005],  # textbook: adjusted 0.03, 0.06, 0.06, 0.02
    [0.031, 0.031, 0.25, 0.875, 0.5, 0.0625],
    list(np.random.default_rng(0).uniform(0, 0.2, 9)),
])
def test_holm_equals_its_definition(p):
    assert holm(p) == pytest.approx(holm_reference(p), abs=1e-12)
    if p[:4] == [0.01, 0.04, 0.03, 0.005]:
        assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_leaves_missing_p_out_of_the_family():
    assert holm([0.02, None, float("nan"), 0.04]) == pytest.approx([0.04, np.nan, np.nan, 0.04], nan_ok=True)


def test_compare_prints_holm_and_the_interval_over_seeds(tmp_path, capsys):
    from robustbench_match.cli import main
    from robustbench_match.results import ResultStore

    store = ResultStore(tmp_path)
    scores = {"sst2": (VANILLA, OTHER), "cola": ([0.20, 0.22, 0.18, 0.25, 0.21], [0.15, 0.19, 0.14, 0.18, 0.20])}
    for task, (van, oth) in scores.items():
        for model, values in (("vanilla", van), ("other", oth)):
            for s, v in enumerate(values):
                rec = record(model, s + 1, v)
                rec.update(task=task, eval_set=task, key=f"s|{model}|{task}|clean|{s + 1}")
                if task == "cola":
                    rec["main_metric"], rec["metrics"] = "matthews_correlation", {"matthews_correlation": v}
                store.put(rec)
    assert main(["compare", str(tmp_path), "--a", "other", "--b", "vanilla", "--format", "json"]) == 0
    import json

    rows = [r for r in json.loads(capsys.readouterr().out) if r["seed"] == "over seeds"]
    assert len(rows) == 2
    raw = [r["p"] for r in rows]
    assert [r["p_holm"] for r in rows] == pytest.approx(holm_reference(raw))
    for r in rows:
        van, oth = scores[r["task"]]
        assert (r["ci_low"], r["ci_high"]) == pytest.approx(reference_interval(np.subtract(oth, van)))
