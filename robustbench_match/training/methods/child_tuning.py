"""ChildTuning (Xu et al., 2021, "Raise a Child in Large Language Model"), both variants.

As in the authors' ``ChildTuningAdamW``: the mask multiplies the gradient right before the
AdamW update (here: after clipping).

* ChildTuning-F (task-free): a fresh Bernoulli(p) mask every step on every trainable parameter,
  scaled by 1/p so the expected gradient is unchanged.
* ChildTuning-D (task-driven): Fisher information of the encoder-layer parameters, as the
  official ``calculate_fisher``: for each batch of one pass over the training set (the run's
  batch size, its own seeded order), backpropagate the mean task loss, clip *each parameter
  tensor's* gradient to L2 norm ≤ ``max_grad_norm`` on its own
  (``clip_grad_norm_(param, max_grad_norm)`` per tensor, not one global norm), and add grad²/N
  (N = number of batches). The top-p fraction of entries (one threshold over all layers; the
  official code takes ``np.percentile(F, 100(1−p))`` and keeps F ≥ it, we keep the round(p·size)
  largest — the same set up to ties) is kept, the rest never change. The mask is fixed and not
  rescaled. Embeddings and the head are not masked (the official code masks names containing
  ``layer``, i.e. the encoder layers). With ``--max-grad-norm 0`` nothing is clipped.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from ...progress import Progress
from .base import Method, Param, prob_open_closed
from ..modeling import encoder_layers, layer_index

log = logging.getLogger(__name__)

_P = Param("reserve_p", 0.3, float, "fraction p of gradient entries kept", check=prob_open_closed, expected="in (0, 1]")


class ChildTuningF(Method):
    name = "child-tuning-f"
    summary = "per-step Bernoulli(p) gradient mask, scaled by 1/p"
    params = (_P,)

    def before_optimizer_step(self, ctx) -> None:
        p = self.hparams["reserve_p"]
        for param in ctx.model.parameters():
            if param.grad is not None:
                keep = torch.bernoulli(torch.full_like(param.grad, p))
                param.grad.mul_(keep).div_(p)


class ChildTuningD(Method):
    name = "child-tuning-d"
    summary = "fixed mask: top-p encoder-layer parameters by Fisher information over the training set"
    params = (_P,)

    def __init__(self, **hparams) -> None:
        super().__init__(**hparams)
        self.masks: dict[str, torch.Tensor] = {}

    def setup(self, ctx) -> None:
        prefix, _ = encoder_layers(ctx.model)
        named = {n: p for n, p in ctx.model.named_parameters()
                 if p.requires_grad and layer_index(n, prefix) is not None}
        fisher = self.fisher(ctx, named)
        self.masks = self.top_fraction(fisher, self.hparams["reserve_p"])
        self._params = {n: named[n] for n in self.masks}

    @staticmethod
    def fisher(ctx, named: dict[str, torch.nn.Parameter]) -> dict[str, torch.Tensor]:
        """Mean squared per-tensor-clipped batch gradient of the task loss, one pass over the training set."""
        sums = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in named.items()}
        rng = np.random.default_rng(ctx.config.seed + 7919)  # its own stream: training order unchanged
        batches, clip = 0, ctx.config.max_grad_norm
        ctx.model.train()
        progress = Progress(ctx.batches_per_epoch(), "child-tuning-d Fisher pass (one epoch before step 1)",
                            unit="batch", logger=log)
        for batch in ctx.batches(rng):
            progress.update()
            ctx.model.zero_grad(set_to_none=True)
            logits = ctx.forward(batch)
            ctx.per_example_loss(logits, batch["labels"]).mean().backward()
            for n, p in named.items():
                if p.grad is not None:
                    if clip:
                        torch.nn.utils.clip_grad_norm_(p, clip)  # per tensor, as the official code
                    sums[n] += p.grad.float() ** 2
            batches += 1
        progress.close()
        ctx.model.zero_grad(set_to_none=True)
        return {n: s / max(1, batches) for n, s in sums.items()}

    @staticmethod
    def top_fraction(scores: dict[str, torch.Tensor], p: float) -> dict[str, torch.Tensor]:
        """Boolean masks keeping the entries at or above the (1−p) quantile over all tensors."""
        flat = torch.cat([s.flatten() for s in scores.values()])
        k = max(1, int(round(p * flat.numel())))
        threshold = torch.topk(flat, k, sorted=False).values.min()
        return {n: s >= threshold for n, s in scores.items()}

    def before_optimizer_step(self, ctx) -> None:
        for n, mask in self.masks.items():
            grad = self._params[n].grad
            if grad is not None:
                grad.mul_(mask)

    def describe(self) -> dict:
        kept = sum(int(m.sum()) for m in self.masks.values())
        total = sum(m.numel() for m in self.masks.values())
        return {**self.hparams, "kept_fraction": round(kept / total, 6) if total else None}
