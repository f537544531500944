"""Small decoder-only classifiers for the tests (issue 38): Llama, Qwen2 and GPT-2 sequence-classification heads built
from their transformers config classes, with a byte-level BPE tokenizer trained by ``tokenizers`` on real SST-2
text and saved, as the released decoder tokenizers are, without a pad token."""
from __future__ import annotations

from pathlib import Path

from paths import DATA_DIR

KINDS = ("llama", "qwen2", "gpt2")
EOS = "<|endoftext|>"


def bpe_tokenizer(folder: Path, vocab_size: int = 2000):
    """A byte-level BPE tokenizer trained on SST-2 training sentences (seconds), EOS only (no pad token)."""
    import csv

    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    with open(DATA_DIR / "glue" / "SST-2" / "train.tsv", encoding="utf-8") as fh:
        rows = [r["sentence"] for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(rows[:20000], vocab_size=vocab_size, special_tokens=[EOS])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=EOS, bos_token=EOS, unk_token=EOS,
                                        model_max_length=256)
    assert tokenizer.pad_token is None
    tokenizer.save_pretrained(folder)
    return tokenizer


def decoder_config(kind: str, vocab_size: int, num_labels: int = 2, label_names=("negative", "positive")):
    from transformers import GPT2Config, LlamaConfig, Qwen2Config

    labels = {"num_labels": num_labels, "id2label": dict(enumerate(label_names)),
              "label2id": {n: i for i, n in enumerate(label_names)}}
    if kind == "llama":
        return LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                           bos_token_id=0, eos_token_id=0, **labels)
    if kind == "qwen2":
        return Qwen2Config(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                           bos_token_id=0, eos_token_id=0, **labels)
    return GPT2Config(vocab_size=vocab_size, n_embd=64, n_layer=2, n_head=4, n_positions=256, bos_token_id=0,
                      eos_token_id=0, **labels)


def save_decoder(folder: Path, kind: str, seed: int = 0, tokenizer_folder: Path | None = None, num_labels: int = 2,
                 label_names=("negative", "positive")) -> Path:
    """A randomly initialised ``kind`` sequence classifier (seeded) and the BPE tokenizer, as a model folder."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder) if tokenizer_folder else bpe_tokenizer(folder)
    if tokenizer_folder:
        tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(decoder_config(kind, len(tokenizer), num_labels, label_names))
    assert model.config.pad_token_id is None
    model.save_pretrained(folder, safe_serialization=True)
    return folder
