"""RecAdam (Chen et al., 2020, "Recall and Learn").

As in the authors' ``RecAdam`` optimizer: at optimizer step t, with
λ(t) = 1 / (1 + exp(−k (t − t0))) (sigmoid annealing) or min(1, t / t0) (linear), each parameter
loaded from the pretrained model moves by λ(t) × its Adam update and is then pulled toward its
pretrained value θ* by lr · (1 − λ(t)) · coef · (θ − θ*). Parameters new to the task (the head)
take the plain Adam update. We apply it around torch's AdamW (weight decay 0), which leaves
Adam's moment estimates exactly as RecAdam's. A run shorter than t0 never gets past the
pull-dominated phase (λ < 1/2 throughout); setup warns (one line) when that is the case.
"""
from __future__ import annotations

import logging
import math

import torch

from .base import Method, Param

log = logging.getLogger(__name__)


def anneal(kind: str, step: int, k: float, t0: float) -> float:
    if kind == "sigmoid":
        return 1.0 / (1.0 + math.exp(-k * (step - t0))) if -k * (step - t0) < 700 else 0.0
    return min(1.0, step / t0) if t0 > 0 else 1.0


class RecAdam(Method):
    name = "recadam"
    summary = "annealed quadratic pull toward the pretrained weights inside Adam (Recall and Learn)"
    params = (
        Param("anneal_fun", "sigmoid", str, "annealing schedule of λ(t)", choices=("sigmoid", "linear")),
        Param("anneal_k", 0.5, float, "sigmoid slope k", check=lambda x: x > 0, expected="> 0"),
        Param("anneal_t0", 250.0, float, "step t0 where λ(t) = 1/2 (sigmoid) or reaches 1 (linear)",
              check=lambda x: x >= 0, expected=">= 0"),
        Param("pretrain_coef", 5000.0, float, "coefficient of the quadratic pull toward pretrained weights",
              check=lambda x: x >= 0, expected=">= 0"),
    )

    def setup(self, ctx) -> None:
        self.targets = ctx.pretrained
        self.named = {n: p for n, p in ctx.model.named_parameters() if n in self.targets and p.requires_grad}
        self.before: dict[str, torch.Tensor] = {}
        self.last_lambda = 0.0
        total, t0 = getattr(ctx, "total_steps", 0), self.hparams["anneal_t0"]
        if total and total < t0:
            h = self.hparams
            log.warning("recadam: the run has %d optimizer steps, fewer than anneal_t0 = %g, so λ(t) ends at %.3f "
                        "and the pull toward the pretrained weights dominates throughout; lower --anneal-t0",
                        total, t0, anneal(h["anneal_fun"], total, h["anneal_k"], t0))

    def before_optimizer_step(self, ctx) -> None:
        self.before = {n: p.detach().clone() for n, p in self.named.items()}

    @torch.no_grad()
    def after_optimizer_step(self, ctx) -> None:
        h = self.hparams
        lam = anneal(h["anneal_fun"], ctx.step, h["anneal_k"], h["anneal_t0"])
        pull = ctx.optimizer.param_groups[0]["lr"] * (1.0 - lam) * h["pretrain_coef"]
        for n, p in self.named.items():
            start = self.before[n]
            p.sub_(start).mul_(lam).add_(start)  # θ_before + λ·Δ_adam
            p.sub_((p - self.targets[n]).mul_(pull))
        self.before = {}
        self.last_lambda = lam

    def step_metrics(self) -> dict[str, float]:
        return {"recadam_lambda": self.last_lambda}
