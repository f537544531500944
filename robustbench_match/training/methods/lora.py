"""LoRA (Hu et al., ICLR 2022, "LoRA: Low-Rank Adaptation of Large Language Models"), through ``peft``.

The pretrained weights stay frozen; each targeted linear layer W gets a trainable update (α/r)·B·A with
A ∈ R^{r×d} (Kaiming-uniform) and B ∈ R^{k×r} (zeros), so training starts from the pretrained function.
The whole classification head is trained in full (``modules_to_save``), as the authors' ``examples/NLU`` train
every parameter outside the encoder: for BERT that is the pooler *and* the classifier (peft's ``SEQ_CLS``
default saves only ``classifier``/``score``, which leaves BERT's pooler frozen — and the packaged MiniLM's
pooler was never trained: bias 0, weight sd 0.009, a random tanh projection); for RoBERTa the
``classifier`` module holds its dense and output layers; for decoders the ``score`` layer
(:func:`head_modules`). The committed LoRA rows from before this (issue 35) trained the classifier only.

Defaults are the paper's RoBERTa-base GLUE setting (Table 9 and the authors' ``examples/NLU`` scripts):
r = 8, α = 8, adapters on the attention query and value projections, no LoRA dropout. The projections are
found by peft's own per-architecture mapping (``--lora-target auto``: BERT/RoBERTa ``query,value``; Llama,
Qwen2, Mistral ``q_proj,v_proj``; GPT-2 ``c_attn``), so a decoder base works without naming its layers. The paper trains
with a much larger learning rate than full fine-tuning (4e-4–5e-4 with batch 16, warm-up 0.06): pass it
with ``--lr``; the trainer's default (2e-5) is full fine-tuning's and leaves LoRA barely moving.

Export: the adapter folder stock ``peft`` loads (``adapter_config.json``, ``adapter_model.safetensors`` with
the head, plus ``config.json`` for ``id2label``), or with ``--merge`` the merged weights as a plain
transformers folder. Composed with another method (``match-tuning+lora``) the body is LoRA and every layer
the other method adds (Match-Tuning's dense and head) trains in full; such a model is always exported
merged (the other method folds its layers into a stock head, which an adapter cannot hold).
Deviation: peft's LoRA on BERT-style models, not the authors' ``loralib`` (the same parameterisation).
"""
from __future__ import annotations

import logging

from ...errors import RBMError
from .base import Method, Param

log = logging.getLogger(__name__)


def flag(value) -> bool:
    """A boolean method parameter from the command line (``--merge``) or a suite file (``merge: true``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def head_modules(model) -> list[str]:
    """Names of the modules outside the encoder that carry parameters — the model's own children other than
    the base model (``classifier``, ``score``, DistilBERT's ``pre_classifier``) and the base model's
    ``pooler`` when it has one: what the authors train in full beside the adapters."""
    base = getattr(model, "base_model_prefix", "")
    heads = [name for name, child in model.named_children()
             if name != base and any(True for _ in child.parameters())]
    pooler = getattr(getattr(model, base, None), "pooler", None)
    if pooler is not None and any(True for _ in pooler.parameters()):
        heads.append("pooler")
    return heads


def target_modules(model, given: str) -> list[str]:
    """The layers to adapt: the names given, or for ``auto`` peft's own per-architecture default
    (``TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING``, keyed by the config's ``model_type``)."""
    if given.strip().lower() != "auto":
        return [t.strip() for t in given.split(",") if t.strip()]
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

    config = getattr(model, "config", None) or next((m.config for m in model.modules() if hasattr(m, "config")), None)
    kind = getattr(config, "model_type", None)
    if kind not in DEFAULTS:
        raise RBMError(f"method lora: peft has no default target modules for model type {kind!r}; name the layers "
                       f"to adapt with --lora-target (e.g. its attention projections: q_proj,v_proj)")
    return list(DEFAULTS[kind])


def check_rank(model, targets: list[str], rank: int) -> None:
    """r at most the smallest side of every adapted layer: beyond it B·A is no longer low-rank (more
    parameters than the layer itself, nothing LoRA's paper studied) — ``--lora-r 100000`` is a typo."""
    sides = [min(m.in_features, m.out_features) for name, m in model.named_modules()
             if name.rsplit(".", 1)[-1] in targets and hasattr(m, "in_features") and hasattr(m, "out_features")]
    if sides and rank > min(sides):
        raise RBMError(f"method lora: --lora-r {rank}: larger than the adapted layers' smallest dimension "
                       f"({min(sides)}); expected 1..{min(sides)} (paper, GLUE: 8)")


class LoRA(Method):
    name = "lora"
    summary = ("LoRA (Hu et al., 2022) via peft: frozen body, rank-r updates on attention query/value, head "
               "trained in full; use a LoRA learning rate (paper: --lr 4e-4 to 5e-4)")
    params = (
        Param("lora_r", 8, int, "rank r of the update B·A (paper, GLUE: 8)", lambda v: v >= 1, "an integer >= 1"),
        Param("lora_alpha", 8.0, float, "scaling α; the update is (α/r)·B·A (paper, RoBERTa-base GLUE: 8)",
              lambda v: v > 0, "a number > 0"),
        Param("lora_dropout", 0.0, float, "dropout on the LoRA input (paper's GLUE runs: none)",
              lambda v: 0 <= v < 1, "in [0, 1)"),
        Param("lora_target", "auto", str, "comma-separated names of the linear layers to adapt; auto: peft's "
              "default for the architecture (BERT: query,value as the paper; Llama/Qwen2/Mistral: q_proj,v_proj; "
              "GPT-2: c_attn)", lambda v: bool([t for t in v.split(",") if t.strip()]), "layer names or auto"),
        Param("merge", False, flag, "export the merged weights as a plain transformers folder instead of the adapter"),
    )
    setup_order = 1  # after the methods that add layers, so those layers train in full beside the adapter
    excludes = {"mixout": "Mixout mixes trained weights back toward the pretrained ones, and LoRA freezes those "
                          "weights (it also replaces the very layers LoRA adapts)"}

    def setup(self, ctx) -> None:
        from peft import LoraConfig, get_peft_model

        model = ctx.model
        fresh = {id(p) for n, p in model.named_parameters() if n not in ctx.pretrained_names}
        targets = target_modules(model, self.hparams["lora_target"])
        self.targets = targets
        self.composed = any(type(m).__module__.startswith("robustbench_match") for m in model.modules())
        self.heads = head_modules(model)
        config = LoraConfig(r=self.hparams["lora_r"], lora_alpha=self.hparams["lora_alpha"],
                            lora_dropout=self.hparams["lora_dropout"], target_modules=targets,
                            task_type=None if self.composed else "SEQ_CLS",
                            modules_to_save=None if self.composed else list(self.heads))  # peft extends it
        check_rank(model, targets, self.hparams["lora_r"])
        try:
            self.peft = get_peft_model(model, config)
        except ValueError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RBMError(f"method lora: {first} (--lora-target {self.hparams['lora_target']!r})") from None
        if self.composed:  # peft froze everything but the adapters: the head and the other method's new layers
            heads = tuple(self.heads)  # train in full (the model is exported merged, so no modules_to_save needed)
            for name, p in model.named_parameters():
                if id(p) in fresh or any(part in heads for part in name.split(".")):
                    p.requires_grad_(True)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        self.trainable = {"trainable_params": trainable, "total_params": total,
                          "trainable_share": round(trainable / total, 6)}
        log.info("lora: %d of %d parameters trainable (%.2f %%)", trainable, total, 100 * trainable / total)

    def export(self, model):
        if self.hparams["merge"] or self.composed:
            return self.peft.merge_and_unload()
        return self.peft

    def describe(self) -> dict:
        return {**self.hparams, "target_modules": getattr(self, "targets", None),
                "head_modules": getattr(self, "heads", None), **getattr(self, "trainable", {})}
