"""mnli-negation end to end with a real (tiny) MiniLM NLI model: group metrics recomputed from predictions."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from scipy.stats import binomtest

from paths import DATA_DIR
from robustbench_match.cli import main
from robustbench_match.conditions import assign_negation_groups
from robustbench_match.data import load_split
from robustbench_match.results import predictions_path

DATA = DATA_DIR
pytestmark = pytest.mark.skipif(not (DATA / "glue" / "MNLI").is_dir(), reason=f"no shared data at {DATA}")
N_EVAL = 400


@pytest.fixture(scope="module")
def mnli_checkpoint(tmp_path_factory):
    """No MNLI train split is available offline, so this *test fixture* trains on 48 rows of dev-mismatched
    and is evaluated on dev-matched only (a different set); the suite itself never does this."""
    from robustbench_match.training import TrainConfig, train

    mm = load_split("mnli", "validation_mismatched", DATA).subset(np.arange(48))
    mm.split = "train"
    out = tmp_path_factory.mktemp("mnli") / "erm"
    return train(TrainConfig(method="vanilla", task="mnli", seed=1, output=str(out), max_steps=3, batch_size=8,
                             lr=1e-4, max_length=32), train_examples=mm)


def test_groups_end_to_end(mnli_checkpoint, tmp_path):
    suite = tmp_path / "neg.yaml"
    suite.write_text(yaml.safe_dump({
        "suite": "neg-test", "description": "test", "evaluator": "mnli-negation", "tasks": ["mnli"],
        "params": {"words": ["nobody", "no", "never", "nothing"], "eval_sets": ["mnli-m"],
                   "max_eval_examples": N_EVAL, "interval": {"method": "wilson", "level": 0.9}},
        "metadata": {"version": 1}}))
    out = tmp_path / "out"
    assert main(["run", str(suite), "--data-dir", str(DATA), "--output", str(out), "--checkpoint",
                 f"mnli/erm={mnli_checkpoint}", "--save-predictions", "--format", "none"]) == 0
    (rec,) = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    ex = load_split("mnli", "validation_matched", DATA).subset(np.arange(N_EVAL))
    groups = assign_negation_groups(ex)
    rows = [json.loads(x) for x in predictions_path(out, rec).read_text().splitlines()]
    correct = np.asarray([r["prediction"] == r["label"] for r in rows])
    by_group = {g["id"]: g for g in rec["details"]["groups"]}
    for g in range(6):
        mask = groups == g
        assert by_group[g]["size"] == int(mask.sum())
        assert by_group[g]["accuracy"] == pytest.approx(correct[mask].mean())
        ref = binomtest(int(correct[mask].sum()), int(mask.sum())).proportion_ci(0.9, method="wilson")
        assert (by_group[g]["ci_low"], by_group[g]["ci_high"]) == pytest.approx((ref.low, ref.high))
    m = rec["metrics"]
    assert m["accuracy"] == pytest.approx(correct.mean())
    worst = min(by_group.values(), key=lambda g: g["accuracy"])
    assert m["worst_group_accuracy"] == pytest.approx(worst["accuracy"]) and worst["worst"]
    # the worst group's CI is that group's own interval
    assert (m["worst_group_ci_low"], m["worst_group_ci_high"]) == (worst["ci_low"], worst["ci_high"])
    assert rec["details"]["interval"] == {"method": "wilson", "level": 0.9}
    # guard: always predicting the majority label leaves the groups of the other labels at 0
    labels = np.asarray([r["label"] for r in rows])
    majority = np.bincount(labels).argmax()
    assert rec["details"]["majority_score"] == 0.0 and rec["details"]["majority_class"] == ex.task.label_names[majority]
    assert isinstance(rec["degenerate"], bool) and rec["higher_is_better"]["worst_group_ci_low"] is True
    assert all(rec["higher_is_better"][k] is True for k in m)
    from robustbench_match.reports.tables import render, tables_for

    specs = tables_for([rec])
    assert specs[0].frame.loc["erm", "Avg Acc"].startswith(f"{m['accuracy'] * 100:.1f}")
    assert "(n=" in specs[1].frame.columns[0] and "begin{tabular}" in render(specs, "latex")


def test_zero_of_91_worst_group_keeps_an_exact_interval():
    """The issue's case: a group at 0/91 correct. Its Clopper-Pearson upper bound is ≈ 4 %, not 0."""
    from robustbench_match.evaluators.groups.evaluator import group_metrics

    groups = np.r_[np.zeros(91, int), np.ones(300, int), np.full(200, 2)]
    correct = np.r_[np.zeros(91, bool), np.ones(250, bool), np.zeros(50, bool), np.ones(150, bool), np.zeros(50, bool)]
    m, rows = group_metrics(correct, groups, ["a", "b", "c"])
    assert m["worst_group_accuracy"] == 0.0 and rows[0]["worst"] and rows[0]["correct"] == 0
    assert m["worst_group_ci_low"] == 0.0 and m["worst_group_ci_high"] == pytest.approx(0.0397, abs=1e-4)
    assert (rows[1]["ci_low"], rows[1]["ci_high"]) == pytest.approx(
        tuple(binomtest(250, 300).proportion_ci(method="exact")))


def test_interval_params_are_checked(tmp_path):
    from robustbench_match.errors import RBMError
    from robustbench_match.evaluators.groups.evaluator import GroupEvaluator
    from robustbench_match.suites import load_suite_file

    def suite(params: str):
        path = tmp_path / "s.yaml"
        path.write_text(f"suite: neg\nevaluator: mnli-negation\ntasks: [mnli]\nparams: {params}\n")
        return load_suite_file(path)

    assert GroupEvaluator.interval(suite("{}")) == {"method": "clopper-pearson", "level": 0.95}
    assert GroupEvaluator.interval(suite("{interval: wilson, bootstrap: {level: 0.9}}")) == {"method": "wilson", "level": 0.9}
    with pytest.raises(RBMError, match="params.interval.method 'percentile'"):
        GroupEvaluator.interval(suite("{interval: {method: percentile}}"))
    with pytest.raises(RBMError, match="between 0 and 1"):
        GroupEvaluator.interval(suite("{interval: {level: 95}}"))


def test_word_list_is_a_parameter(tmp_path):
    """A bare `no` in YAML is a boolean: the suite says so instead of silently dropping the word."""
    from robustbench_match.errors import RBMError
    from robustbench_match.evaluators.base import RunContext
    from robustbench_match.evaluators.groups.evaluator import GroupEvaluator
    from robustbench_match.suites import load_suite_file

    path = tmp_path / "bad.yaml"
    path.write_text("suite: neg\nevaluator: mnli-negation\ntasks: [mnli]\nparams:\n  words: [nobody, no]\n")
    with pytest.raises(RBMError, match="quote"):
        GroupEvaluator().plan(load_suite_file(path), RunContext(output=tmp_path, data_dir=str(DATA)))
