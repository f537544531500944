"""The textattack suite end to end on a real fine-tuned MiniLM (conftest's SST-2 checkpoint), offline:
DeepWordBug and PWWS lower accuracy, metrics equal a recomputation from the CSV log and TextAttack's
own metric classes, our wrapper's logits equal the stock wrapper's, and a killed run resumes."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from robustbench_match.attacks.environment import import_textattack
from robustbench_match.evaluators.base import CheckpointRef, RunContext

N_EXAMPLES = 6


def _ctx(tmp: Path, checkpoint: str, data_dir: str, **options) -> RunContext:
    opts = {"recipe": ["deepwordbug", "pwws"], "num_examples": N_EXAMPLES, "query_budget": None, **options}
    return RunContext(output=tmp, checkpoints=[CheckpointRef.parse(f"sst2/minilm={checkpoint}")], data_dir=data_dir,
                      device="cpu", options=opts)


@pytest.fixture(scope="session")
def attack_checkpoint(request) -> str:
    """conftest's fine-tuned SST-2 MiniLM (sst2_checkpoint), or one already fine-tuned at $RBM_TEST_SST2_CHECKPOINT."""
    return os.environ.get("RBM_TEST_SST2_CHECKPOINT") or request.getfixturevalue("sst2_checkpoint")


@pytest.fixture(scope="module")
def offline(data_dir):
    """No network in CI: declare it, so a missing resource can never trigger a download attempt."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RBM_OFFLINE", "1")
    import_textattack(data_dir)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory, attack_checkpoint, data_dir, offline):
    from robustbench_match.runner import run_suite
    from robustbench_match.suites import get_suite

    out = tmp_path_factory.mktemp("attack-run")
    records = run_suite(get_suite("textattack"), _ctx(out, attack_checkpoint, data_dir))
    return out, {r["condition"]: r for r in records}


def _recompute(log_path: str) -> dict:
    """The metrics from the CSV alone, written out independently of attacks.metrics."""
    with open(log_path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    kinds = [r["result"] for r in rows]
    n, ok, bad, skip = len(rows), kinds.count("successful"), kinds.count("failed"), kinds.count("skipped")
    pct = [100 * int(r["words_changed"]) / int(r["num_words"]) for r in rows if r["result"] == "successful"]
    return {"n": n, "original_accuracy": (n - skip) / n, "accuracy_under_attack": bad / n,
            "attack_success_rate": ok / (ok + bad), "avg_perturbed_word_pct": float(np.mean([p for p in pct if p > 0])),
            "avg_words_per_input": float(np.mean([int(r["num_words"]) for r in rows])),
            "avg_queries": float(np.mean([int(r["num_queries"]) for r in rows if r["result"] != "skipped"]))}


@pytest.mark.parametrize("recipe", ["deepwordbug", "pwws"])
def test_attack_lowers_accuracy_and_metrics_match_the_log(suite_run, recipe):
    out, records = suite_run
    record = records[f"attack:{recipe}"]
    m = record["metrics"]
    assert record["n_examples"] == N_EXAMPLES and record["main_metric"] == "accuracy_under_attack"
    assert m["original_accuracy"] >= 0.6  # a real fine-tuned model, not chance
    assert m["accuracy_under_attack"] < m["original_accuracy"]
    assert m["attack_success_rate"] > 0
    again = _recompute(out / record["details"]["log"])  # stored relative to the run folder
    assert again["n"] == N_EXAMPLES
    for key in ("original_accuracy", "accuracy_under_attack", "attack_success_rate", "avg_perturbed_word_pct",
                "avg_words_per_input", "avg_queries"):
        assert m[key] == pytest.approx(again[key], abs=1e-9), key
    assert record["details"]["recipe"] == recipe and len(record["details"]["sample_indices"]) == N_EXAMPLES


def test_same_sample_for_every_recipe_and_table(suite_run):
    from robustbench_match.reports.tables import render, tables_for

    _, records = suite_run
    samples = {tuple(r["details"]["sample_indices"]) for r in records.values()}
    assert len(samples) == 1
    text = render(tables_for(list(records.values())), "markdown")
    assert "SST-2 attacked" in text and "SST-2 drop" in text and "pwws" in text


def test_metrics_equal_textattack_metric_classes(attack_checkpoint, data_dir, offline):
    from robustbench_match.evaluators.textattack.evaluator import attack_input, sample_positions
    from robustbench_match.attacks.metrics import attack_metrics, log_row, textattack_reference
    from robustbench_match.attacks.recipes import build_attack
    from robustbench_match.attacks.wrapper import fast_wrapper
    from robustbench_match.checkpoints import HFCheckpoint
    from robustbench_match.data import load_split

    ckpt = HFCheckpoint("m", attack_checkpoint, device="cpu")
    model, tok = ckpt.load()
    examples = load_split("sst2", "validation", data_dir)
    sample = examples.subset(sample_positions(len(examples), 3, 5))
    attack = build_attack("deepwordbug", fast_wrapper(model, tok, device="cpu"), data_dir=data_dir)
    results = [attack.attack(attack_input(sample, p), int(sample.labels[p])) for p in range(len(sample))]
    ours = attack_metrics([log_row(r, position=i, idx=0, label=0, seconds=0) for i, r in enumerate(results)])
    ref = textattack_reference(results)
    for key in ("original_accuracy", "accuracy_under_attack", "attack_success_rate"):
        assert round(ours[key] * 100, 2) == pytest.approx(ref[key]), key
    for key in ("avg_perturbed_word_pct", "avg_words_per_input", "avg_queries"):
        if not np.isnan(ours[key]):
            assert round(ours[key], 2) == pytest.approx(ref[key]), key


def test_wrapper_logits_equal_stock_wrapper(attack_checkpoint, data_dir, offline):
    from robustbench_match.attacks.wrapper import fast_wrapper, stock_wrapper
    from robustbench_match.checkpoints import HFCheckpoint
    from robustbench_match.data import load_split

    model, tok = HFCheckpoint("m", attack_checkpoint, device="cpu").load()
    ours, stock = fast_wrapper(model, tok, batch_size=8, device="cpu", precision="fp32"), stock_wrapper(model, tok)
    single = load_split("sst2", "validation", data_dir).text_a[:12]
    rte = load_split("rte", "validation", data_dir)
    pairs = list(zip(rte.text_a[:6], rte.text_b[:6]))  # TextAttack hands pair tasks (premise, hypothesis) tuples
    for texts in (single, pairs):
        got, want = ours(texts).numpy(), stock(texts).detach().numpy()
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_permuted_label_order_is_remapped(attack_checkpoint, tmp_path, offline):
    """A checkpoint with id2label swapped (and its classifier rows swapped) scores the same in task order."""
    import torch

    from robustbench_match.attacks.wrapper import fast_wrapper
    from robustbench_match.checkpoints import HFCheckpoint
    from robustbench_match.tasks import get_task

    model, tok = HFCheckpoint("m", attack_checkpoint, device="cpu").load()
    swapped_dir = tmp_path / "swapped"
    model.save_pretrained(swapped_dir)
    tok.save_pretrained(swapped_dir)
    swapped = HFCheckpoint("s", str(swapped_dir), device="cpu")
    smodel, _ = swapped.load()
    with torch.no_grad():
        smodel.classifier.weight.copy_(model.classifier.weight.flip(0))
        smodel.classifier.bias.copy_(model.classifier.bias.flip(0))
    smodel.config.id2label = {0: "positive", 1: "negative"}
    smodel.config.label2id = {"positive": 0, "negative": 1}
    mapping, how = swapped.label_map(get_task("sst2"))
    assert how == "by-name"
    texts = ["a gorgeous, witty film", "dull and lifeless from start to finish"]
    np.testing.assert_allclose(fast_wrapper(smodel, tok, label_map=mapping, device="cpu")(texts).numpy(),
                               fast_wrapper(model, tok, device="cpu")(texts).numpy(), atol=1e-5)


def test_killed_run_resumes_at_next_unattacked_example(suite_run, attack_checkpoint, data_dir, tmp_path, monkeypatch):
    """Cut the DeepWordBug log after 5 rows plus a torn one, rerun: only the rest is attacked, same metrics."""
    import shutil

    from robustbench_match.evaluators.textattack import evaluator as ev
    from robustbench_match.runner import run_suite
    from robustbench_match.suites import get_suite

    out, records = suite_run
    full = records["attack:deepwordbug"]
    cell_dir = (out / full["details"]["log"]).parent
    resumed_out = tmp_path / "resumed"
    shutil.copytree(cell_dir, resumed_out / "cells" / cell_dir.relative_to(out / "cells"))
    log_path = resumed_out / "cells" / cell_dir.relative_to(out / "cells") / ev.LOG_NAME
    lines = log_path.read_text(encoding="utf-8").splitlines(keepends=True)
    log_path.write_text("".join(lines[:6]) + lines[6][:25], encoding="utf-8")  # header + 5 rows + torn row
    from robustbench_match.attacks import single  # one example's attack, shared with adversarial training

    attacked: list[int] = []
    original = single.log_row
    monkeypatch.setattr(single, "log_row", lambda result, **kw: attacked.append(kw["position"]) or original(result, **kw))
    records2 = run_suite(get_suite("textattack"), _ctx(resumed_out, attack_checkpoint, data_dir, recipe=["deepwordbug"]))
    assert attacked == list(range(5, N_EXAMPLES))
    assert records2[0]["metrics"] == full["metrics"]


def test_missing_resource_fails_in_one_line_before_attacking(attack_checkpoint, data_dir, tmp_path, capsys, offline):
    from robustbench_match.cli import main

    code = main(["run", "textattack", "--recipe", "textfooler", "--checkpoint", f"sst2/minilm={attack_checkpoint}",
                 "--data-dir", data_dir, "--num-examples", "2", "--output", str(tmp_path), "--device", "cpu"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("rbm run: error")]
    assert code == 1 and "Traceback" not in err
    assert len(errors) == 1 and "textfooler" in errors[0] and "word_embeddings/paragramcf" in errors[0]
    assert not (tmp_path / "results.jsonl").exists() or "textfooler" not in (tmp_path / "results.jsonl").read_text()


@pytest.mark.slow
def test_rte_pairs_deepwordbug_lowers_accuracy(tmp_path_factory, data_dir, offline):
    """RTE (premise, hypothesis) pairs through the whole suite, on a MiniLM fine-tuned on all of RTE train."""
    from robustbench_match.runner import run_suite
    from robustbench_match.suites import get_suite
    from robustbench_match.training import TrainConfig, train

    out = tmp_path_factory.mktemp("rte")
    ckpt = train(TrainConfig(method="vanilla", task="rte", seed=1, output=str(out / "rte-vanilla"), data_dir=data_dir,
                             epochs=3, batch_size=16, lr=5e-5, max_length=128))
    ctx = RunContext(output=out / "run", checkpoints=[CheckpointRef.parse(f"rte/minilm={ckpt}")], data_dir=data_dir,
                     device="cpu", options={"recipe": ["deepwordbug"], "num_examples": 30, "query_budget": None})
    (record,) = run_suite(get_suite("textattack"), ctx)
    m = record["metrics"]
    assert m["original_accuracy"] > 0.5
    assert m["accuracy_under_attack"] < m["original_accuracy"]
    assert m["avg_words_per_input"] > 40  # both texts of the pair were attacked and counted
