"""Match-Tuning as its authors wrote it (issue 8): the cls-dense representation, its exact export to a
plain transformers folder, and the defaults recorded in the card — on the real MiniLM and SST-2."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from robustbench_match.checkpoints import CARD_FILE
from robustbench_match.cli import main as rbm
from robustbench_match.data import load_split
from robustbench_match.errors import RBMError
from robustbench_match.inference import tokenize
from robustbench_match.training import TrainConfig, train
from robustbench_match.training.methods import build_method
from robustbench_match.training.methods.match_tuning import (DEFAULT_TEMPERATURE, EXPORT_EPS, ClsToken,
                                                            MatchedLinear)
from robustbench_match.training.modeling import one_thread_when_busy, set_dropout
from robustbench_match.training.trainer import Encoded, TrainContext, load_model


@pytest.fixture(autouse=True, scope="module")
def _threads():
    with one_thread_when_busy():
        yield


@pytest.fixture(scope="module")
def sst2(data_dir):
    return load_split("sst2", "train", data_dir)


@pytest.fixture(scope="module")
def dev(data_dir):
    return load_split("sst2", "validation", data_dir)


def trained_in_memory(sst2, representation: str, steps: int = 3, method_name: str = "match-tuning", **hparams):
    """The training model after a few real SGD steps (so dense and classifier leave their init)."""
    config = TrainConfig(method=method_name, task="sst2", output="unused", max_length=64)
    torch.manual_seed(0)
    tokenizer, model, _, names = load_model(config, sst2.task, torch.device("cpu"))
    data = Encoded.build(sst2.subset(np.arange(16 * max(steps, 1))), tokenizer, 64)
    ctx = TrainContext(model, tokenizer, sst2.task, data, torch.device("cpu"), "fp32", config, names)
    method = build_method(method_name, {"representation": representation, **hparams})
    method.setup(ctx)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for step in range(steps):
        batch = data.collate(tokenizer, np.arange(16 * step, 16 * (step + 1)), ctx.device)
        method.on_batch(batch)
        opt.zero_grad()
        ctx.per_example_loss(ctx.forward(batch), batch["labels"]).mean().backward()
        opt.step()
    model.eval()
    return tokenizer, model, method


def dev_logits(model, tokenizer, dev) -> torch.Tensor:
    out = []
    with torch.no_grad():
        for start in range(0, len(dev), 128):
            part = dev.subset(np.arange(start, min(start + 128, len(dev))))
            enc = tokenize(tokenizer, part.text_a, part.text_b, 64)
            batch = tokenizer.pad(enc, padding="longest", return_tensors="pt")
            out.append(model(**batch).logits)
    return torch.cat(out)


@pytest.mark.parametrize("representation,rows", [
    ("cls-dense", 200), ("pooled-dense", 64),
    pytest.param("cls-dense", 872, marks=pytest.mark.slow),  # all of SST-2 dev (≈ 1 min on a busy CPU)
])
def test_export_gives_the_training_models_logits_on_sst2_dev_rows(tmp_path, sst2, dev, representation, rows):
    from transformers import AutoModelForSequenceClassification

    dev = dev.subset(np.arange(rows))
    tokenizer, model, method = trained_in_memory(sst2, representation)
    if representation == "cls-dense":
        assert isinstance(model.bert.pooler, ClsToken) and isinstance(model.dropout, torch.nn.Identity)
    expected = dev_logits(model, tokenizer, dev)
    method.export(model).save_pretrained(tmp_path / "exp")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "exp").eval()
    assert type(loaded.classifier) is torch.nn.Linear and type(loaded.bert.pooler.activation) is torch.nn.Tanh
    got = dev_logits(loaded, tokenizer, dev)
    assert len(got) == rows
    assert float((got - expected).abs().max()) < 1e-4
    assert torch.equal(got.argmax(-1), expected.argmax(-1))  # dev predictions identical
    assert float(expected.std()) > 0.05  # a real, non-constant classifier was compared
    if representation == "cls-dense":
        weight = loaded.bert.pooler.dense.weight
        assert torch.equal(weight, torch.eye(weight.shape[0]) * EXPORT_EPS)


def test_cls_dense_trains_on_the_raw_cls_state_and_the_tanh_of_the_export_is_linear(sst2, dev):
    """Training logits are classifier(M·dense(h_CLS)) with h_CLS the last hidden state's [CLS]
    vector; the exported pooler's tanh(ε·h) deviates from ε·h by less than (ε·h)³/3."""
    tokenizer, model, method = trained_in_memory(sst2, "cls-dense", steps=1)
    set_dropout(model, 0.0)
    model.train()
    enc = tokenize(tokenizer, dev.text_a[:12], None, 64)
    batch = tokenizer.pad(enc, padding="longest", return_tensors="pt")
    labels = torch.as_tensor(dev.labels[:12])
    method.on_batch({"labels": labels})
    with torch.no_grad():
        logits = model(**batch).logits
        h_cls = model.bert(**batch).last_hidden_state[:, 0]
        mod: MatchedLinear = method.module
        rep = mod.dense(h_cls)
        m = torch.softmax(rep @ rep.T / DEFAULT_TEMPERATURE, dim=-1)
        assert torch.allclose(logits, mod.head(m @ rep), atol=1e-5)
        assert not torch.allclose(logits, mod.head(rep), atol=1e-3)  # the batch really mixes
        x = EXPORT_EPS * model.bert(**batch).last_hidden_state[:, 0].double()
        bound = (x.abs() ** 3 / 3).max()
        assert float(bound) < 1e-15 and float((torch.tanh(x) - x).abs().max()) <= float(bound) * (1 + 1e-6)


def test_roberta_style_head_exports_exactly_and_electra_is_a_one_line_error():
    from transformers import (ElectraConfig, ElectraForSequenceClassification, RobertaConfig,
                              RobertaForSequenceClassification)

    small = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 num_labels=3)
    torch.manual_seed(0)
    model = RobertaForSequenceClassification(RobertaConfig(**small))
    method = build_method("match-tuning")
    method.setup(type("Ctx", (), {"model": model})())
    ids = torch.randint(3, 100, (6, 9))
    method.on_batch({"labels": torch.tensor([0, 1, 2, 0, 1, 2])})
    model(input_ids=ids).logits.square().sum().backward()
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p -= 0.5 * p.grad
    model.eval()
    with torch.no_grad():
        expected = model(input_ids=ids).logits
        got = method.export(model)(input_ids=ids).logits
    assert type(model.classifier).__name__ == "RobertaClassificationHead"
    assert float((got - expected).abs().max()) < 1e-5 and float(expected.std()) > 0.01
    electra = ElectraForSequenceClassification(ElectraConfig(embedding_size=32, **small))
    with pytest.raises(RBMError, match="use --representation pooled-dense") as err:
        build_method("match-tuning").setup(type("Ctx", (), {"model": electra})())
    assert "\n" not in str(err.value)
    build_method("match-tuning", {"representation": "pooled-dense"}).setup(type("Ctx", (), {"model": electra})())


def test_card_records_representation_random_batches_and_the_default_temperature(tmp_path, sst2, data_dir):
    cfg = TrainConfig(method="match-tuning-negative", task="sst2", output=str(tmp_path / "a"), max_steps=2,
                      batch_size=8, max_length=24)
    path = train(cfg, sst2.subset(np.arange(16)))
    hyper = json.loads(Path(path, CARD_FILE).read_text())["hyperparameters"]
    assert hyper["group_by_length"] is False and hyper["representation"] == "cls-dense"
    assert hyper["ablation_mask"] == "post-softmax" and hyper["temperature"] == DEFAULT_TEMPERATURE
    log = [json.loads(x) for x in Path(path, "training_log.jsonl").read_text().splitlines()]
    assert all(r["m_self"] == 0 and r["m_positive"] == 0 and 0 < r["m_negative"] < 1 for r in log)
    out = tmp_path / "b"
    assert rbm(["train", "--method", "match-tuning", "--task", "sst2", "--output", str(out), "--data-dir", data_dir,
                "--max-steps", "1", "--batch-size", "4", "--max-length", "24", "--max-train-examples", "8",
                "--group-by-length", "--representation", "pooled-dense"]) == 0
    hyper = json.loads((out / CARD_FILE).read_text())["hyperparameters"]
    assert hyper["group_by_length"] is True and hyper["representation"] == "pooled-dense"


@pytest.mark.parametrize("dense_init", ["normal", "torch-default"])
def test_dense_head_control_exports_its_training_models_logits(tmp_path, sst2, dev, dense_init):
    """dense-head (issue 21): Match-Tuning's head with M = I — the export equals the training model's eval
    logits on real dev rows, under either dense initialisation."""
    from transformers import AutoModelForSequenceClassification

    dev = dev.subset(np.arange(200))
    tokenizer, model, method = trained_in_memory(sst2, "cls-dense", method_name="dense-head", dense_init=dense_init)
    assert method.module.mode == "identity"
    expected = dev_logits(model, tokenizer, dev)
    method.export(model).save_pretrained(tmp_path / "exp")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "exp").eval()
    got = dev_logits(loaded, tokenizer, dev)
    assert float((got - expected).abs().max()) < 1e-4 and torch.equal(got.argmax(-1), expected.argmax(-1))
    assert float(expected.std()) > 0.05


def test_dense_head_is_match_tuning_without_the_matching():
    """In training mode the control applies no M (each row's logits are its own, whatever the batch) while
    Match-Tuning mixes the batch; at inference both are classifier∘dense."""
    torch.manual_seed(0)
    head, dense = torch.nn.Linear(8, 2), torch.nn.Linear(8, 8)
    x = torch.randn(6, 8)
    control = MatchedLinear(head, dense, 1.0, mode="identity").train()
    matched = MatchedLinear(head, dense, 1.0, mode="full").train()
    plain = head(dense(x))
    assert torch.equal(control(x), plain) and torch.equal(control(x[:2]), plain[:2])
    assert not torch.allclose(matched(x), plain)
    assert torch.equal(matched.eval()(x), plain)


def test_dense_init_choices_and_the_card(tmp_path, sst2):
    """normal = N(0, initializer_range) as HF inits a new head layer; torch-default = nn.Linear's own
    Kaiming-uniform (the authors' code), bounded by 1/sqrt(fan_in); the card records the choice."""
    import json

    from robustbench_match.training import train

    sizes = {}
    for init in ("normal", "torch-default"):
        _, model, method = trained_in_memory(sst2, "cls-dense", steps=0, dense_init=init)
        weight = method.module.dense.weight.detach()
        sizes[init] = (float(weight.std()), float(weight.abs().max()))
    hidden = method.module.dense.in_features
    assert sizes["normal"][0] == pytest.approx(0.02, rel=0.05)
    assert sizes["torch-default"][1] <= 1 / hidden ** 0.5 and sizes["torch-default"][0] == pytest.approx(
        1 / (3 * hidden) ** 0.5, rel=0.05)
    cfg = TrainConfig(method="match-tuning", task="sst2", seed=1, output=str(tmp_path / "mt"), max_steps=1,
                      batch_size=8, max_length=32, method_args={"dense_init": "torch-default"})
    card = json.loads((Path(train(cfg, train_examples=sst2.subset(np.arange(16)))) / "rbm_card.json").read_text())
    assert card["hyperparameters"]["dense_init"] == "torch-default"


def test_unfolded_head_beside_the_export_gives_its_logits(tmp_path, sst2, dev):
    """match_tuning_head.safetensors (written before the fold) holds dense and classifier: head(dense(h_CLS))
    equals the exported model's logits, so M can be applied at inference for diagnosis."""
    from safetensors import safe_open
    from transformers import AutoModelForSequenceClassification

    from robustbench_match.training.methods.match_tuning import HEAD_FILE

    tokenizer, model, method = trained_in_memory(sst2, "cls-dense")
    method.save_extra(tmp_path)
    method.export(model).save_pretrained(tmp_path / "exp")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "exp").eval()
    dev = dev.subset(np.arange(64))
    expected = dev_logits(loaded, tokenizer, dev)
    with safe_open(str(tmp_path / HEAD_FILE), "pt") as f:
        w = {k: f.get_tensor(k) for k in f.keys()}
        assert float(f.metadata()["temperature"]) == method.hparams["temperature"]
    with torch.no_grad():
        enc = tokenizer.pad(tokenize(tokenizer, dev.text_a, dev.text_b, 64), return_tensors="pt")
        h = loaded.base_model(**enc).last_hidden_state[:, 0]
        got = (h @ w["dense.weight"].T + w["dense.bias"]) @ w["head.weight"].T + w["head.bias"]
    assert float((got - expected).abs().max()) < 1e-4
