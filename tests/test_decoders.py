"""Issue 38: decoder-only classifiers (Llama, Qwen2, GPT-2 ``*ForSequenceClassification`` heads, built here from
their config classes with a real BPE tokenizer trained on SST-2 and saved without a pad token, as released
decoder tokenizers are). ``rbm run`` scores them on SST-2 and RTE, batch 1 equals batch 64 on every row, a LoRA
adapter on each is scored as stock peft scores it one example at a time, the trainer's LoRA finds the
architecture's layers itself, and Match-Tuning's last-token representation exports a folder scored as the
training model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import rbm
from decoders import KINDS, bpe_tokenizer, save_decoder
from paths import DATA_DIR

pytestmark = pytest.mark.skipif(not (DATA_DIR / "glue" / "SST-2").is_dir(), reason=f"no shared data at {DATA_DIR}")


@pytest.fixture(scope="module")
def decoders(tmp_path_factory) -> dict[str, Path]:
    """A BPE tokenizer and, per kind, an SST-2 head and an RTE head (random weights, seeded)."""
    root = tmp_path_factory.mktemp("decoders")
    bpe_tokenizer(root / "tokenizer")
    out = {}
    for kind in KINDS:
        out[kind] = save_decoder(root / kind, kind, seed=1, tokenizer_folder=root / "tokenizer")
        rte = save_decoder(root / f"{kind}-rte", kind, seed=2, tokenizer_folder=root / "tokenizer")
        cfg = json.loads((rte / "config.json").read_text())
        cfg["id2label"], cfg["label2id"] = {"0": "entailment", "1": "not_entailment"}, {"entailment": 0, "not_entailment": 1}
        (rte / "config.json").write_text(json.dumps(cfg))
        out[f"{kind}-rte"] = rte
    mnli = save_decoder(root / "llama-mnli", "llama", seed=3, tokenizer_folder=root / "tokenizer", num_labels=3,
                        label_names=("entailment", "neutral", "contradiction"))
    out["llama-mnli"] = mnli
    out["tokenizer"] = root / "tokenizer"
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_rbm_run_scores_a_decoder_without_a_pad_token_on_sst2_and_rte(kind, decoders, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = rbm(["run", "glue-dev", "--tasks", "sst2,rte", "--checkpoint", f"sst2/{kind}={decoders[kind]}",
                        "--checkpoint", f"rte/{kind}={decoders[f'{kind}-rte']}", "--data-dir", DATA_DIR,
                        "--output", out, "--limit", "64", "--format", "none"], capsys)
    assert code == 0, err
    records = {r["task"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert set(records) == {"sst2", "rte"}
    for rec in records.values():
        assert rec["n_examples"] == 64 and 0 <= rec["metrics"]["accuracy"] <= 1
        assert rec["checkpoint"]["padding"] == "pad token = the EOS token '<|endoftext|>' (id 0)"
    assert "Asking to pad" not in err


@pytest.mark.parametrize("kind", KINDS)
def test_batch_of_one_equals_batch_of_64_on_every_row(kind, decoders):
    from robustbench_match.checkpoints import open_checkpoint
    from robustbench_match.data import load_split

    dev = load_split("sst2", "validation", str(DATA_DIR))
    rows = dev.subset(np.random.default_rng(0).permutation(len(dev))[:300])  # shuffled: mixed lengths per batch
    one = open_checkpoint(kind, str(decoders[kind]), batch_size=1, device="cpu").logits(rows)
    many = open_checkpoint(kind, str(decoders[kind]), batch_size=64, device="cpu").logits(rows)
    assert np.abs(one - many).max() < 1e-5
    assert (one.argmax(1) == many.argmax(1)).all()


def _plain_logits(model, tokenizer, texts) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.stack([model(**tokenizer(t, truncation=True, max_length=128, return_tensors="pt")).logits[0].numpy()
                         for t in texts])


@pytest.mark.parametrize("kind", KINDS)
def test_a_lora_adapter_on_a_decoder_is_scored_as_stock_peft_scores_it(kind, decoders, tmp_path, capsys):
    import torch
    from peft import AutoPeftModelForSequenceClassification, LoraConfig, TaskType, get_peft_model
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as TARGETS
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(decoders[kind])
    model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8,
                                             target_modules=TARGETS[kind], init_lora_weights=False))
    adapter = tmp_path / "adapter"
    model.save_pretrained(adapter)
    out = tmp_path / "run"
    code, _, err = rbm(["run", "glue-dev", "--tasks", "sst2", "--checkpoint", f"sst2/lora={adapter}", "--data-dir",
                        DATA_DIR, "--output", out, "--limit", "60", "--save-predictions", "--format", "none",
                        "--max-length", "128"], capsys)
    assert code == 0, err
    (rec,) = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    rows = [json.loads(x) for x in (out / rec["predictions_file"]).read_text().splitlines()]
    from robustbench_match.data import load_split

    dev = load_split("sst2", "validation", str(DATA_DIR))
    text = dict(zip(dev.idx.tolist(), dev.text_a))
    stock = AutoPeftModelForSequenceClassification.from_pretrained(adapter).eval()
    plain = _plain_logits(stock, AutoTokenizer.from_pretrained(decoders[kind]), [text[r["idx"]] for r in rows])
    assert [r["prediction"] for r in rows] == plain.argmax(1).tolist()
    assert rec["checkpoint"]["kind"] == "peft"


@pytest.mark.parametrize("kind", KINDS)
def test_the_trainers_lora_finds_the_architectures_layers(kind, decoders, tmp_path):
    from robustbench_match.training import TrainConfig, train

    out = train(TrainConfig(method="lora", task="sst2", seed=1, output=str(tmp_path / "lora"), model=str(decoders[kind]),
                            data_dir=str(DATA_DIR), epochs=1, max_steps=2, batch_size=8, lr=1e-3, max_length=32,
                            max_train_examples=32))
    card = json.loads((Path(out) / "rbm_card.json").read_text())
    expected = {"llama": ["q_proj", "v_proj"], "qwen2": ["q_proj", "v_proj"], "gpt2": ["c_attn"]}[kind]
    assert sorted(card["hyperparameters"]["target_modules"]) == expected
    assert json.loads((Path(out) / "adapter_config.json").read_text())["target_modules"]


def test_lora_on_a_model_type_peft_has_no_default_for_is_one_line():
    from types import SimpleNamespace

    from robustbench_match.errors import RBMError
    from robustbench_match.training.methods.lora import target_modules

    model = SimpleNamespace(config=SimpleNamespace(model_type="my-own-arch"), modules=lambda: [])
    with pytest.raises(RBMError, match="peft has no default target modules for model type 'my-own-arch'; name the "
                                       "layers to adapt with --lora-target"):
        target_modules(model, "auto")
    assert target_modules(model, "a_proj, b_proj") == ["a_proj", "b_proj"]


@pytest.mark.parametrize("kind", KINDS)
def test_match_tuning_on_a_decoder_matches_the_last_token_and_exports_what_it_trained(kind, decoders, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from robustbench_match.checkpoints import open_checkpoint
    from robustbench_match.data import load_split
    from robustbench_match.training import TrainConfig, train

    out = Path(train(TrainConfig(method="match-tuning", task="sst2", seed=1, output=str(tmp_path / "mt"),
                                 model=str(decoders[kind]), data_dir=str(DATA_DIR), epochs=1, max_steps=2,
                                 batch_size=16, lr=1e-3, max_length=32, max_train_examples=64)))
    log = [json.loads(x) for x in (out / "training_log.jsonl").read_text().splitlines()]
    assert 0 < log[0]["m_self"] < 1  # the matching ran over the batch (a batch of 16: M is not the identity)
    dev = load_split("sst2", "validation", str(DATA_DIR)).subset(np.arange(40))
    scored = open_checkpoint("mt", str(out), batch_size=16, device="cpu").logits(dev)
    # the training model's eval logits: the exported body, then the unfolded dense and head on the last token
    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    head = load_file(str(out / "match_tuning_head.safetensors"))
    body = getattr(model, model.base_model_prefix)
    with torch.no_grad():
        expected = np.stack([(body(**tokenizer(t, truncation=True, max_length=32, return_tensors="pt"))
                              .last_hidden_state[0, -1] @ head["dense.weight"].T @ head["head.weight"].T).numpy()
                             for t in dev.text_a])
    assert np.abs(scored - expected).max() < 1e-4
    assert getattr(model, "score").bias is None  # a stock bias-free score layer


def test_vanilla_and_lora_learn_sst2_on_a_small_decoder(decoders, tmp_path):
    """A Llama head trained from scratch by ``rbm train --method vanilla`` learns SST-2 well above the majority class
    (50.9 % of dev); LoRA then learns it on that body with a zeroed head (a constant predictor: the majority class at
    most), so neither check passes without training."""
    import torch
    from safetensors.torch import load_file, save_file

    from robustbench_match.checkpoints import open_checkpoint
    from robustbench_match.data import load_split
    from robustbench_match.training import TrainConfig, train

    dev = load_split("sst2", "validation", str(DATA_DIR))
    common = dict(task="sst2", seed=1, data_dir=str(DATA_DIR), batch_size=32, lr=3e-3, max_length=32)
    vanilla = train(TrainConfig(method="vanilla", output=str(tmp_path / "vanilla"), model=str(decoders["llama"]),
                                epochs=2, max_train_examples=3000, **common))
    accuracy = (open_checkpoint("v", vanilla, device="cpu").predict(dev) == dev.labels).mean()
    assert accuracy > 0.65, accuracy
    body = tmp_path / "body"  # the trained body with a fresh head: the "pretrained" base LoRA adapts
    import shutil

    shutil.copytree(vanilla, body)
    (body / "rbm_card.json").unlink()
    tensors = load_file(str(body / "model.safetensors"))
    tensors["score.weight"] = torch.zeros_like(tensors["score.weight"])  # a constant predictor until trained
    save_file(tensors, str(body / "model.safetensors"), metadata={"format": "pt"})
    fresh = (open_checkpoint("b", str(body), device="cpu").predict(dev) == dev.labels).mean()
    lora = train(TrainConfig(method="lora", output=str(tmp_path / "lora"), model=str(body), epochs=1,
                             max_train_examples=1000, **common))
    adapted = (open_checkpoint("l", lora, device="cpu").predict(dev) == dev.labels).mean()
    assert fresh < 0.55 and adapted > 0.65, (fresh, adapted)


def test_the_python_api_scores_an_in_memory_decoder_and_leaves_its_tokenizer_alone(decoders):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from robustbench_match.api import evaluate

    model = AutoModelForSequenceClassification.from_pretrained(decoders["qwen2"])
    tokenizer = AutoTokenizer.from_pretrained(decoders["qwen2"])
    result = evaluate((model, tokenizer), "glue-dev", tasks=["sst2"], data_dir=str(DATA_DIR), limit=32, name="sst2/q")
    assert result.records[0]["n_examples"] == 32 and "EOS" in result.records[0]["checkpoint"]["padding"]
    assert tokenizer.pad_token is None  # the caller's tokenizer: a copy was padded


@pytest.mark.parametrize("suite, extra", [("advglue", []), ("perturbation", ["--set", "families=[typo, negate]",
                                                                             "--limit", "40"]),
                                          ("textattack", ["--recipe", "deepwordbug", "--num-examples", "3"]),
                                          ("mnli-negation", ["--limit", "300"])])
def test_robustness_suites_run_on_a_decoder(suite, extra, decoders, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RBM_OFFLINE", "1")
    task, folder = ("mnli", decoders["llama-mnli"]) if suite == "mnli-negation" else ("sst2", decoders["llama"])
    code, _, err = rbm(["run", suite, "--tasks", task, "--checkpoint", f"{task}/llama={folder}",
                        "--data-dir", DATA_DIR, "--output", tmp_path / "run", "--format", "none", *extra], capsys)
    assert code == 0, err
    records = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert records and all(r["checkpoint"].get("padding") for r in records)


@pytest.mark.parametrize("kind", KINDS)
def test_embedding_space_methods_pool_the_last_real_token_of_a_decoder(kind, decoders):
    """FreeLB / SMART / R3F call the model on perturbed embeddings, where a transformers decoder head cannot see the
    padding and pools the last position; the trainer's forward pools the last non-pad token instead: with an
    unperturbed embedding it equals the model's own logits on a right-padded batch of mixed lengths."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from robustbench_match.inference import ensure_padding
    from robustbench_match.training.trainer import TrainContext

    model = AutoModelForSequenceClassification.from_pretrained(decoders[kind]).eval()
    tokenizer = AutoTokenizer.from_pretrained(decoders[kind])
    ensure_padding(model, tokenizer, kind)
    batch = dict(tokenizer(["a fine film", "it is a long , dull and thoroughly tiresome movie about nothing", "good"],
                           padding=True, return_tensors="pt"))
    ctx = TrainContext.__new__(TrainContext)
    ctx.model, ctx.wrapped, ctx.device, ctx.precision = model, None, torch.device("cpu"), "fp32"
    with torch.no_grad():
        plain = model(**batch).logits
        embedded = ctx.forward(batch, inputs_embeds=model.get_input_embeddings()(batch["input_ids"]))
    assert torch.allclose(plain, embedded, atol=1e-5)


@pytest.mark.parametrize("method", ["freelb", "smart", "r3f", "match-tuning+freelb"])
def test_embedding_space_methods_train_a_decoder(method, decoders, tmp_path):
    from robustbench_match.training import TrainConfig, train

    out = train(TrainConfig(method=method, task="sst2", seed=1, output=str(tmp_path / "m"), model=str(decoders["llama"]),
                            data_dir=str(DATA_DIR), epochs=1, max_steps=2, batch_size=8, lr=1e-3, max_length=32,
                            max_train_examples=32))
    log = [json.loads(x) for x in (Path(out) / "training_log.jsonl").read_text().splitlines()]
    assert len(log) == 2 and all(np.isfinite(x["loss"]) for x in log)


def test_a_training_time_suite_trains_a_decoder_base(decoders, tmp_path, capsys):
    code, _, err = rbm(["run", "label-noise", "--tasks", "sst2", "--methods", "vanilla", "--seeds", "1", "--data-dir",
                        DATA_DIR, "--output", tmp_path / "run", "--format", "none", "--limit", "40",
                        "--set", "ratios=[0.1]", "--set", f"train.model={decoders['gpt2']}", "--set", "train.epochs=1",
                        "--set", "train.max_train_examples=64", "--set", "train.max_length=32"], capsys)
    assert code == 0, err
    records = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert {r["condition"] for r in records} >= {"noise-10"}
    folder = next((tmp_path / "run").rglob("rbm_card.json")).parent
    assert json.loads((folder / "config.json").read_text())["model_type"] == "gpt2"
    # the export carries its pad token: it is scored with the padding it was trained with, nothing to infer
    assert json.loads((folder / "config.json").read_text())["pad_token_id"] == 0
    assert json.loads((folder / "special_tokens_map.json").read_text())["pad_token"] == "<|endoftext|>"


def test_a_left_padding_tokenizer_is_scored_with_right_padding(decoders, tmp_path):
    """Released decoder tokenizers often pad on the left (for generation); a classifier without position ids from
    the mask would then see shifted positions in a batch. Scoring pads right, says so, and stays batch-invariant."""
    import shutil

    from robustbench_match.checkpoints import open_checkpoint
    from robustbench_match.data import load_split

    folder = tmp_path / "left"
    shutil.copytree(decoders["llama"], folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "padding_side": "left"}))
    rows = load_split("sst2", "validation", str(DATA_DIR)).subset(np.arange(100))
    many = open_checkpoint("l", str(folder), batch_size=32, device="cpu")
    one = open_checkpoint("l", str(folder), batch_size=1, device="cpu").logits(rows)
    assert np.abs(many.logits(rows) - one).max() < 1e-5
    assert many.describe()["padding"].endswith("padding side left → right")
