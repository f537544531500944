"""label-noise and minority end to end: real GLUE slices, real MiniLM training, resumption, hash checks.

Budgets are tiny (a 48-row seeded pool of RTE, 3 optimiser steps, 32 tokens): these tests check the
plumbing and the protocol's invariants on what was really trained, not the scores.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from paths import DATA_DIR
from robustbench_match.cli import main
from robustbench_match.conditions import perturbed_training_set
from robustbench_match.data import load_split
from robustbench_match.results import predictions_path

DATA = DATA_DIR
pytestmark = pytest.mark.skipif(not (DATA / "glue" / "RTE").is_dir(), reason=f"no shared data at {DATA}")
TINY_TRAIN = {"methods": ["vanilla"], "seeds": [1], "max_steps": 3, "batch_size": 8, "lr": 1e-4,
              "max_length": 32, "max_train_examples": 48}


def write_suite(folder: Path, name: str, evaluator: str, tasks: list[str], params: dict) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"suite": name, "description": "test", "evaluator": evaluator, "tasks": tasks,
                                    "params": params, "train": TINY_TRAIN, "metadata": {"version": 1}}))
    return path


def records(out: Path) -> dict[str, dict]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return {r["key"]: r for r in map(json.loads, lines)}


@pytest.fixture(scope="module")
def noise_run(tmp_path_factory):
    """label-noise on RTE, clean + 10 %, one tiny vanilla model each."""
    root = tmp_path_factory.mktemp("noise")
    suite = write_suite(root, "ln-test", "label-noise", ["rte"], {"ratios": [0.10]})
    out = root / "out"
    assert main(["run", str(suite), "--data-dir", str(DATA), "--output", str(out), "--format", "none"]) == 0
    return suite, out


def test_label_noise_trains_on_exactly_the_perturbed_pool(noise_run):
    suite, out = noise_run
    recs = records(out)
    assert set(recs) == {"ln-test|vanilla|rte|clean|1", "ln-test|vanilla|rte|noise-10|1"}
    pool = load_split("rte", "train", DATA)
    noisy = perturbed_training_set("label-noise", pool, 0.10, seed=1, max_examples=48)
    clean = perturbed_training_set("label-noise", pool, 0.0, seed=1, max_examples=48)
    assert int((noisy.examples.labels != clean.examples.labels).sum()) == 5 == round(0.10 * 48)
    rec = recs["ln-test|vanilla|rte|noise-10|1"]
    assert rec["checkpoint"]["train_data_sha256"] == noisy.sha256  # the card's hash: what was trained
    assert rec["checkpoint"]["train_condition"]["condition"] == "noise-10"
    assert rec["details"]["train_condition"]["n_changed"] == 5
    assert recs["ln-test|vanilla|rte|clean|1"]["checkpoint"]["train_data_sha256"] == clean.sha256
    assert rec["n_examples"] == 277 and rec["main_metric"] == "accuracy"  # scored on the clean dev set
    assert 0.0 <= rec["metrics"]["accuracy"] <= 1.0


def test_resume_after_a_lost_cell_retrains_nothing(noise_run, monkeypatch):
    """A kill loses at most the cell in flight: drop one stored record, rerun, and only that cell is
    redone, reusing its finished checkpoint (the trainer must not be called)."""
    suite, out = noise_run
    lines = (out / "results.jsonl").read_text().splitlines()
    kept = [line for line in lines if '"condition": "noise-10"' not in line]
    assert len(kept) == len(lines) - 1
    (out / "results.jsonl").write_text("\n".join(kept) + "\n")
    import robustbench_match.training as training

    def no_training(*args, **kwargs):
        raise AssertionError("a finished checkpoint was retrained")

    monkeypatch.setattr(training, "train", no_training)
    before = records(out)["ln-test|vanilla|rte|clean|1"]["date"]
    assert main(["run", str(suite), "--data-dir", str(DATA), "--output", str(out), "--format", "none"]) == 0
    after = records(out)
    assert len(after) == 2 and after["ln-test|vanilla|rte|clean|1"]["date"] == before


def test_external_checkpoint_must_carry_the_cells_data_hash(noise_run, tmp_path, capsys):
    suite, out = noise_run
    ckpts = out / "checkpoints" / "ln-test" / "rte"
    wrong = ckpts / "clean" / "vanilla" / "seed-1"
    right = ckpts / "noise-10" / "vanilla" / "seed-1"
    args = ["run", str(suite), "--data-dir", str(DATA), "--format", "none"]
    assert main([*args, "--output", str(tmp_path / "a"), "--checkpoint", f"rte/noise-10/seed-1/mine={wrong}"]) == 1
    assert "train_data_sha256" in capsys.readouterr().err
    assert main([*args, "--output", str(tmp_path / "b"), "--checkpoint", f"rte/noise-10/seed-1/mine={right}"]) == 0
    rec = records(tmp_path / "b")["ln-test|mine|rte|noise-10|1"]
    # stored relative to the run folder (records hold no machine path): the same folder
    assert rec["condition"] == "noise-10" and (tmp_path / "b" / rec["checkpoint"]["path"]).resolve() == right.resolve()


def test_label_noise_tables_markdown_and_latex(noise_run):
    from robustbench_match.reports.tables import render, tables_for

    recs = list(records(noise_run[1]).values())
    specs = tables_for(recs)
    assert [s.title.split("— ")[-1] for s in specs] == ["clean", "10 %"]
    noisy = specs[1].frame
    clean_acc = recs[0]["metrics"]["accuracy"] if recs[0]["condition"] == "clean" else recs[1]["metrics"]["accuracy"]
    noisy_acc = next(r["metrics"]["accuracy"] for r in recs if r["condition"] == "noise-10")
    drop = (clean_acc - noisy_acc) * 100
    dagger = "†" if any(r.get("degenerate") for r in recs) else ""  # a one-class model (either cell) is marked
    assert noisy.loc["vanilla", "Avg"] == f"{noisy_acc * 100:.2f}{dagger} ({'↑' if drop <= 0 else '↓'} {abs(drop):.2f})"
    latex = render(specs, "latex")
    assert r"\begin{tabular}" in latex and (r"\downarrow" in latex or r"\uparrow" in latex)


def test_minority_end_to_end_keeps_exact_label_one_count(tmp_path):
    suite = write_suite(tmp_path, "mi-test", "minority", ["rte"], {"ratios": [0.30], "include_clean": False})
    out = tmp_path / "out"
    assert main(["run", str(suite), "--data-dir", str(DATA), "--output", str(out), "--format", "none",
                 "--save-predictions"]) == 0
    recs = records(out)
    rec = recs["mi-test|vanilla|rte|minority-30|1"]
    pool = perturbed_training_set("minority", load_split("rte", "train", DATA), 0.0, 1, max_examples=48).examples
    reduced = perturbed_training_set("minority", load_split("rte", "train", DATA), 0.30, 1, max_examples=48).examples
    n1 = int((pool.labels == 1).sum())
    assert int((reduced.labels == 1).sum()) == int(np.floor(0.3 * n1 + 0.5))
    assert int((reduced.labels == 0).sum()) == int((pool.labels == 0).sum())
    assert rec["checkpoint"]["train_data_sha256"] == reduced.sha256
    # the metric is accuracy on the dev rows labelled 1, recomputed from the saved predictions
    rows = [json.loads(x) for x in predictions_path(out, rec).read_text().splitlines()]
    ones = [r for r in rows if r["label"] == 1]
    assert len(ones) == 131 == rec["details"]["n_minority_dev"]  # RTE dev: 131 not_entailment
    assert rec["metrics"]["minority_accuracy"] == pytest.approx(np.mean([r["prediction"] == 1 for r in ones]))
    from robustbench_match.reports.tables import render, tables_for

    text = render(tables_for(list(recs.values())), "markdown")
    assert "Minority class" in text and "30 %" in text


def test_degradation_plot_draws_one_line_per_method(noise_run, tmp_path):
    from robustbench_match.reports.degradation_plot import curves, plot_degradation

    recs = list(records(noise_run[1]).values())
    lines = curves(recs, "label-noise")
    assert set(lines) == {"rte", "Avg"} and [p[0] for p in lines["rte"]["vanilla"]] == [0.0, 10.0]
    files = plot_degradation(recs, tmp_path)
    assert {f.suffix for f in files} == {".png", ".pdf"} and all(f.stat().st_size > 1000 for f in files)
    assert main(["plot", "degradation", str(noise_run[1]), "--output", str(tmp_path / "cli"), "--format", "png"]) == 0
    assert (tmp_path / "cli" / "degradation_ln-test.png").stat().st_size > 1000
