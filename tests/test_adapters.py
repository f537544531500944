"""Issue 28, part 1: PEFT adapters are checkpoints. An adapter trained here with plain ``peft`` (not our
trainer) on real SST-2 rows is scored by ``rbm run`` exactly as plain peft scores it one example at a time;
merged and unmerged predictions agree on every row; bad adapters are one line each and write nothing."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import rbm
from paths import DATA_DIR
from robustbench_match.data import load_split
from robustbench_match.results import predictions_path

DATA = DATA_DIR
pytestmark = pytest.mark.skipif(not (DATA / "glue" / "SST-2").is_dir() and not os.environ.get("CI"),
                                reason=f"no shared data at {DATA}")





@pytest.fixture(scope="module")
def adapter(tmp_path_factory) -> Path:
    """LoRA (r=8 on query/value, the head in modules_to_save) trained with plain peft + torch on 400 SST-2 rows
    (2 epochs)."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from robustbench_match.models import default_base_model

    torch.manual_seed(0)
    base = default_base_model()
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16,
                                             target_modules=["query", "value"]))
    train = load_split("sst2", "train", str(DATA)).subset(np.arange(400))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    for _ in range(2):  # two epochs: enough to learn well above the majority class
        for start in range(0, 400, 16):
            batch = tok(train.text_a[start:start + 16], padding=True, truncation=True, max_length=64,
                        return_tensors="pt")
            model(**batch, labels=torch.tensor(train.labels[start:start + 16])).loss.backward()
            opt.step()
            opt.zero_grad()
    out = tmp_path_factory.mktemp("adapter") / "lora"
    model.save_pretrained(out)
    return out


def test_rbm_run_scores_an_adapter_as_plain_peft_does_one_example_at_a_time(adapter, tmp_path, capsys):
    import torch
    from peft import AutoPeftModelForSequenceClassification
    from transformers import AutoTokenizer

    out = tmp_path / "run"
    code, _, err = rbm(["run", "glue-dev", "--tasks", "sst2", "--checkpoint", f"sst2/lora={adapter}", "--data-dir",
                        DATA, "--output", out, "--save-predictions", "--format", "none", "--max-length", 128], capsys)
    assert code == 0, err
    (rec,) = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    ours = [json.loads(x)["prediction"] for x in predictions_path(out, rec).read_text().splitlines()]
    dev = load_split("sst2", "validation", str(DATA))
    model = AutoPeftModelForSequenceClassification.from_pretrained(adapter).eval()  # unmerged, stock peft
    tok = AutoTokenizer.from_pretrained(json.loads((adapter / "adapter_config.json").read_text())
                                        ["base_model_name_or_path"])
    with torch.no_grad():
        plain = [int(model(**tok(t, truncation=True, max_length=128, return_tensors="pt")).logits.argmax(-1))
                 for t in dev.text_a]
    assert ours == plain
    assert rec["metrics"]["accuracy"] == pytest.approx(np.mean(np.asarray(plain) == dev.labels))
    assert rec["metrics"]["accuracy"] > 0.6  # it learnt something: the comparison is not of two constants
    assert rec["checkpoint"]["kind"] == "peft" and rec["checkpoint"]["peft_type"] == "LORA"


def test_merged_and_unmerged_agree_on_every_row(adapter):
    from robustbench_match.checkpoints import PeftCheckpoint

    dev = load_split("sst2", "validation", str(DATA))
    merged = PeftCheckpoint("m", str(adapter), merge=True, max_length=128).predict(dev)
    unmerged = PeftCheckpoint("u", str(adapter), merge=False, max_length=128).predict(dev)
    assert np.array_equal(merged, unmerged)


def test_the_fingerprint_covers_adapter_and_base(adapter, tmp_path):
    from robustbench_match.checkpoints import PeftCheckpoint

    base = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    other_base = tmp_path / "base"
    shutil.copytree(base, other_base)
    (other_base / "config.json").write_text((other_base / "config.json").read_text().replace("}", ', "x": 1}', 1))
    one = PeftCheckpoint("a", str(adapter)).digest()
    two = PeftCheckpoint("a", str(adapter), base=str(other_base)).digest()
    assert one["adapter"] == two["adapter"] and one["base"] != two["base"]


def _tiny_bert(folder: Path) -> Path:
    """Another architecture's base: a BERT with hidden size 32 (random weights, the MiniLM vocabulary)."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from robustbench_match.models import default_base_model

    tok = AutoTokenizer.from_pretrained(default_base_model())
    BertForSequenceClassification(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                                             num_attention_heads=2, intermediate_size=64)).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _copy(adapter: Path, tmp_path: Path, **config) -> Path:
    folder = tmp_path / "bad-adapter"
    shutil.copytree(adapter, folder)
    cfg = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**cfg, **config}))
    return folder


BAD = [
    ("base-folder-missing", lambda a, t: (f"sst2/x={_copy(a, t, base_model_name_or_path=str(t / 'gone'))}",),
     "does not exist; give another base as --checkpoint"),
    ("base-given-after-at-missing", lambda a, t: (f"sst2/x={a}@{t / 'gone'}",), "does not exist"),
    ("causal-lm-adapter", lambda a, t: (f"sst2/x={_copy(a, t, task_type='CAUSAL_LM')}",),
     "scoring needs a sequence-classification adapter"),
    ("unknown-peft-type", lambda a, t: (f"sst2/x={_copy(a, t, peft_type='NOT_A_PEFT')}",), "is not one peft"),
    ("head-size-vs-task", lambda a, t: (f"mnli/x={a}",), "has 2 labels, task mnli expects 3"),
    ("other-architecture", lambda a, t: (f"sst2/x={a}@{_tiny_bert(t / 'tiny')}",),
     "the adapter does not fit its base model"),
]


@pytest.mark.parametrize("case, checkpoint, message", BAD, ids=[b[0] for b in BAD])
def test_bad_adapters_are_one_line_and_write_nothing(case, checkpoint, message, adapter, tmp_path, capsys):
    (spec,) = checkpoint(adapter, tmp_path)
    out = tmp_path / "out"
    code, _, err = rbm(["run", "glue-dev", "--checkpoint", spec, "--data-dir", DATA, "--output", out,
                        "--format", "none", "--limit", 8], capsys)
    lines = [x for x in err.splitlines() if x.startswith("rbm ")]
    assert code == 1 and "Traceback" not in err and len(lines) == 1, err
    assert message in lines[0], lines[0]
    assert not (out / "results.jsonl").exists()
