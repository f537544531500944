"""The method registry. Entries are lazy ``"module:Class"`` strings, so listing names is cheap.

``a+b`` composes registered methods (e.g. ``match-tuning+r3f``, ``group-dro+match-tuning``).
"""
from __future__ import annotations

from typing import Any

from ...errors import RBMError
from ...registry import Registry, UnknownNameError

METHODS: Registry = Registry("method")

_P = "robustbench_match.training.methods."
for _name, _target in {
    "vanilla": "base:Vanilla",
    "match-tuning": "match_tuning:MatchTuning",
    "match-tuning-positive": "match_tuning:MatchTuningPositive",
    "match-tuning-negative": "match_tuning:MatchTuningNegative",
    "dense-head": "match_tuning:DenseHead",
    "r3f": "r3f:R3F",
    "child-tuning-f": "child_tuning:ChildTuningF",
    "child-tuning-d": "child_tuning:ChildTuningD",
    "mixout": "mixout:Mixout",
    "recadam": "recadam:RecAdam",
    "top-k": "top_k:TopK",
    "weight-decay": "weight_decay:WeightDecay",
    "group-dro": "group_dro:GroupDRO",
    "lora": "lora:LoRA",
    "freelb": "freelb:FreeLB",
    "smart": "smart:SMART",
    "augment": "augment:Augment",
    "adv-train": "adv_train:AdvTrain",
}.items():
    METHODS.register(_name, _P + _target)

COMPOSED_EXAMPLES = ("match-tuning+r3f", "group-dro+match-tuning", "match-tuning+lora")


def method_class(name: str) -> type:
    try:
        return METHODS.get(name)
    except UnknownNameError as exc:
        raise RBMError(str(exc)) from None


def split_name(name: str) -> list[str]:
    parts = [p.strip() for p in name.split("+") if p.strip()]
    if not parts:
        raise RBMError(f"method name {name!r} is empty")
    canonical = [METHODS.canonical(p) if p in METHODS else p for p in parts]
    twice = next((p for i, p in enumerate(canonical) if p in canonical[:i]), None)
    if twice:
        raise RBMError(f"method {name!r}: names {twice} twice (a composition combines different methods, e.g. "
                       f"{COMPOSED_EXAMPLES[0]})")
    return parts


def build_method(name: str, hparams: dict[str, Any] | None = None):
    """A ready method (or a composite) from its name and hyperparameters; unknown keys are an error."""
    from .base import Composite

    hparams = dict(hparams or {})
    classes = [method_class(part) for part in split_name(name)]
    parts = []
    for cls in classes:
        mine = {p.name for p in cls.params}
        parts.append(cls(**{k: hparams.pop(k) for k in list(hparams) if k in mine}))
    if hparams:
        flags = ", ".join("--" + k.replace("_", "-") for k in sorted(hparams))
        raise RBMError(f"method {name}: hyperparameter(s) {flags} do not apply to it")
    return parts[0] if len(parts) == 1 else Composite(parts)
