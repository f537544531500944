"""The training configuration: one dataclass shared by ``rbm train``, the suites and the benchmarks."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import RBMError


def _opt(default: Any, help: str, *, kind: Any = None, required: bool = False, choices: tuple = ()) -> Any:
    """A TrainConfig field that is also an ``rbm train`` flag (``--name-with-dashes``): its help, how argparse
    reads it (``kind``: a type, "seed", "flag", "switch"), whether it is required, its choices. The flags
    are generated from these fields (``cli_fields``), so a setting is written once."""
    return field(default=default, metadata={"help": help, "kind": kind, "required": required, "choices": choices})


@dataclass
class TrainConfig:
    """Everything that determines a fine-tuning run; all of it is recorded in the checkpoint card.

    Defaults follow the paper's BERT setting (App. B, Table 10): AdamW, linear decay with 10 %
    warm-up, batch 16, 3 epochs, max length 128, random batches (the paper used HF Trainer defaults;
    length grouping is an opt-in speed-up that changes which instances meet in a batch, and so
    what Match-Tuning does). ``method_args`` holds the method's own
    hyperparameters (see ``rbm methods``); unknown keys are an error, missing keys take defaults.
    """

    method: str = _opt("vanilla", "one of the registered methods; combine with '+', e.g. match-tuning+r3f",
                       required=True)
    task: str = _opt("sst2", "a task (sst2, rte, mrpc, cola, stsb, ... or a task YAML's name on --include-path; "
                             "see `rbm tasks`)", required=True)
    seed: int = _opt(1, "seed of the fresh head, dropout and batch order", kind="seed")
    output: str = _opt("runs/model", "checkpoint folder to create", required=True)
    model: Optional[str] = _opt(None, "base model folder or hub id (default: packaged MiniLM-L6)")
    data_dir: Optional[str] = _opt(None, "glue_data-style folder (default: $RBM_DATA_DIR, else the hub)")
    epochs: float = _opt(3, "training epochs (a fraction is allowed)")
    max_steps: Optional[int] = _opt(None, "stop after this many steps (overrides --epochs)", kind=int)
    batch_size: int = _opt(16, "examples per optimizer step")
    lr: float = _opt(2e-5, "peak learning rate of AdamW (linear warm-up and decay)")
    max_length: int = _opt(128, "max tokens per example (longer ones are truncated)")
    max_train_examples: Optional[int] = _opt(None, "train on a seeded random sample of N examples (the same for "
                                                   "every method and seed)", kind=int)
    method_args: dict[str, Any] = field(default_factory=dict)  # the method's own flags (see `rbm methods`)
    device: str = _opt("auto", "auto, cpu, cuda, cuda:1 ...")
    precision: str = _opt("auto", "auto: bf16 autocast on CUDA, fp32 on CPU (deterministic, exact)",
                          choices=("auto", "fp32", "bf16", "fp16"))
    condition: Optional[dict] = None  # how train_examples were perturbed, e.g. {"name": "label-noise", ...}
    warmup_ratio: float = _opt(0.1, "share of the steps spent warming up the learning rate")
    weight_decay: float = _opt(0.0, "AdamW decay toward zero (method weight-decay decays toward the pretrained "
                                    "weights)")
    adam_eps: float = _opt(1e-8, "AdamW epsilon")
    max_grad_norm: float = _opt(1.0, "clip the gradient norm to this (0: no clipping)")
    group_by_length: bool = _opt(False, "batch sentences of similar length together (less padding, faster on "
                                        "GPU); off by default: random batches, as in the paper — for in-batch "
                                        "methods such as match-tuning the batch is part of the method",
                                 kind="switch")
    dropout: Optional[float] = _opt(None, "set every dropout to this (default: the model's)", kind=float)
    overwrite: bool = _opt(False, "replace an existing checkpoint folder written by rbm train (never any other "
                                  "folder or file)", kind="flag")
    log_to: Optional[str] = _opt(None, "experiment trackers for the loss and method curves and the card, comma-separated: "
                                       "wandb, mlflow, tensorboard, trackio (offline; their extras must be installed)")
    log_dir: Optional[str] = _opt(None, "where offline trackers write (default: ./rbm-logs; $MLFLOW_TRACKING_URI, "
                                        "$WANDB_DIR and $WANDB_MODE are honoured)")
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
                "condition", "overwrite", "log_every", "log_to", "log_dir"}
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


def cli_fields() -> list[dataclasses.Field]:
    """TrainConfig's fields that are ``rbm train`` flags, in declaration order."""
    return [f for f in dataclasses.fields(TrainConfig) if "help" in f.metadata]
