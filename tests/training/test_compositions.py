"""Issue 35: every composition ``rbm methods`` accepts trains — one real optimizer step and an export of every
pair of methods on a tiny BERT (the MiniLM vocabulary, 4 layers of width 32) and 16 real SST-2 rows — and
those it cannot combine are refused when the method is built, in one line. LoRA trains the adapters and the
whole classification head (BERT: pooler and classifier), nothing else."""
from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

import pytest

from paths import DATA_DIR
from robustbench_match.errors import RBMError
from robustbench_match.training.methods import METHODS, build_method

pytestmark = pytest.mark.skipif(not (DATA_DIR / "glue" / "SST-2").is_dir(), reason=f"no shared data at {DATA_DIR}")

#: pairs refused when built, and the words of their one line
REFUSED = {
    **{pair: "both replace the classification head" for pair in itertools.combinations(
        ["dense-head", "match-tuning", "match-tuning-negative", "match-tuning-positive"], 2)},
    ("lora", "mixout"): "cannot be combined",
}
#: hyperparameters a pair needs to run on SST-2 (GroupDRO's groups: the labels; SST-2 has no group field)
SETTINGS = {"group-dro": {"dro_groups": "label"}}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, Path]:
    """(a tiny BERT folder, a data root with 16 SST-2 training and dev rows)."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from robustbench_match.models import default_base_model

    root = tmp_path_factory.mktemp("compose")
    tok = AutoTokenizer.from_pretrained(default_base_model())
    BertForSequenceClassification(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=4,
                                             num_attention_heads=2, intermediate_size=64)).save_pretrained(root / "tiny")
    tok.save_pretrained(root / "tiny")
    for split in ("train", "dev"):
        lines = (DATA_DIR / "glue" / "SST-2" / f"{split}.tsv").read_text().splitlines()[:17]
        (root / "data" / "glue" / "SST-2").mkdir(parents=True, exist_ok=True)
        (root / "data" / "glue" / "SST-2" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return root / "tiny", root / "data"


PAIRS = ["+".join(p) for p in itertools.combinations(METHODS.names(), 2)]


@pytest.mark.parametrize("name", PAIRS)
def test_every_pair_trains_one_step_or_is_refused_in_one_line(name, world, tmp_path):
    from robustbench_match.training import TrainConfig, train

    tiny, data = world
    parts = tuple(name.split("+"))
    settings = {k: v for part in parts for k, v in SETTINGS.get(part, {}).items()}
    if parts in REFUSED:
        with pytest.raises(RBMError, match=REFUSED[parts]) as info:
            build_method(name, settings)
        assert "\n" not in str(info.value)
        return
    logging.disable(logging.WARNING)
    try:
        out = train(TrainConfig(method=name, task="sst2", model=str(tiny), max_steps=1, max_train_examples=16,
                                batch_size=8, max_length=16, data_dir=str(data), output=str(tmp_path / "ck"),
                                seed=1, method_args=settings))
    finally:
        logging.disable(logging.NOTSET)
    card = json.loads((Path(out) / "rbm_card.json").read_text())
    steps = [json.loads(line) for line in (Path(out) / "training_log.jsonl").read_text().splitlines()]
    assert card["method"] == name and [s["step"] for s in steps] == [1]  # one real optimizer step, logged
    assert all(map(lambda v: v == v, (s["loss"] for s in steps)))  # a finite (non-NaN) loss
    assert (Path(out) / "model.safetensors").is_file() or (Path(out) / "adapter_model.safetensors").is_file()


def _trainable(method: str) -> set[str]:
    """The names of the parameters ``method`` trains on the packaged MiniLM (peft's wrappers unwrapped)."""
    from types import SimpleNamespace

    from transformers import AutoModelForSequenceClassification

    from robustbench_match.models import default_base_model

    model = AutoModelForSequenceClassification.from_pretrained(default_base_model(), num_labels=2)
    ctx = SimpleNamespace(model=model, pretrained_names={n for n, _ in model.named_parameters()
                                                         if not n.startswith("classifier.")})
    m = build_method(method)
    for part in getattr(m, "parts", [m]):
        part.setup(ctx)
        ctx.model = getattr(part, "peft", ctx.model)
    names = set()
    for n, p in ctx.model.named_parameters():
        if p.requires_grad:
            names.add(n.replace("base_model.model.", "").replace(".modules_to_save.default", "")
                      .replace(".default", ""))
    return names


def test_lora_trains_the_adapters_and_the_whole_head_nothing_else():
    names = _trainable("lora")
    adapters = {f"bert.encoder.layer.{i}.attention.self.{m}.lora_{ab}.weight"
                for i in range(6) for m in ("query", "value") for ab in "AB"}
    head = {"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"}
    assert names == adapters | head


def test_lora_records_its_head_modules_once():
    from types import SimpleNamespace

    from transformers import AutoModelForSequenceClassification

    from robustbench_match.models import default_base_model

    model = AutoModelForSequenceClassification.from_pretrained(default_base_model(), num_labels=2)
    method = build_method("lora")
    method.setup(SimpleNamespace(model=model, pretrained_names=set()))
    assert method.describe()["head_modules"] == ["classifier", "pooler"]  # peft's own defaults not mixed in
