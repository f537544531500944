"""The training configuration: one dataclass shared by ``rbm train``, the suites and the benchmarks."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import RBMError


@dataclass
class TrainConfig:
    """Everything that determines a fine-tuning run; all of it is recorded in the checkpoint card.

    Defaults follow the paper's BERT setting (App. B, Table 10): AdamW, linear decay with 10 %
    warm-up, batch 16, 3 epochs, max length 128, random batches (the paper used HF Trainer defaults;
    length grouping is an opt-in speed-up that changes which instances meet in a batch, and so
    what Match-Tuning does). ``method_args`` holds the method's own
    hyperparameters (see ``rbm methods``); unknown keys are an error, missing keys take defaults.
    """

    method: str = "vanilla"
    task: str = "sst2"
    seed: int = 1
    output: str = "runs/model"
    model: Optional[str] = None  # None / "minilm" → the packaged MiniLM-L6
    data_dir: Optional[str] = None
    epochs: float = 3
    max_steps: Optional[int] = None
    batch_size: int = 16
    lr: float = 2e-5
    max_length: int = 128
    max_train_examples: Optional[int] = None
    method_args: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU (deterministic, exact)
    condition: Optional[dict] = None  # how train_examples were perturbed, e.g. {"name": "label-noise", ...}
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0  # AdamW's decoupled decay toward zero (HF default 0); see method weight-decay
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0
    group_by_length: bool = False  # random batches (HF Trainer default); for in-batch methods the batch is the method
    dropout: Optional[float] = None  # None: the model's own; 0 turns every dropout off
    overwrite: bool = False
    log_every: int = 1

    def validate(self) -> None:
        """Reject impossible settings before anything is loaded or written."""
        checks = [
            (self.batch_size >= 1, f"batch_size must be >= 1 (got {self.batch_size})"),
            ((math.isfinite(self.epochs) and self.epochs > 0) or self.max_steps,
             f"epochs must be a finite number > 0 (got {self.epochs})"),
            (self.max_steps is None or self.max_steps >= 1, f"max_steps must be >= 1 (got {self.max_steps})"),
            (math.isfinite(self.lr) and self.lr > 0, f"lr must be a finite number > 0 (got {self.lr})"),
            (math.isfinite(self.max_grad_norm) and self.max_grad_norm >= 0,
             f"max_grad_norm must be a finite number >= 0, 0 turning clipping off (got {self.max_grad_norm})"),
            (math.isfinite(self.weight_decay) and self.weight_decay >= 0,
             f"weight_decay must be a finite number >= 0 (got {self.weight_decay})"),
            (math.isfinite(self.adam_eps) and self.adam_eps > 0, f"adam_eps must be a finite number > 0 (got {self.adam_eps})"),
            (8 <= self.max_length <= 4096, f"max_length must be in [8, 4096] (got {self.max_length})"),
            (isinstance(self.seed, int) and 0 <= self.seed <= 2**32 - 1,
             f"seed must be a whole number in 0..{2**32 - 1} (got {self.seed!r})"),
            (0 <= self.warmup_ratio < 1, f"warmup_ratio must be in [0, 1) (got {self.warmup_ratio})"),
            (self.precision in ("auto", "fp32", "bf16", "fp16"),
             f"precision must be auto, fp32, bf16 or fp16 (got {self.precision!r})"),
            (self.max_train_examples is None or self.max_train_examples >= 1,
             f"max_train_examples must be >= 1 (got {self.max_train_examples})"),
            (bool(self.output), "output must be a folder path"),
            (self.dropout is None or 0 <= self.dropout < 1, f"dropout must be in [0, 1) (got {self.dropout})"),
        ]
        for ok, message in checks:
            if not ok:
                name, rest = message.split(" ", 1)
                raise RBMError(f"--{name.replace('_', '-')} {rest}")  # the flag, as the user typed it

    def trainer_hyperparameters(self) -> dict[str, Any]:
        """The loop's own hyperparameters (method ones are added by the method)."""
        skip = {"method", "task", "seed", "output", "model", "data_dir", "method_args", "device",
                "condition", "overwrite", "log_every"}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}


#: TrainConfig fields the runner sets per cell; a suite's ``train:`` block may not (it would be silently overridden)
RUNNER_FIELDS = frozenset({"method", "task", "seed", "output", "data_dir", "condition", "overwrite", "device"})


def parse_train_block(raw: Any, where: str) -> dict[str, Any]:
    """A suite's ``train:`` block, typed at load: ``methods`` and ``seeds`` (what to train), and TrainConfig's
    own fields (epochs, lr, batch_size, max_length, ...). An unknown or mistyped key (``epoch: 3``) is one line
    naming the file and the key, never a traceback at TrainConfig(**settings)."""
    import difflib
    import typing

    from ..inputs import check_seed
    from ..typed import coerce, type_name

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RBMError(f"{where}: train must be a mapping (methods, seeds, epochs, lr, ...)")
    hints = typing.get_type_hints(TrainConfig)
    allowed = sorted({f.name for f in dataclasses.fields(TrainConfig)} - RUNNER_FIELDS) + ["methods", "seeds"]
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RBMError(f"{where}: train.{key}: unknown key{hint} (expected {', '.join(allowed)})")
        if key in ("methods", "seeds"):
            item = str if key == "methods" else int
            if not isinstance(value, list) or not value or not all(isinstance(v, item) and not isinstance(v, bool)
                                                                   for v in value):
                raise RBMError(f"{where}: train.{key}: {value!r} is not a non-empty list of "
                               f"{'method names' if key == 'methods' else 'integers'}")
            if key == "seeds":
                for seed in value:
                    check_seed(seed, f"{where}: train.seeds:")
            out[key] = list(value)
            continue
        ok, converted = coerce(value, hints[key])
        if not ok:
            raise RBMError(f"{where}: train.{key}: {value!r} is not {type_name(hints[key])}")
        out[key] = converted
    return out
