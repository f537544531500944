"""FreeLB (Zhu et al., ICLR 2020, "FreeLB: Enhanced Adversarial Training for Natural Language Understanding"),
as the authors' Hugging Face code does it (``zhuchen03/FreeLB``, ``examples/run_glue_freelb.py``).

Per batch, K ascent steps on a perturbation δ of the word embeddings, with *no separate clean pass*:

* δ₀ is uniform in [−1, 1] on the real tokens, scaled by ``adv_init_mag / sqrt(L·d)`` (L the example's
  length, d the embedding size), so its L2 norm per example is about ``adv_init_mag``; 0 when the magnitude
  is 0 (then the first pass is the clean one);
* each step t: forward on ``embed + δ``, loss / K, backward — the parameter gradients *accumulate* over the
  K steps (the "free" large batch); then, except after the last step, δ ← δ + α·g/‖g‖₂ (g = ∂loss/∂δ,
  per-example L2 norm) and, when ``adv_max_norm`` > 0, δ is projected back onto the L2 ball of that
  radius; the word embeddings are looked up again (their graph was freed by the backward);
* the K passes reuse one dropout mask (the official code threads ``dp_masks`` through a modified model; we
  replay the random-number state instead, which draws the same masks);
* then the usual clipping and one optimizer step.

Defaults are the authors' RoBERTa SST-2 launch line (``fairseq-RoBERTa/launch/FreeLB/sst-fp32-clip.sh``, the
run that is not commented out; RoBERTa-large is the paper's headline GLUE model and, like MiniLM, a BERT-style
encoder): α = 0.1, K = 2, init magnitude 1.0, L2 bound 0.6 (the script's commented-out seeds used 0.5 and
0.4). Until issue 35 the defaults were the ALBERT-xxlarge line of the Hugging Face script
(``huggingface-transformers/launch/run_glue.sh``: α = 0.1, init 0.6, no bound, K = 2); the committed FreeLB
records say which setting made them (``adv_init_mag``/``adv_max_norm`` in their hyperparameters). Other tasks
used other values (ALBERT MRPC 3e-2/0/0/4, RTE 1e-1/0/0/3, ...).
Deviation: the official script perturbs ``model.encoder.embeddings.word_embeddings`` of ALBERT; we perturb
the model's input (word) embeddings, whatever the architecture. Classification and regression alike, as
the official script.
"""
from __future__ import annotations

import contextlib

import torch

from .base import MAX_PERTURBATION_NORM, Method, Param


def init_delta(embeds: torch.Tensor, mask: torch.Tensor, magnitude: float) -> torch.Tensor:
    """δ₀: uniform on the real tokens, L2 norm per example ≈ ``magnitude`` (official: scaled by 1/sqrt(L·d))."""
    if magnitude <= 0:
        return torch.zeros_like(embeds)
    mask = mask.to(embeds)
    delta = torch.zeros_like(embeds).uniform_(-1, 1) * mask.unsqueeze(2)
    dims = mask.sum(1) * embeds.size(-1)
    return (delta * (magnitude / torch.sqrt(dims)).view(-1, 1, 1)).detach()


def ascend(delta: torch.Tensor, grad: torch.Tensor, step: float, max_norm: float) -> torch.Tensor:
    """δ + α·g/‖g‖₂ per example, then the projection onto ‖δ‖₂ ≤ max_norm (none when max_norm is 0)."""
    norm = torch.norm(grad.view(grad.size(0), -1), dim=1).clamp(min=1e-8).view(-1, 1, 1)
    delta = (delta + step * grad / norm).detach()
    if max_norm > 0:
        delta_norm = torch.norm(delta.view(delta.size(0), -1).float(), p=2, dim=1).detach()
        exceed = (delta_norm > max_norm).to(delta)
        delta = (delta * (max_norm / delta_norm * exceed + (1 - exceed)).view(-1, 1, 1)).detach()
    return delta


@contextlib.contextmanager
def same_random_state(state: dict):
    """Run a block with the random-number state recorded at the first call (so dropout draws the same masks
    in every ascent pass, as the official ``dp_masks`` do)."""
    if not state:
        state["cpu"] = torch.get_rng_state()
        state["cuda"] = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    else:
        torch.set_rng_state(state["cpu"])
        if state["cuda"] is not None:
            torch.cuda.set_rng_state_all(state["cuda"])
    yield


def _norm(v: float) -> bool:
    return 0 <= v <= MAX_PERTURBATION_NORM


_NORM_TEXT = f"in [0, {MAX_PERTURBATION_NORM:g}] (a per-example L2 norm on word embeddings of about 1.1 per token)"


class FreeLB(Method):
    name = "freelb"
    summary = "FreeLB (Zhu et al., 2020): K ascent steps on a word-embedding perturbation, gradients accumulated"
    params = (
        Param("adv_steps", 2, int, "K: ascent steps (= forward/backward passes) per batch", lambda v: v >= 1, ">= 1"),
        Param("adv_lr", 0.1, float, "α: ascent step size on the normalised gradient", _norm, _NORM_TEXT),
        Param("adv_init_mag", 1.0, float, "L2 magnitude of the random initial perturbation (0: start clean; "
              "authors' RoBERTa SST-2 script: 1)", _norm, _NORM_TEXT),
        Param("adv_max_norm", 0.6, float, "L2 bound of the perturbation per example (0: unbounded; authors' "
              "RoBERTa SST-2 script: 0.6)", _norm, _NORM_TEXT),
    )

    def forward_backward(self, ctx, batch, loss_of, backward) -> float:
        """K passes, each backward()ed with loss / K; returns the summed loss (the official ``tr_loss``)."""
        steps = self.hparams["adv_steps"]
        embed = ctx.model.get_input_embeddings()
        embeds = embed(batch["input_ids"])
        delta = init_delta(embeds, batch["attention_mask"], self.hparams["adv_init_mag"])
        state: dict = {}
        total = 0.0
        for step in range(steps):
            delta.requires_grad_()
            with same_random_state(state):
                loss = loss_of(ctx.forward(batch, inputs_embeds=embeds + delta)) / steps
            total += float(loss.detach())
            backward(loss)
            if step == steps - 1:
                break
            delta = ascend(delta, delta.grad.detach().clone(), self.hparams["adv_lr"], self.hparams["adv_max_norm"])
            embeds = embed(batch["input_ids"])  # the lookup again: the backward freed its graph
        self.last_delta = delta.detach()
        return total
