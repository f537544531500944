"""R3F (Aghajanyan et al., 2021, "Better Fine-Tuning by Reducing Representational Collapse").

As in the authors' fairseq ``sentence_prediction_r3f`` criterion: sample noise (uniform in
[−eps, eps], or normal with std eps) on the token embeddings, run the model again on the noised
embeddings, and add λ · symmetric KL(clean ‖ noised) — summed over classes, averaged over the
batch — to the task loss. Classification only.

Gradients: fairseq noises ``token_embeddings.detach().clone()``, so the noised pass sends no
gradient into the embedding table (the word-embedding lookup); it does reach every layer above it
(position/segment embeddings and LayerNorm included, which HF adds inside the model as fairseq does)
and, through the clean logits, the clean pass. We do the same.
Where it still differs: fairseq's clean pass also runs on the looked-up token embeddings; ours
runs on ``input_ids`` (the same lookup, so the same values and gradients).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import MAX_NOISE_SCALE, Method, Param


def symmetric_kl(noised_logits: torch.Tensor, clean_logits: torch.Tensor) -> torch.Tensor:
    """KL(p_clean ‖ p_noised) + KL(p_noised ‖ p_clean), summed over classes, mean over the batch."""
    noised, clean = noised_logits.float(), clean_logits.float()
    forward = F.kl_div(F.log_softmax(noised, -1), F.softmax(clean, -1), reduction="sum")
    backward = F.kl_div(F.log_softmax(clean, -1), F.softmax(noised, -1), reduction="sum")
    return (forward + backward) / noised.shape[0]


def embedding_noise(embeds: torch.Tensor, eps: float, kind: str) -> torch.Tensor:
    if kind == "uniform":
        return torch.empty_like(embeds).uniform_(-eps, eps)
    return torch.randn_like(embeds) * eps


class R3F(Method):
    name = "r3f"
    summary = "noise on token embeddings + λ·symmetric KL(clean, noised)"
    classification_only = True
    params = (
        Param("r3f_eps", 1e-5, float, "noise scale on the token embeddings",
              check=lambda x: 0 < x <= MAX_NOISE_SCALE, expected=f"in (0, {MAX_NOISE_SCALE:g}] (token embedding "
              f"coordinates are about ±0.05)"),
        Param("r3f_lambda", 1.0, float, "weight of the symmetric KL term", check=lambda x: x >= 0, expected=">= 0"),
        Param("noise_type", "uniform", str, "noise distribution", choices=("uniform", "normal")),
    )

    def extra_loss(self, ctx, batch, logits):
        embed = ctx.model.get_input_embeddings()
        with torch.no_grad():  # fairseq: token_embeddings.detach().clone() + noise
            clean = embed(batch["input_ids"])
        noised = clean + embedding_noise(clean, self.hparams["r3f_eps"], self.hparams["noise_type"])
        noised_logits = ctx.forward(batch, inputs_embeds=noised)
        return self.hparams["r3f_lambda"] * symmetric_kl(noised_logits, logits)
