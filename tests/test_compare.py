"""`rbm compare` on a small real run: GLUE dev SST-2 (accuracy → McNemar) and MRPC (F1 → paired bootstrap),
three seeds per model, checkpoints given as predictions files (so the run takes seconds) and scored by
`rbm run --save-predictions` exactly as any checkpoint is."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import f1_score

from robustbench_match.cli import main
from robustbench_match.data import load_split
from robustbench_match.results import predictions_path

SEEDS = (1, 2, 3)


def noisy(labels: np.ndarray, share: float, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(labels.size) < share, 1 - labels, labels).tolist()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir) -> Path:
    tmp = tmp_path_factory.mktemp("compare")
    gold = {t: load_split(t, "validation", data_dir).labels for t in ("sst2", "mrpc")}
    args = ["run", "glue-dev", "--tasks", "sst2,mrpc", "--data-dir", data_dir, "--output", str(tmp / "run"),
            "--save-predictions", "--format", "none"]
    for model, share in (("good", 0.10), ("worse", 0.20), ("constant", None)):
        for seed in SEEDS:
            preds = {t: ([0] * len(y) if share is None else noisy(y, share, seed * 100 + len(model)))
                     for t, y in gold.items()}
            path = tmp / f"{model}-{seed}.json"
            path.write_text(json.dumps(preds))
            args += ["--checkpoint", f"seed-{seed}/{model}={path}"]
    assert main(args) == 0
    return tmp / "run"


def compare_json(capsys, *args) -> list[dict]:
    capsys.readouterr()
    assert main(["compare", *map(str, args), "--format", "json", "--n-boot", "2000"]) == 0
    return json.loads(capsys.readouterr().out)


def predictions(run_dir: Path, model: str, task: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    recs = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    (rec,) = [r for r in recs if r["model"] == model and r["task"] == task and r["seed"] == seed]
    rows = [json.loads(x) for x in predictions_path(run_dir, rec).read_text().splitlines()]
    return np.asarray([r["label"] for r in rows]), np.asarray([r["prediction"] for r in rows])


def test_per_seed_mcnemar_and_bootstrap_from_saved_predictions(run_dir, capsys):
    rows = compare_json(capsys, run_dir, "--a", "good", "--b", "worse")
    per_seed = [r for r in rows if r["seed"] != "over seeds"]
    assert {(r["task"], r["seed"]) for r in per_seed} == {(t, s) for t in ("sst2", "mrpc") for s in SEEDS}
    for r in per_seed:
        y, a = predictions(run_dir, "good", r["task"], r["seed"])
        _, b = predictions(run_dir, "worse", r["task"], r["seed"])
        if r["task"] == "sst2":  # accuracy: exact McNemar, equal to scipy's exact binomial on the discordant pairs
            only_a, only_b = int(np.sum((a == y) & (b != y))), int(np.sum((a != y) & (b == y)))
            assert r["test"] == "McNemar (exact)" and r["n"] == 872
            assert r["p"] == binomtest(only_a, only_a + only_b, 0.5).pvalue
            assert r["delta"] == pytest.approx((a == y).mean() - (b == y).mean())
            assert r["p"] < 1e-3  # 10 % vs 20 % errors on 872 sentences
        else:  # MRPC's F1: paired bootstrap
            assert r["metric"] == "f1" and r["test"].startswith("paired bootstrap (2000")
            assert r["delta"] == pytest.approx(f1_score(y, a) - f1_score(y, b))
            assert r["ci_low"] < r["delta"] < r["ci_high"] and r["p"] >= 2 / 2001


def test_over_three_seeds_the_sign_flip_test_cannot_go_below_025(run_dir, capsys):
    rows = compare_json(capsys, run_dir, "--a", "good", "--b", "worse", "--tasks", "sst2")
    (over,) = [r for r in rows if r["seed"] == "over seeds"]
    recs = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    acc = {m: [next(r["metrics"]["accuracy"] for r in recs if r["model"] == m and r["task"] == "sst2"
                    and r["seed"] == s) for s in SEEDS] for m in ("good", "worse")}
    assert over["n"] == 3 and over["test"] == "sign-flip (exact)"
    assert over["delta"] == pytest.approx(np.mean(acc["good"]) - np.mean(acc["worse"]))
    assert over["p"] == 0.25 and over["min_p"] == 0.25 and "too small for p < 0.05" in over["note"]


def test_markdown_marks_degenerate_models_and_csv_has_every_row(run_dir, capsys):
    capsys.readouterr()
    assert main(["compare", str(run_dir), "--a", "constant", "--b", "good", "--n-boot", "500"]) == 0
    text = capsys.readouterr().out
    assert "| task" in text and "McNemar (exact)" in text and "sign-flip (exact)" in text
    assert "†" in text and "† degenerate model" in text and "A: constant" in text
    assert "n=3 too small for p < 0.05" in text
    assert main(["compare", str(run_dir), "--a", "constant", "--b", "good", "--n-boot", "500", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("suite,task,eval_set") and len(lines) == 1 + 2 * (len(SEEDS) + 1)


def test_without_saved_predictions_says_so_and_still_tests_over_seeds(run_dir, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    recs = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    (bare / "results.jsonl").write_text("".join(json.dumps(dict(r, predictions_file=None)) + "\n" for r in recs))
    capsys.readouterr()
    assert main(["compare", str(bare), "--a", "good", "--b", "worse", "--format", "json"]) == 0
    out = capsys.readouterr()
    notes = [line for line in out.err.splitlines() if "--save-predictions" in line]
    assert len(notes) == 1 and "good" in notes[0] and "worse" in notes[0]
    rows = json.loads(out.out)
    assert all(r["test"] == "–" for r in rows if r["seed"] != "over seeds")
    assert [r["p"] for r in rows if r["seed"] == "over seeds"] == [0.25, 0.25]


def test_bad_input_is_one_line(run_dir, tmp_path, capsys):
    capsys.readouterr()
    assert main(["compare", str(run_dir), "--a", "nope", "--b", "good"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'nope'" in err[0] and "models: constant, good, worse" in err[0]
    assert main(["compare", str(run_dir), "--a", "good", "--b", "good"]) == 1
    assert main(["compare", str(tmp_path), "--a", "good", "--b", "worse"]) == 1
    assert "no results.jsonl" in capsys.readouterr().err
    assert main(["compare", str(run_dir), "--a", "good", "--b", "worse", "--tasks", "rte"]) == 1
