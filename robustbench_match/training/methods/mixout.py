"""Mixout (Lee et al., 2020, "Mixout: Effective Regularization to Finetune Large-scale Pretrained
Language Models").

As in the authors' GLUE example: every ``nn.Linear`` becomes a MixLinear whose weight, in training,
is mixout(W, W₀, p) = (B ⊙ W + (1 − B) ⊙ W₀ − p · W₀) / (1 − p), W₀ the layer's weight at the start
of fine-tuning (the pretrained weight; for the fresh classifier its initialisation); the bias is not
mixed. As in the official ``Mixout`` function, B is drawn once per *input column* and step — one
Bernoulli(1 − p) value per input feature, shared by every output row (``noise[0].bernoulli_(1 − p)``
repeated over the rows) — so an input feature's weights are all swapped for their pretrained values
together, like dropout on that input. Mixout replaces dropout, so every dropout of the model is set
to 0. In eval mode the layer is the plain linear layer, so export swaps the original ``nn.Linear``
modules (sharing the trained parameters) back in.

Where it still differs: the official backward returns grad · B, without the 1/(1 − p) of the
forward; we let autograd differentiate the forward (grad · B / (1 − p)). Under Adam a constant
gradient scale only acts through ε and gradient clipping, so we keep the exact derivative.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..modeling import set_dropout
from .base import Method, Param
from .match_tuning import set_submodule


def mixout(weight: torch.Tensor, target: torch.Tensor, p: float) -> torch.Tensor:
    """One Bernoulli(1 − p) draw per input column (the last dimension), shared by all rows."""
    keep = torch.bernoulli(torch.full_like(weight[..., :1, :] if weight.dim() > 1 else weight, 1.0 - p))
    return (keep * weight + (1.0 - keep) * target - p * target) / (1.0 - p)


class MixLinear(nn.Module):
    def __init__(self, linear: nn.Linear, p: float) -> None:
        super().__init__()
        self.linear, self.p = linear, p
        self.register_buffer("target", linear.weight.detach().clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.linear.weight
        if self.training and self.p > 0:
            weight = mixout(weight, self.target.to(weight.dtype), self.p)
        return F.linear(x, weight, self.linear.bias)


class Mixout(Method):
    name = "mixout"
    summary = "Mixout(p) toward the pretrained weights in every linear layer; dropout off"
    params = (Param("mixout_p", 0.9, float, "probability of swapping a weight entry for its pretrained value",
                    check=lambda x: 0 <= x < 1, expected="in [0, 1)"),)

    def __init__(self, **hparams) -> None:
        super().__init__(**hparams)
        self.replaced: list[str] = []

    def setup(self, ctx) -> None:
        set_dropout(ctx.model, 0.0)
        names = [n for n, m in ctx.model.named_modules() if type(m) is nn.Linear]
        for name in names:
            set_submodule(ctx.model, name, MixLinear(ctx.model.get_submodule(name), self.hparams["mixout_p"]))
        self.replaced = names

    def export(self, model):
        for name in self.replaced:
            module = model.get_submodule(name)
            if isinstance(module, MixLinear):
                set_submodule(model, name, module.linear)
        return model
