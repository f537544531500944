"""The training loop, checkpoints, CLI and plots, on the real MiniLM and real GLUE data."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from paths import DATA_DIR
from robustbench_match.checkpoints import CARD_FILE, HFCheckpoint
from robustbench_match.cli import main as rbm
from robustbench_match.data import load_split
from robustbench_match.errors import RBMError
from robustbench_match.training import TrainConfig, train
from robustbench_match.training.modeling import one_thread_when_busy
from robustbench_match.training.methods import METHODS, build_method
from robustbench_match.training.methods.base import Method
from robustbench_match.training.trainer import Encoded, TrainContext, epoch_batches, load_model

DATA = DATA_DIR
pytestmark = pytest.mark.skipif(not (DATA / "glue" / "SST-2" / "train.tsv").is_file(), reason="GLUE data not found")


@pytest.fixture(autouse=True, scope="module")
def _threads():
    with one_thread_when_busy():
        yield
SLOW = pytest.mark.skipif(os.environ.get("RBM_SLOW") != "1", reason="slow real-data check; set RBM_SLOW=1")


@pytest.fixture(scope="module")
def sst2():
    return load_split("sst2", "train", DATA)


def cfg(tmp_path, name="run", **kw) -> TrainConfig:
    base = dict(method="vanilla", task="sst2", seed=1, output=str(tmp_path / name), max_steps=2, batch_size=8,
                lr=1e-4, max_length=24)
    base.update(kw)
    return TrainConfig(**base)


def weights(path: str) -> dict[str, torch.Tensor]:
    return load_file(os.path.join(path, "model.safetensors"))


def test_batches_are_length_grouped_seeded_and_cover_every_example():
    lengths = np.random.default_rng(0).integers(5, 60, size=1000)
    a = epoch_batches(lengths, 16, np.random.default_rng(1), True)
    b = epoch_batches(lengths, 16, np.random.default_rng(1), True)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert sorted(np.concatenate(a).tolist()) == list(range(1000))
    spread = np.mean([np.ptp(lengths[x]) for x in a])
    random_spread = np.mean([np.ptp(lengths[x]) for x in epoch_batches(lengths, 16, np.random.default_rng(1), False)])
    assert spread < 0.25 * random_spread
    first_lengths = [lengths[x].max() for x in a[:10]]
    assert first_lengths != sorted(first_lengths, reverse=True)  # batch order shuffled, not longest-first


def test_same_seed_same_weights_other_seed_other_weights(tmp_path, sst2):
    ex = sst2.subset(np.arange(16))
    a = weights(train(cfg(tmp_path, "a"), ex))
    b = weights(train(cfg(tmp_path, "b"), ex))
    c = weights(train(cfg(tmp_path, "c", seed=2), ex))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["classifier.weight"], c["classifier.weight"])


def test_checkpoint_is_plain_transformers_with_card_log_and_label_names(tmp_path, sst2):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    ex = sst2.subset(np.arange(16))
    path = train(cfg(tmp_path, method="match-tuning", method_args={"temperature": 0.3},
                     condition={"name": "label-noise", "ratio": 0.1, "seed": 1}), ex)
    model = AutoModelForSequenceClassification.from_pretrained(path)
    AutoTokenizer.from_pretrained(path)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert type(model.classifier) is torch.nn.Linear and model.classifier.in_features == model.config.hidden_size
    card = json.loads(Path(path, CARD_FILE).read_text())
    assert card["task"] == "sst2" and card["method"] == "match-tuning" and card["seed"] == 1
    assert card["hyperparameters"]["temperature"] == 0.3 and card["hyperparameters"]["max_length"] == 24
    assert card["train_data_sha256"] == ex.sha256 and card["n_train"] == 16
    assert card["condition"]["name"] == "label-noise" and card["train_time_per_epoch_s"] > 0
    for key in ("base_model", "package_version", "torch_version"):
        assert card[key]
    log = [json.loads(x) for x in Path(path, "training_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]
    assert all(0 < r["m_self"] <= 1 and abs(r["m_self"] + r["m_positive"] + r["m_negative"] - 1) < 1e-4 for r in log)
    assert not list(tmp_path.glob("*.tmp-*"))
    preds = HFCheckpoint("mt", path).predict(load_split("sst2", "validation", DATA).subset(np.arange(8)), "sst2")
    assert preds.shape == (8,)


@pytest.mark.parametrize("method", ["match-tuning", "mixout"])
def test_exported_checkpoint_gives_the_training_models_eval_logits(tmp_path, sst2, method):
    """Fold/unwrap at export: the saved plain model computes what the training model computes in eval."""
    from transformers import AutoModelForSequenceClassification

    config = cfg(tmp_path, method=method)
    task = sst2.task
    torch.manual_seed(0)
    tokenizer, model, _, names = load_model(config, task, torch.device("cpu"))
    ex = sst2.subset(np.arange(8))
    data = Encoded.build(ex, tokenizer, 24)
    ctx = TrainContext(model, tokenizer, task, data, torch.device("cpu"), "fp32", config, names)
    m = build_method(method)
    m.setup(ctx)
    batch = data.collate(tokenizer, np.arange(8), ctx.device)
    m.on_batch(batch)
    torch.optim.SGD(model.parameters(), lr=0.5).zero_grad()
    ctx.per_example_loss(ctx.forward(batch), batch["labels"]).mean().backward()
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p -= 0.5 * p.grad  # move the new layers away from their initialisation
    model.eval()
    with torch.no_grad():
        expected = ctx.forward(batch)
        exported = m.export(model)
        exported.save_pretrained(tmp_path / "exp")
        loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "exp").eval()
        got = loaded(**{k: v for k, v in batch.items() if k != "labels"}).logits
    assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()


def test_regression_task_gets_one_output(tmp_path):
    stsb = load_split("stsb", "train", DATA).subset(np.arange(8))
    path = train(cfg(tmp_path, task="stsb", max_steps=1, method="match-tuning"), stsb)
    config = json.loads(Path(path, "config.json").read_text())
    assert config["problem_type"] == "regression" and len(config["id2label"]) == 1


class NanLoss(Method):
    name = "test-nan"

    def extra_loss(self, ctx, batch, logits):
        return torch.tensor(float("nan")) if ctx.step == 1 else None


if "test-nan" not in METHODS:
    METHODS.register("test-nan", NanLoss)


def test_nan_loss_stops_with_one_line_and_leaves_nothing(tmp_path, sst2):
    out = tmp_path / "nan"
    with pytest.raises(RBMError, match="loss became nan at step 2"):
        train(cfg(tmp_path, "nan", method="test-nan", max_steps=3), sst2.subset(np.arange(16)))
    assert not out.exists() and not list(tmp_path.iterdir())


def test_existing_output_is_not_overwritten_without_flag(tmp_path, sst2):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("x")
    with pytest.raises(RBMError, match="already exists"):
        train(cfg(tmp_path), sst2.subset(np.arange(8)))
    assert (tmp_path / "run" / "keep.txt").is_file()


@pytest.mark.parametrize("argv,message", [
    (["--method", "match-tunning", "--task", "rte"], "did you mean 'match-tuning'"),
    (["--method", "r3f", "--task", "stsb"], "classification tasks only"),
    (["--method", "child-tuning-d", "--reserve-p", "0", "--task", "rte"], "must be in (0, 1]"),
    (["--method", "vanilla", "--temperature", "2", "--task", "rte"], "do not apply"),
    (["--method", "group-dro", "--task", "rte", "--max-train-examples", "8"], "--dro-groups label"),
])
def test_bad_input_is_one_clear_line(tmp_path, capsys, argv, message):
    code = rbm(["train", *argv, "--output", str(tmp_path / "x"), "--data-dir", str(DATA)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and message in err and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_cli_trains_and_plots(tmp_path, capsys):
    out = tmp_path / "mt"
    code = rbm(["train", "--method", "match-tuning", "--task", "rte", "--seed", "2", "--output", str(out),
                "--data-dir", str(DATA), "--max-steps", "2", "--batch-size", "4", "--max-length", "32",
                "--max-train-examples", "8", "--temperature", "0.5"])
    assert code == 0 and (out / "model.safetensors").is_file()
    card = json.loads((out / CARD_FILE).read_text())
    assert card["task"] == "rte" and card["hyperparameters"]["temperature"] == 0.5 and card["n_train"] == 8
    assert rbm(["plot", "dynamics", str(out), "-o", str(tmp_path / "d.png")]) == 0
    assert rbm(["plot", "loss", str(out), str(out), "-o", str(tmp_path / "l.pdf")]) == 0
    assert (tmp_path / "d.png").stat().st_size > 1000 and (tmp_path / "l.pdf").stat().st_size > 1000
    assert rbm(["methods", "match*"]) == 0
    assert "match-tuning-positive" in capsys.readouterr().out


def accuracy(path: str, dev) -> float:
    return float((HFCheckpoint("x", path, batch_size=64).predict(dev, "sst2") == dev.labels).mean())


@pytest.mark.parametrize("method", ["vanilla", "match-tuning"])
def test_short_real_run_learns_sst2(tmp_path, sst2, method):
    """< 30 s each on an idle 2-core CPU: 3 epochs on 160 real sentences lift dev accuracy well
    above the majority class (measured, random batches: vanilla 0.705, match-tuning cls-dense at the
    default T = 0.5 0.74, vs 0.505)."""
    pick = np.random.default_rng(0).permutation(len(sst2))[:160]
    dev = load_split("sst2", "validation", DATA).subset(np.arange(200))
    majority = max(dev.labels.mean(), 1 - dev.labels.mean())
    path = train(cfg(tmp_path, method=method, max_steps=None, epochs=3, batch_size=16, lr=2e-4, max_length=32),
                 sst2.subset(pick))
    assert accuracy(path, dev) >= majority + 0.1


@SLOW
@pytest.mark.slow
@pytest.mark.parametrize("method,args", [("vanilla", {}), ("match-tuning", {})])
def test_sst2_2k_beats_majority_by_15_points(tmp_path, sst2, method, args):
    pick = np.random.default_rng(0).permutation(len(sst2))[:2000]
    dev = load_split("sst2", "validation", DATA)
    majority = max(dev.labels.mean(), 1 - dev.labels.mean())
    path = train(cfg(tmp_path, method=method, method_args=args, max_steps=None, epochs=2, batch_size=16, lr=5e-5,
                     max_length=64), sst2.subset(pick))
    assert accuracy(path, dev) >= majority + 0.15
