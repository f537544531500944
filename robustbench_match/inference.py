"""Batch-invariant, fast inference for sequence classifiers.

Why this shape: examples are tokenized once without padding, sorted by length and padded per batch,
so padding waste is minimal (≈2× over random dynamic padding) and each example's logits depend only
on its own tokens — never on which examples share its batch (the attention mask hides padding).
"""
from __future__ import annotations

import contextlib
from typing import Optional, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .errors import CheckpointError, RBMError

DEFAULT_MAX_LENGTH = 128
DEFAULT_BATCH_SIZE = 64


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` → CUDA when present, else CPU; anything else must name a device this machine has."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise RBMError(f"--device {device!r}: expected auto, cpu, cuda, cuda:N or mps")
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise RBMError(f"--device {device}: no CUDA device on this machine (use --device cpu or auto)")
        if dev.index is not None and dev.index >= count:
            raise RBMError(f"--device {device}: this machine has {count} CUDA device(s) "
                           f"(cuda:0{f'..cuda:{count - 1}' if count > 1 else ''})")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise RBMError(f"--device {device}: MPS is not available on this machine (use --device cpu or auto)")
    return dev


PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: fewer tokens than this cannot hold [CLS] a [SEP] b [SEP] plus a word of each: truncation would do nothing
MIN_MAX_LENGTH = 8
#: fp16's largest finite value: weights beyond it (a Match-Tuning export's folded classifier) overflow
FP16_MAX = 65504.0


def resolve_precision(device: torch.device, precision: str, flag: str = "--precision") -> str:
    """The one precision rule of ``rbm run`` and ``rbm train``: ``auto`` is bf16 on CUDA and fp32 elsewhere;
    fp16 needs CUDA (CPU autocast has no fp16 path worth measuring)."""
    if precision not in PRECISIONS:
        raise RBMError(f"{flag} {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise RBMError(f"{flag} fp16 needs a CUDA device (use bf16 or fp32 on {device.type})")
    return precision


def check_fp16_range(model: torch.nn.Module, where: str) -> None:
    """fp16 cannot hold weights beyond ±65504: such a model (a Match-Tuning export folds its projection into
    a classifier scaled by 2^20) would flip predictions, so it is refused rather than scored wrongly."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and float(tensor.abs().max()) > FP16_MAX:
            raise RBMError(f"--precision fp16: {where}: weight {name} exceeds fp16's range (±{FP16_MAX:g}); score it "
                           f"with --precision fp32 or bf16")


def check_max_length(value: Optional[int], positions: Optional[int] = None, where: str = "",
                     flag: str = "--max-length") -> Optional[int]:
    """The one max-length rule of ``rbm run`` and ``rbm train``: at least MIN_MAX_LENGTH tokens, at most the
    model's ``max_position_embeddings`` when known."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_MAX_LENGTH:
        raise RBMError(f"{flag} {value}: expected a whole number >= {MIN_MAX_LENGTH} (tokens per example, special "
                       f"tokens included)")
    if isinstance(positions, int) and value > positions:
        raise RBMError(f"{flag} {value}: {where or 'the model'} has {positions} positions (max_position_embeddings); "
                       f"use {flag} {positions} or less")
    return value


def autocast_context(device: torch.device, precision: str):
    """bf16/fp16 autocast where asked; fp32 otherwise. ``auto`` means bf16 on CUDA, fp32 on CPU."""
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device_type=device.type, dtype=dtype)


def ensure_padding(model, tokenizer, where: str) -> Optional[str]:
    """Give a tokenizer without a pad token one, as the transformers docs advise for decoder classifiers (Llama,
    Qwen, Mistral, GPT-2 ship none): the model config's ``pad_token_id`` when it names one, else the EOS token.
    The config gets the same id (a ``*ForSequenceClassification`` head pools the last token that is not padding,
    found by that id; without it a batch larger than one fails), and padding goes on the right, where a causal
    model never attends to it, so a row's logits do not depend on its batch. Returns what was done (for the log
    and the record's provenance), or None for a tokenizer that has its own pad token."""
    note = None
    if tokenizer.pad_token_id is None:
        config_pad = getattr(model.config, "pad_token_id", None)
        if isinstance(config_pad, int) and 0 <= config_pad < len(tokenizer):
            tokenizer.pad_token = tokenizer.convert_ids_to_tokens(config_pad)
            note = f"pad token = the model config's pad_token_id {config_pad} ({tokenizer.pad_token!r})"
        elif tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
            note = f"pad token = the EOS token {tokenizer.eos_token!r} (id {tokenizer.pad_token_id})"
        else:
            raise CheckpointError(f"{where}: its tokenizer has no pad token, and neither the model config "
                                  f"(pad_token_id) nor the tokenizer (eos_token) names one to pad with; set "
                                  f"tokenizer.pad_token and save it with the checkpoint")
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if is_decoder_head(model) and tokenizer.padding_side != "right":
        note = (note + "; " if note else "") + f"padding side {tokenizer.padding_side} → right"
        tokenizer.padding_side = "right"
    return note


def is_decoder_head(model) -> bool:
    """A causal decoder classifier: its ``score`` layer runs at every position and the last non-pad one is kept."""
    return getattr(getattr(model, "config", None), "model_type", None) in DECODER_TYPES


def last_non_pad(input_ids: torch.Tensor, pad_token_id: Optional[int]) -> torch.Tensor:
    """The position a transformers decoder classifier pools: the rightmost token that is not padding (its own
    rule; without a pad id, the last position)."""
    if pad_token_id is None:
        return torch.full((input_ids.shape[0],), input_ids.shape[1] - 1, device=input_ids.device)
    non_pad = (input_ids != pad_token_id).int()
    return (torch.arange(input_ids.shape[1], device=input_ids.device) * non_pad).argmax(-1)


#: model types whose sequence-classification head pools the last non-pad token (a causal decoder)
DECODER_TYPES = frozenset({"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma",
                           "gemma2", "gemma3_text", "gpt2", "gpt_neo", "gpt_neox", "gptj", "phi", "phi3", "falcon",
                           "opt", "bloom", "olmo", "olmo2", "stablelm", "starcoder2", "mpt", "persimmon"})


TOKENIZE_CHUNK = 10_000  # a set larger than this is tokenised in chunks, with a progress line per ~10 %


def tokenize(tokenizer, text_a: Sequence[str], text_b: Optional[Sequence[str]], max_length: int) -> dict:
    """Tokenize without padding; returns {field: list per example} (the tokenizer's BatchEncoding for small
    sets). Large sets go in chunks (the same ids: every example is tokenised on its own) with progress."""
    text_a = list(text_a)
    text_b = None if text_b is None else list(text_b)

    def call(lo: int, hi: int):
        args = (text_a[lo:hi],) if text_b is None else (text_a[lo:hi], text_b[lo:hi])
        return tokenizer(*args, truncation=True, max_length=max_length, padding=False)

    if len(text_a) <= TOKENIZE_CHUNK:
        return call(0, len(text_a))
    from .progress import Progress

    out: dict[str, list] = {}
    with Progress(len(text_a), f"tokenise {len(text_a):,} examples", unit="example") as progress:
        for lo in range(0, len(text_a), TOKENIZE_CHUNK):
            part = call(lo, lo + TOKENIZE_CHUNK)
            for key in part.keys():
                out.setdefault(key, []).extend(part[key])
            progress.update(min(TOKENIZE_CHUNK, len(text_a) - lo))
    return out


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Positions grouped into batches of similar length, longest first (OOM shows up at once)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


@torch.inference_mode()
def predict_logits(model, tokenizer, text_a: Sequence[str], text_b: Optional[Sequence[str]] = None, *,
                   batch_size: int = DEFAULT_BATCH_SIZE, max_length: int = DEFAULT_MAX_LENGTH,
                   device: str | torch.device = "auto", precision: str = "auto",
                   progress: bool = True, desc: str = "predict") -> np.ndarray:
    """Logits (n, num_labels) in input order, float32."""
    device = resolve_device(device) if isinstance(device, str) else device
    model.eval()
    if next(model.parameters()).device != device:
        model.to(device)
    enc = tokenize(tokenizer, text_a, text_b, max_length)
    keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
    lengths = [len(ids) for ids in enc["input_ids"]]
    # we tokenize once up front on purpose (to sort by length); silence the "use __call__" hint
    getattr(tokenizer, "deprecation_warnings", {})["Asking-to-pad-a-fast-tokenizer"] = True
    out: Optional[np.ndarray] = None
    batches = length_sorted_batches(lengths, batch_size)
    for batch in tqdm(batches, desc=desc, disable=not progress or None, leave=False):
        features = [{k: enc[k][i] for k in keys} for i in batch]
        padded = tokenizer.pad(features, padding="longest", return_tensors="pt")
        padded = {k: v.to(device) for k, v in padded.items()}
        with autocast_context(device, precision):
            logits = model(**padded).logits
        logits = logits.float().cpu().numpy()
        if not np.isfinite(logits).all():
            bad = int((~np.isfinite(logits)).any(axis=1).sum())
            raise CheckpointError(f"checkpoint {desc}: the model gives non-finite logits (inf/NaN) for {bad} of {len(batch)} "
                                  f"examples in a batch; its weights are probably broken (e.g. trained with too high "
                                  f"a learning rate); refusing to score it")
        if out is None:
            out = np.empty((len(lengths), logits.shape[1]), dtype=np.float32)
        out[batch] = logits
    if out is None:
        return np.empty((0, model.config.num_labels), dtype=np.float32)
    return out


# -- --batch-size auto --------------------------------------------------------------------------------------
AUTO = "auto"
#: sizes the CPU probe times (the fastest wins); CUDA starts at the largest and halves on out-of-memory
AUTO_CANDIDATES = (8, 16, 32, 64, 128, 256)
CUDA_START = 1024
PROBE_ROWS = 128


def choose_batch_size(model, tokenizer, text_a: Sequence[str], text_b: Optional[Sequence[str]], *, max_length: int,
                      device: str | torch.device = "auto", precision: str = "auto") -> dict:
    """The inference batch size for ``--batch-size auto``, and how it was found (recorded with the results).

    CUDA: accelerate's ``find_executable_batch_size`` runs the longest rows at 1024 and halves on out-of-memory
    until a batch fits (the largest that fits is the fastest there). CPU has no memory wall worth probing, so
    each size of 8..256 scores the same seeded sample of rows once, after a warm-up, and the fastest wins.
    Predictions do not depend on the choice: batches are length-sorted and padded to their own longest row,
    so every row is scored the same way at any size (batch invariance, tested)."""
    import time

    from accelerate.utils import find_executable_batch_size

    device = resolve_device(device) if isinstance(device, str) else device
    n = len(text_a)
    if n == 0:
        return {"batch_size": DEFAULT_BATCH_SIZE, "how": "no rows to probe"}
    if device.type == "cuda":
        enc = tokenize(tokenizer, text_a, text_b, max_length)
        longest = list(np.argsort([-len(ids) for ids in enc["input_ids"]], kind="stable"))

        sizes = [CUDA_START]

        def halve() -> int:  # accelerate's own default shrinks by 10 %; halving finds the size in 10 tries at most
            sizes.append(sizes[-1] // 2)
            return sizes[-1]

        @find_executable_batch_size(starting_batch_size=CUDA_START, reduce_batch_size_fn=halve)
        def probe(batch_size: int) -> int:
            rows = [longest[i % n] for i in range(batch_size)]
            predict_logits(model, tokenizer, [text_a[i] for i in rows],
                           None if text_b is None else [text_b[i] for i in rows], batch_size=batch_size,
                           max_length=max_length, device=device, precision=precision, progress=False)
            return batch_size

        try:
            size = probe()
        except RuntimeError as exc:
            if "reached zero" not in str(exc):
                raise
            raise CheckpointError(f"--batch-size auto: not even one row fits in {device} memory") from None
        return {"batch_size": int(size), "how": f"largest that fits on {device} (from {CUDA_START}, halved on "
                                                f"out-of-memory; accelerate find_executable_batch_size)",
                "tried": sizes}
    rows = np.sort(np.random.default_rng(0).permutation(n)[:PROBE_ROWS])
    a = [text_a[i] for i in rows]
    b = None if text_b is None else [text_b[i] for i in rows]
    predict_logits(model, tokenizer, a[:16], None if b is None else b[:16], batch_size=16, max_length=max_length,
                   device=device, precision=precision, progress=False)  # warm-up: first-call costs
    speed: dict[int, float] = {}
    for size in AUTO_CANDIDATES:
        start = time.perf_counter()
        predict_logits(model, tokenizer, a, b, batch_size=size, max_length=max_length, device=device,
                       precision=precision, progress=False)
        speed[size] = round(len(a) / max(time.perf_counter() - start, 1e-9), 1)
    best = max(speed, key=lambda s: speed[s])
    return {"batch_size": int(best), "how": f"fastest on {device} of {list(AUTO_CANDIDATES)} scoring the same "
                                           f"{len(a)} rows", "examples_per_s": {str(k): v for k, v in speed.items()}}
