"""Match-Tuning (paper §3.1, eq. 2–4) and the masking ablations of Table 7.

rep = dense(x), where x is what the model's own classification layer consumes (BERT: the pooled
output after dropout; RoBERTa/ELECTRA: the input of ``classifier.out_proj``). During training
M = softmax(rep·repᵀ / T) over the batch (diagonal included) and z = M·rep replaces x at the
classifier's input. At inference the batch is one instance, M = [1] and z = dense(x), so
``classifier ∘ dense`` is folded into one linear layer at export: the saved checkpoint is a plain
transformers model whose logits equal the training model's in eval mode.

Ablations (Table 7): the paper multiplies M by a 0/1 mask after the softmax, which leaves rows
that no longer sum to one. We mask the *logits* (−inf) before the softmax instead, so every row
stays a convex combination; the diagonal is always kept, so no row is empty.
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from ...errors import RBMError
from .base import Method, Param

log = logging.getLogger(__name__)

# Measured, not the paper's grid (T ∈ 1..6, tuned for BERT-large): on MiniLM, T ≥ 0.2 leaves M near
# uniform and training collapses to the majority class (results/match_tuning_temperature_sweep.md).
# 0.02 had the best dev accuracy (77.1 vs vanilla 73.9, one seed); its M moves from mostly-self to
# same-label interpolation as in the paper's Fig. 3. Larger encoders have
# larger representations (rep·rep grows with the hidden size): sweep T when changing the model.
DEFAULT_TEMPERATURE = 0.02


def find_head_linear(model: nn.Module) -> str:
    """Dotted name of the last linear layer producing the logits (``classifier``, ``classifier.out_proj``)."""
    num_labels = model.config.num_labels
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and m.out_features == num_labels]
    if not names:
        raise RBMError(f"{type(model).__name__}: no linear output layer with {num_labels} outputs to match on")
    return names[-1]


def set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


class MatchedLinear(nn.Module):
    """The classifier layer with in-batch matching in front of it (training mode only)."""

    def __init__(self, head: nn.Linear, dense: nn.Linear, temperature: float, mode: str = "full") -> None:
        super().__init__()
        self.head, self.dense = head, dense
        self.temperature, self.mode = temperature, mode
        self.labels: torch.Tensor | None = None
        self.stats: dict[str, torch.Tensor] | None = None

    def matching(self, rep: torch.Tensor) -> torch.Tensor:
        """M (n×n), rows summing to one; records the self / same-label / other-label masses."""
        rep32 = rep.float()
        scores = rep32 @ rep32.T / self.temperature
        n = scores.shape[0]
        eye = torch.eye(n, dtype=torch.bool, device=scores.device)
        same = None
        if self.labels is not None and not torch.is_floating_point(self.labels):
            same = self.labels.view(-1, 1) == self.labels.view(1, -1)
        if self.mode != "full":
            if same is None:
                raise RBMError(f"match-tuning-{self.mode} needs class labels in the batch")
            allowed = (same if self.mode == "positive" else ~same) | eye
            scores = scores.masked_fill(~allowed, float("-inf"))
        match = torch.softmax(scores, dim=-1)
        if self.stats is None:  # first forward of the step (R3F's noised pass is not recorded)
            stats = {"m_self": match.diagonal().mean()}
            if same is not None:
                stats["m_positive"] = (match * (same & ~eye)).sum(1).mean()
                stats["m_negative"] = (match * ~same).sum(1).mean()
            self.stats = {k: v.detach() for k, v in stats.items()}
        return match.to(rep.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rep = self.dense(x)
        if self.training and rep.dim() == 2:
            rep = self.matching(rep) @ rep  # a batch of one gives M = [1] exactly
        return self.head(rep)

    @torch.no_grad()
    def folded(self) -> nn.Linear:
        """head∘dense as one linear layer (exact up to float rounding; computed in float64)."""
        w_h, w_d = self.head.weight.double(), self.dense.weight.double()
        b_h = self.head.bias.double() if self.head.bias is not None else 0
        b_d = self.dense.bias.double() if self.dense.bias is not None else torch.zeros(w_d.shape[0], dtype=torch.float64, device=w_d.device)
        out = nn.Linear(w_d.shape[1], w_h.shape[0], bias=True, device=w_h.device, dtype=self.head.weight.dtype)
        out.weight.copy_(w_h @ w_d)
        out.bias.copy_(w_h @ b_d + b_h)
        return out


class MatchTuning(Method):
    name = "match-tuning"
    summary = "in-batch matching z = softmax(rep·repᵀ/T)·rep before the classifier (training only)"
    params = (Param("temperature", DEFAULT_TEMPERATURE, float, "softmax temperature T of the matching matrix",
                    check=lambda t: t > 0, expected="> 0"),)
    mode = "full"

    def __init__(self, **hparams) -> None:
        super().__init__(**hparams)
        self.module: MatchedLinear | None = None
        self.head_name = ""
        self._warned = False

    def check_task(self, task) -> None:
        super().check_task(task)
        if self.mode != "full" and task.is_regression:
            raise RBMError(f"method {self.name} masks by label and needs a classification task; {task.name} is regression")

    def setup(self, ctx) -> None:
        model = ctx.model
        self.head_name = find_head_linear(model)
        head = model.get_submodule(self.head_name)
        hidden = head.in_features
        dense = nn.Linear(hidden, hidden, device=head.weight.device, dtype=head.weight.dtype)
        with torch.no_grad():  # the model's own initialisation, as for any new head layer
            dense.weight.normal_(0.0, getattr(model.config, "initializer_range", 0.02))
            dense.bias.zero_()
        self.module = MatchedLinear(head, dense, self.hparams["temperature"], self.mode)
        set_submodule(model, self.head_name, self.module)

    def on_batch(self, batch) -> None:
        assert self.module is not None
        self.module.labels = batch.get("labels")
        self.module.stats = None

    def step_metrics(self) -> dict[str, float]:
        stats = self.module.stats if self.module is not None else None
        if not stats:
            return {}
        out = {k: float(v) for k, v in stats.items()}
        n = int(self.module.labels.numel()) if self.module.labels is not None else 0
        if not self._warned and n > 1:
            self._warned = True
            if out["m_self"] < 1.5 / n:
                log.warning("match-tuning: M starts near uniform (mean self mass %.3f, 1/batch = %.3f); "
                            "T=%g is too high for this model's representations and training may collapse to "
                            "the majority class; try a lower --temperature (e.g. 0.1–0.3)",
                            out["m_self"], 1 / n, self.hparams["temperature"])
        return out

    def export(self, model):
        if self.module is not None and isinstance(model.get_submodule(self.head_name), MatchedLinear):
            set_submodule(model, self.head_name, self.module.folded())
        return model


class MatchTuningPositive(MatchTuning):
    name = "match-tuning-positive"
    summary = "ablation (Table 7): only self + same-label instances mix (logits masked before softmax)"
    mode = "positive"


class MatchTuningNegative(MatchTuning):
    name = "match-tuning-negative"
    summary = "ablation (Table 7): only self + other-label instances mix (logits masked before softmax)"
    mode = "negative"
