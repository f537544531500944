"""Issue 37: training that answers a robustness failure — ``augment`` (TextAttack augmenter recipes) and
``adv-train`` (an attack in the loop, TextAttack's Trainer schedule) on rbm's one training loop.

The schedule test replaces only the per-row attack (so it runs in seconds and knows which rows succeed); the
real runs attack with DeepWordBug and augment with TextAttack's recipes on real SST-2 rows.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_helpers import rbm
from paths import DATA_DIR
from robustbench_match.augmentation import AugmentSettings, augment_examples
from robustbench_match.checkpoints import HFCheckpoint
from robustbench_match.data import load_split
from robustbench_match.errors import RBMError
from robustbench_match.training import TrainConfig, train
from robustbench_match.training.methods import build_method
from robustbench_match.training.methods.adv_train import AdvTrain, count_or_fraction

DATA = DATA_DIR
pytestmark = [pytest.mark.skipif(not (DATA / "glue" / "SST-2" / "train.tsv").is_file(), reason="GLUE data not found"),
              pytest.mark.usefixtures("one_thread")]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RBM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RBM_OFFLINE", "1")


@pytest.fixture(scope="module")
def sst2():
    return load_split("sst2", "train", DATA)


def rows(sst2, n: int, seed: int = 0):
    return sst2.subset(np.sort(np.random.default_rng(seed).permutation(len(sst2))[:n]))


def cfg(tmp_path, name="run", **kw) -> TrainConfig:
    base = dict(method="vanilla", task="sst2", seed=1, output=str(tmp_path / name), batch_size=8, lr=1e-4,
                max_length=32, data_dir=str(DATA))
    base.update(kw)
    return TrainConfig(**base)


def card(path) -> dict:
    return json.loads((Path(path) / "rbm_card.json").read_text())


# -- adv-train's schedule -------------------------------------------------------------------------------
def weights_sum(model) -> float:
    return float(sum(p.detach().double().sum() for p in model.parameters()))


class Recorder:
    """Stands in for the per-row attack: even positions succeed (their text gets an ``ADV`` prefix), odd ones
    fail; every call records the row, the attacked model's weights and whether it was in eval mode."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.setup_weights = None
        self.model = None

    def build(self, name, wrapper, **kwargs):
        self.model = wrapper.model
        self.setup_weights = weights_sum(wrapper.model)
        return object()

    def attack_example(self, attack, examples, position, sample_seed):
        ok = position % 2 == 0
        self.calls.append({"position": position, "weights": weights_sum(self.model), "training": self.model.training})
        text = examples.text_a[position]
        return {"result": "successful" if ok else "failed", "label": int(examples.labels[position]),
                "perturbed_text": ("ADV " + text) if ok else text, "perturbed_text_b": "", "num_queries": 3}


def test_adv_train_schedule_clean_epochs_row_count_alpha_and_the_current_model(tmp_path, sst2, monkeypatch):
    """4 epochs, 1 clean, attack every 2nd epoch after it → attack epochs 2 and 4 (TextAttack's rule); exactly 10
    rows attacked in each, none in epochs 1 and 3; the successful ones are added with weight alpha = 3 (the others
    keep weight 1) and the model attacked is the one being trained (its weights moved since setup and between
    the two attack epochs; in eval mode while attacked, back in train mode after)."""
    import robustbench_match.attacks.recipes as recipes
    import robustbench_match.attacks.single as single

    recorder = Recorder()
    monkeypatch.setattr(recipes, "build_attack", recorder.build)
    monkeypatch.setattr(single, "attack_example", recorder.attack_example)
    epoch_sets: dict[int, object] = {}
    original = AdvTrain.epoch_data

    def spy(self, ctx, epoch):
        before = len(recorder.calls)
        out = original(self, ctx, epoch)
        epoch_sets[epoch + 1] = (out, len(recorder.calls) - before, ctx.model.training)
        return out

    monkeypatch.setattr(AdvTrain, "epoch_data", spy)
    data = rows(sst2, 40)
    path = train(cfg(tmp_path, method="adv-train", epochs=4, method_args={
        "num_clean_epochs": 1, "attack_epoch_interval": 2, "num_train_adv_examples": 10, "alpha": 3.0}), data)
    assert {e: n for e, (_, n, _) in epoch_sets.items()} == {1: 0, 2: 10, 3: 0, 4: 10}
    assert all(training for _, _, training in epoch_sets.values())  # train mode restored after each attack
    assert not any(c["training"] for c in recorder.calls)  # attacked in eval mode (no dropout)
    first, second = recorder.calls[:10], recorder.calls[10:]
    assert len({c["weights"] for c in first}) == 1 and len({c["weights"] for c in second}) == 1
    assert first[0]["weights"] != recorder.setup_weights != second[0]["weights"] != first[0]["weights"]
    for epoch in (2, 4):
        enc, _, _ = epoch_sets[epoch]
        attacked = [c["position"] for c in (first if epoch == 2 else second)]
        successes = [p for p in attacked if p % 2 == 0]
        weights = enc.extra["weight"]
        assert len(enc.features) == 40 + len(successes)
        assert weights[:40] == [1.0] * 40 and weights[40:] == [3.0] * len(successes)
        added = enc.features[40:]
        tokenizer = HFCheckpoint("x", path).load()[1]
        texts = [tokenizer.decode(f["input_ids"], skip_special_tokens=True) for f in added]
        assert all(t.startswith("adv ") for t in texts)
        assert enc.labels[40:].tolist() == [int(data.labels[p]) for p in successes]
    assert first != second and [c["position"] for c in first] != [c["position"] for c in second]  # reshuffled
    info = card(path)["adversarial_training"]
    assert [(e["epoch"], e["attacked"], e["added"]) for e in info["epochs"]] == [
        (2, 10, sum(c["position"] % 2 == 0 for c in first)), (4, 10, sum(c["position"] % 2 == 0 for c in second))]
    assert card(path)["seen_in_training"] == {"attacks": ["deepwordbug"], "families": ["ocr", "typo"]} or \
        card(path)["seen_in_training"] == {"families": ["typo", "ocr"], "attacks": ["deepwordbug"]}


def test_adv_train_counting_successes_attacks_until_that_many_succeed(tmp_path, sst2, monkeypatch):
    """``--adv-count successful`` is TextAttack's meaning: attack shuffled rows until N succeed."""
    import robustbench_match.attacks.recipes as recipes
    import robustbench_match.attacks.single as single

    recorder = Recorder()
    monkeypatch.setattr(recipes, "build_attack", recorder.build)
    monkeypatch.setattr(single, "attack_example", recorder.attack_example)
    path = train(cfg(tmp_path, method="adv-train", epochs=2, method_args={
        "num_train_adv_examples": 5, "adv_count": "successful"}), rows(sst2, 40))
    (epoch,) = card(path)["adversarial_training"]["epochs"]
    assert epoch["added"] == 5 and epoch["successful"] == 5 and epoch["attacked"] == len(recorder.calls)
    assert recorder.calls[-1]["position"] % 2 == 0  # stopped at the fifth success


def test_the_loss_weights_adversarial_rows_by_alpha_then_takes_the_batch_mean(tmp_path, sst2):
    """The trainer's loss on a batch holding weighted rows is mean(weight · per-example loss) (TextAttack's
    training_step), not the plain mean."""
    from robustbench_match.training.trainer import Encoded, TrainContext, _step, linear_schedule, load_model, make_optimizer
    from robustbench_match.tasks import get_task

    config = cfg(tmp_path)
    task = get_task("sst2")
    tokenizer, model, _, names = load_model(config, task, torch.device("cpu"))
    model.eval()  # no dropout: two forwards agree
    data = Encoded.build(rows(sst2, 6), tokenizer, 32)
    grown = data.extended(tokenizer, [{"position": 0, "label": 1, "text_a": "a dull , lifeless film"},
                                      {"position": 1, "label": 0, "text_a": "a joyous , moving film"}], 32, weight=3.0)
    batch = grown.collate(tokenizer, np.arange(8), torch.device("cpu"))
    with torch.no_grad():
        per = torch.nn.functional.cross_entropy(model(**{k: v for k, v in batch.items()
                                                         if k in ("input_ids", "attention_mask", "token_type_ids")}).logits,
                                                batch["labels"], reduction="none")
    expected = float((per * torch.tensor([1.0] * 6 + [3.0] * 2)).mean())
    ctx = TrainContext(model, tokenizer, task, data, torch.device("cpu"), "fp32", config, names, total_steps=1)
    optimizer = make_optimizer([p for p in model.parameters()], config, torch.device("cpu"))
    method = build_method("vanilla")
    value, _, _ = _step(ctx, method, batch, optimizer, linear_schedule(optimizer, 1, 0), None)
    assert value == pytest.approx(expected, rel=1e-5)
    assert value != pytest.approx(float(per.mean()), rel=1e-3)


# -- augment -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("recipe", ["eda", "charswap"])
def test_augment_is_deterministic_per_seed_and_keeps_or_drops_the_originals(sst2, recipe):
    data = rows(sst2, 60)
    settings = AugmentSettings(recipe=recipe, seed=3)
    a = augment_examples(data, settings, str(DATA), use_cache=False)
    b = augment_examples(data, settings, str(DATA), use_cache=False)
    other = augment_examples(data, AugmentSettings(recipe=recipe, seed=4), str(DATA), use_cache=False)
    assert a.info["augmented_sha256"] == b.info["augmented_sha256"] == a.examples.sha256
    assert other.info["augmented_sha256"] != a.info["augmented_sha256"]
    assert a.examples.text_a[:60] == data.text_a and a.info["n_added"] >= 50  # nearly every row has a variant
    added = a.examples.text_a[60:]
    assert len(added) == a.info["n_added"] and all(t not in data.text_a for t in added[:20])
    by_idx = {int(i): int(label) for i, label in zip(data.idx, data.labels)}
    assert all(int(label) == by_idx[int(i)] for i, label in zip(a.examples.idx[60:], a.examples.labels[60:]))
    dropped = augment_examples(data, AugmentSettings(recipe=recipe, seed=3, keep_originals=False), str(DATA),
                               use_cache=False)
    assert dropped.examples.text_a == added and len(dropped.examples) == a.info["n_added"]
    # a row's variant does not depend on the other rows (its own random stream)
    half = augment_examples(data.subset(np.arange(30)), settings, str(DATA), use_cache=False)
    first_half = [t for t, i in zip(added, a.examples.idx[60:]) if i in set(data.idx[:30])]
    assert half.examples.text_a[30:] == first_half


def test_augment_cache_is_used_and_a_damaged_cache_file_is_rebuilt(sst2, tmp_path):
    data = rows(sst2, 30)
    settings = AugmentSettings(recipe="charswap", seed=1)
    first = augment_examples(data, settings, str(DATA))
    again = augment_examples(data, settings, str(DATA))
    assert (first.info["cache"], again.info["cache"]) == ("miss", "hit")
    assert again.info["augmented_sha256"] == first.info["augmented_sha256"]
    (cached,) = (tmp_path / "cache" / "augment").glob("*.jsonl")
    cached.write_text(cached.read_text().replace("a", "b", 3))
    rebuilt = augment_examples(data, settings, str(DATA))
    assert rebuilt.info["cache"] == "miss" and rebuilt.info["augmented_sha256"] == first.info["augmented_sha256"]


def test_augment_on_a_pair_task_changes_only_the_fields_asked_for():
    rte = load_split("rte", "train", DATA).subset(np.arange(20))
    out = augment_examples(rte, AugmentSettings(recipe="charswap", fields=("sentence2",), seed=1), str(DATA),
                           use_cache=False)
    assert out.examples.texts["sentence1"][20:] == [rte.texts["sentence1"][list(rte.idx).index(i)]
                                                      for i in out.examples.idx[20:]]
    assert any(a != rte.texts["sentence2"][list(rte.idx).index(i)]
               for a, i in zip(out.examples.texts["sentence2"][20:], out.examples.idx[20:]))


# -- real runs ---------------------------------------------------------------------------------------------
def accuracy(path: str, dev) -> float:
    return float((HFCheckpoint("x", path, batch_size=64).predict(dev, "sst2") == dev.labels).mean())


@pytest.mark.parametrize("method,args", [
    ("augment", {"augment_recipe": "eda"}),
    ("adv-train", {"attack_recipe": "deepwordbug", "num_train_adv_examples": 48}),
])
def test_short_real_run_learns_sst2_and_its_card_shows_what_it_trained_on(tmp_path, sst2, method, args):
    """3 epochs on 160 real sentences (as the vanilla check beside it, 0.705 vs majority 0.505): well above the
    majority class on 200 dev rows, and the card proves the augmentation / the attack epochs happened."""
    dev = load_split("sst2", "validation", DATA).subset(np.arange(200))
    majority = max(dev.labels.mean(), 1 - dev.labels.mean())
    path = train(cfg(tmp_path, method=method, method_args=args, epochs=3, batch_size=16, lr=2e-4), rows(sst2, 160))
    got = card(path)
    assert accuracy(path, dev) >= majority + 0.1
    if method == "augment":
        assert got["augmentation"]["recipe"] == "eda" and got["n_train"] == 160 + got["augmentation"]["n_added"]
        assert got["augmentation"]["n_added"] >= 140 and got["n_train_given"] == 160
    else:
        epochs = got["adversarial_training"]["epochs"]
        assert [e["epoch"] for e in epochs] == [2, 3] and all(e["attacked"] == 48 for e in epochs)
        assert all(e["added"] >= 5 for e in epochs)  # DeepWordBug flips a fresh MiniLM's sentences easily


def test_augment_composes_with_match_tuning(tmp_path, sst2):
    path = train(cfg(tmp_path, method="augment+match-tuning", method_args={"augment_recipe": "charswap"},
                     max_steps=3), rows(sst2, 24))
    got = card(path)
    assert got["method"] == "augment+match-tuning" and got["augmentation"]["n_added"] > 0
    assert got["seen_in_training"]["attacks"] == ["deepwordbug", "pruthi"]


# -- bad settings: one line each, nothing written ---------------------------------------------------------
@pytest.mark.parametrize("args,expected", [
    (["--method", "augment", "--augment-recipe", "edaa"], "augment-recipe"),
    (["--method", "augment", "--augment-recipe", "embedding"], "paragramcf"),
    (["--method", "augment", "--augment-fields", "premise"], "no field 'premise'"),
    (["--method", "adv-train", "--alpha", "0"], "--alpha must be a number in (0, 100]"),
    (["--method", "adv-train", "--alpha", "-1"], "--alpha"),
    (["--method", "adv-train", "--num-train-adv-examples", "5000"], "larger than the training set"),
    (["--method", "adv-train", "--attack-recipe", "a2t"], "recipe a2t: missing"),
    (["--method", "adv-train", "--attack-recipe", "nosuch"], "attack-recipe"),
    (["--method", "adv-train", "--epochs", "1"], "no attack epoch"),
    (["--method", "adv-train", "--epochs", "2.5"], "whole epochs"),
    (["--method", "augment+adv-train+augment"], "twice"),
])
def test_bad_settings_are_one_line_and_nothing_is_written(tmp_path, capsys, args, expected):
    out = tmp_path / "sub" / "model"
    code, _, err = rbm(["train", "--task", "sst2", "--data-dir", DATA, "--max-train-examples", "100",
                        "--output", out, *args], capsys)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err and not (tmp_path / "sub").exists()


def test_num_train_adv_examples_reads_as_textattack_does():
    assert count_or_fraction("-1") == -1 and count_or_fraction("200") == 200 and count_or_fraction("0.2") == 0.2
    method = build_method("adv-train", {"num_train_adv_examples": "0.25"})
    assert method.rows_to_attack(1000) == 250 and build_method("adv-train").rows_to_attack(1000) == 1000
    with pytest.raises(RBMError, match="num-train-adv-examples"):
        build_method("adv-train", {"num_train_adv_examples": "1.5"})
    with pytest.raises(RBMError, match="num-train-adv-examples"):
        build_method("adv-train", {"num_train_adv_examples": 0})
    assert os.environ.get("RBM_OFFLINE") == "1"


# -- tables say what is not held out -----------------------------------------------------------------------
def _record(model: str, seed: int, seen: dict | None, **kw) -> dict:
    base = {"suite": "s", "model": model, "task": "sst2", "eval_set": "validation", "seed": seed,
            "main_metric": "accuracy", "n_examples": 50, "degenerate": False,
            "checkpoint": {"seen_in_training": seen} if seen else {}}
    base.update(kw)
    return base


def test_attack_and_perturbation_tables_mark_what_a_method_trained_on():
    from robustbench_match.evaluators.perturbation.layout import perturbation_layout
    from robustbench_match.evaluators.textattack.layout import attack_layout
    from robustbench_match.tabulation import SEEN, SEEN_NOTE

    adv = {"families": ["typo", "ocr"], "attacks": ["deepwordbug"]}
    metrics = {"original_accuracy": 0.9, "accuracy_under_attack": 0.4, "accuracy_drop": 0.5, "attack_success_rate": 0.55}
    attacks = [_record(m, s, seen, condition=f"attack:{recipe}", metrics=metrics, details={"query_budget": None})
               for m, seen in (("vanilla", None), ("adv-train", adv)) for s in (1, 2, 3)
               for recipe in ("deepwordbug", "pwws")]
    dwb, pwws = attack_layout(attacks)
    assert all(str(v).endswith(SEEN) for v in dwb.frame.loc["adv-train"]) and SEEN_NOTE in dwb.note
    assert not any(SEEN in str(v) for v in dwb.frame.loc["vanilla"])
    assert not any(SEEN in str(v) for v in pwws.frame.to_numpy().ravel()) and SEEN_NOTE not in pwws.note
    pert = [_record(m, s, seen, condition="clean", details={"family": f, "perturbation_seed": 0},
                    metrics={"flip_rate": 0.1, "n_changed": 10, "clean_accuracy": 0.9, "accuracy": 0.85, "drop": 0.05})
            for m, seen in (("vanilla", None), ("adv-train", adv)) for s in (1, 2, 3) for f in ("typo", "synonym")]
    (table,) = perturbation_layout(pert)
    row = table.frame.loc["adv-train"]
    typo = next(c for c in table.frame.columns if c.startswith("typo"))
    synonym = next(c for c in table.frame.columns if c.startswith("synonym"))
    assert str(row[typo]).endswith(SEEN) and SEEN not in str(row[synonym]) and SEEN_NOTE in table.note
    assert not any(SEEN in str(v) for v in table.frame.loc["vanilla"])
