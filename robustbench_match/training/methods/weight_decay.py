"""Weight decay toward the pretrained weights (L2-SP; Daumé III's prior): add
(λ/2) · Σ ‖θ − θ₀‖² over the parameters loaded from the base model to the loss. The fresh head
has no prior and is not penalised."""
from __future__ import annotations

import torch

from .base import Method, Param


class WeightDecay(Method):
    name = "weight-decay"
    summary = "L2 penalty (λ/2)·‖θ − θ_pretrained‖² toward the pretrained weights"
    params = (Param("wd_lambda", 0.01, float, "penalty strength λ", check=lambda x: x >= 0, expected=">= 0"),)

    def setup(self, ctx) -> None:
        self.targets = ctx.pretrained
        self.named = [(p, self.targets[n]) for n, p in ctx.model.named_parameters() if n in self.targets and p.requires_grad]

    def penalty(self, ctx):
        total = torch.zeros((), device=ctx.device)
        for p, p0 in self.named:
            total = total + (p.float() - p0.float()).pow(2).sum()
        return 0.5 * self.hparams["wd_lambda"] * total
