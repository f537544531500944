"""SMART (Jiang et al., ACL 2020, "SMART: Robust and Efficient Fine-Tuning for Pre-trained Natural Language
Models through Principled Regularized Optimization"): the smoothness-inducing adversarial regulariser of
the official code (``namisan/mt-dnn``, ``mt_dnn/perturbation.py``, ``SmartPerturbation``) plus the paper's
momentum Bregman proximal point term (Algorithm 1).

Smoothness (official ``perturbation.py``): the embedding-layer output e = embeddings(input_ids) gets
Gaussian noise ν ~ N(0, σ²) (σ = ``noise_var`` 1e-5); for K steps (1), ν ← normalise(ν + η·∂ℓ/∂ν) with
ℓ = ``stable_kl``(f(e + ν), f(x).detach()) summed over the batch (MSE for regression), η = ``step_size``
1e-3, and the normalisation per token by the ∞-norm of the step's gradient (``norm_p`` inf, ``epsilon``
1e-6 in the denominator; l2 and l1 available); then λ_s · SymKL(f(x), f(e + ν)) (``adv_alpha`` 1; batch
mean, each direction's target detached as ``SymKlCriterion``) joins the loss. The adversarial passes use
the model's own dropout (training mode), as the official code.

Two perturbations (``--adv-perturbation``), because the official code and the paper differ (mt-dnn issue #214):

* ``official`` (default; what every committed SMART number used): ``perturbation.py`` as above. Its step
  normalises ν + η·g (noise and step together) by the ∞-norm, so after one step ν has coordinates of size
  about 1 whatever σ and η are: in effect Gaussian-direction noise of each token's largest coordinate's size.
* ``paper`` (Algorithm 1): ν ~ N(0, σ²I); for K steps g̃ = g / ‖g‖_∞ (the ∞-norm over the whole example's
  embedding output), ν ← Π_{‖ν‖_∞ ≤ ε}(ν + η·g̃) — a small step projected back into the ε-ball
  (``adv_radius`` ε, default 1e-5, with σ = 1e-5 and η = 1e-3, the paper's §5 settings).

Bregman proximal point (paper, Algorithm 1; the official model code has its EMA commented out): a teacher
θ̃ that follows θ as θ̃ ← (1 − β)·θ + β·θ̃ after every step, and μ·ℓ_s(f(x; θ), f(x; θ̃)) added to the loss
(μ = 1; symmetric KL, or squared error for regression). β follows the paper's schedule: 0.99 for the first
10 % of the updates, 0.999 after (``smart_beta``, ``smart_beta_late``, ``smart_beta_switch``; the committed
results predate it and used β = 0.99 throughout, as their records' hyperparameters say). ``smart_mu 0``
switches it off (the official code's behaviour); the teacher runs without dropout. It is copied after every
other method of a composition has changed the model (LoRA's adapters, Match-Tuning's head) and follows it
parameter by parameter, by name. Defaults: ``perturbation.py``'s class defaults for σ, η, ε, K and the norm;
λ_s = 1 (``adv_alpha``); μ = 1 and the β schedule (the paper).
"""
from __future__ import annotations

import contextlib
import copy

import torch
import torch.nn.functional as F

from ...errors import RBMError
from ...inference import is_decoder_head
from .base import MAX_NOISE_SCALE, Method, Param


def stable_kl(logit: torch.Tensor, target: torch.Tensor, epsilon: float = 1e-6, reduce: bool = True) -> torch.Tensor:
    """The official ``stable_kl``: a KL written through log-odds, stable for confident predictions."""
    logit, target = logit.view(-1, logit.size(-1)).float(), target.view(-1, target.size(-1)).float()
    p = F.log_softmax(logit, 1).exp()
    y = F.log_softmax(target, 1).exp()
    rp = -(1.0 / (p + epsilon) - 1 + epsilon).detach().log()
    ry = -(1.0 / (y + epsilon) - 1 + epsilon).detach().log()
    total = (p * (rp - ry) * 2).sum()
    return total / logit.size(0) if reduce else total


def sym_kl(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The official ``SymKlCriterion`` (batch mean): KL(p_target ‖ p_input) + KL(p_input ‖ p_target), each
    with its target distribution detached."""
    input, target = input.float(), target.float()
    return (F.kl_div(F.log_softmax(input, -1), F.softmax(target.detach(), -1), reduction="batchmean")
            + F.kl_div(F.log_softmax(target, -1), F.softmax(input.detach(), -1), reduction="batchmean"))


def normalise(grad: torch.Tensor, norm: str, epsilon: float) -> torch.Tensor:
    """The official ``_norm_grad`` per token (``norm_level`` 0)."""
    if norm == "l2":
        return grad / (torch.norm(grad, dim=-1, keepdim=True) + epsilon)
    if norm == "l1":
        return grad.sign()
    return grad / (grad.abs().max(-1, keepdim=True)[0] + epsilon)


def embedding_layer(model: torch.nn.Module) -> torch.nn.Module:
    """The layer whose output SMART perturbs: BERT-style ``base_model.embeddings`` (word + position + type,
    LayerNorm, dropout); a decoder without one (Llama, Qwen2, GPT-2) perturbs its input token embeddings, and the
    model still sees ``input_ids`` — so its head still finds the last non-pad token to pool."""
    embeddings = getattr(model.base_model, "embeddings", None)
    if embeddings is None and is_decoder_head(model):
        embeddings = model.get_input_embeddings()
    if embeddings is None:
        raise RBMError(f"method smart: {type(model).__name__} has no base_model.embeddings to perturb")
    return embeddings


@contextlib.contextmanager
def embedding_output(model: torch.nn.Module, value: torch.Tensor):
    """Replace the output of the model's embedding layer (word + position + type, LayerNorm, dropout) by
    ``value`` for the forwards inside the block — the official ``fwd_type=2`` forward from ``embed + noise``."""
    handle = embedding_layer(model).register_forward_hook(lambda module, args, output: value)
    try:
        yield
    finally:
        handle.remove()


class SMART(Method):
    name = "smart"
    summary = "SMART (Jiang et al., 2020): adversarial smoothness regulariser + momentum Bregman proximal point"
    params = (
        Param("adv_alpha", 1.0, float, "λ_s: weight of the smoothness term", lambda v: v >= 0, ">= 0"),
        Param("noise_var", 1e-5, float, "σ: std of the initial Gaussian noise on the embedding output",
              lambda v: 0 < v <= MAX_NOISE_SCALE, f"in (0, {MAX_NOISE_SCALE:g}] (a std on the LayerNorm'd embedding "
              f"output, whose coordinates have unit scale)"),
        Param("adv_step_size", 1e-3, float, "η: ascent step on the noise", lambda v: 0 < v <= MAX_NOISE_SCALE,
              f"in (0, {MAX_NOISE_SCALE:g}]"),
        Param("adv_k", 1, int, "ascent steps", lambda v: v >= 1, ">= 1"),
        Param("adv_norm", "inf", str, "per-token normalisation of the ascent step", choices=("inf", "l2", "l1")),
        Param("adv_epsilon", 1e-6, float, "ε in the normalisation's denominator", lambda v: v > 0, "> 0"),
        Param("smart_mu", 1.0, float, "μ: weight of the Bregman proximal point term (0: off, as the official "
              "code)", lambda v: v >= 0, ">= 0"),
        Param("smart_beta", 0.99, float, "β: momentum of the proximal point teacher in the first updates (paper: "
              "0.99 for the first 10 %)", lambda v: 0 <= v < 1, "in [0, 1)"),
        Param("smart_beta_late", 0.999, float, "β after the first --smart-beta-switch of the updates (paper: 0.999)",
              lambda v: 0 <= v < 1, "in [0, 1)"),
        Param("smart_beta_switch", 0.1, float, "share of the run's updates that use --smart-beta (paper: 0.1; 1: "
              "--smart-beta throughout)", lambda v: 0 <= v <= 1, "in [0, 1]"),
        Param("adv_perturbation", "official", str, "official: mt-dnn perturbation.py (normalise noise + step); "
              "paper: Algorithm 1 (normalised gradient step, projected into the ε-ball)", choices=("official", "paper")),
        Param("adv_radius", 1e-5, float, "ε: ∞-norm radius of the perturbation with --adv-perturbation paper "
              "(paper: 1e-5)", lambda v: 0 < v <= MAX_NOISE_SCALE, f"in (0, {MAX_NOISE_SCALE:g}]"),
    )
    setup_order = 2  # after LoRA (1): the teacher copies the model as it will be trained

    def setup(self, ctx) -> None:
        self.teacher = None
        if self.hparams["smart_mu"] > 0:
            self.teacher = copy.deepcopy(ctx.model).eval()
            for p in self.teacher.parameters():
                p.requires_grad_(False)
            theirs, mine = [n for n, _ in self.teacher.named_parameters()], [n for n, _ in ctx.model.named_parameters()]
            if theirs != mine:  # a method set up after this one changed the model: the pairing would be wrong
                raise RBMError("method smart: the proximal teacher's parameters differ from the model's (a composed "
                               "method changed the model after SMART's setup)")

    def _divergence(self, ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if ctx.task.is_regression:
            return F.mse_loss(a.float().view(-1), b.float().view(-1))
        return sym_kl(a, b)

    def extra_loss(self, ctx, batch, logits):
        loss = self.hparams["adv_alpha"] * self.smoothness(ctx, batch, logits)
        if self.teacher is not None:
            with torch.no_grad():
                inputs = {k: v for k, v in batch.items() if k in ("input_ids", "token_type_ids", "attention_mask")}
                target = self.teacher(**inputs).logits
            loss = loss + self.hparams["smart_mu"] * self._divergence(ctx, logits, target)
        return loss

    def smoothness(self, ctx, batch, logits) -> torch.Tensor:
        """The official ``SmartPerturbation.forward``: noise, K normalised ascent steps, the symmetric term."""
        layer = embedding_layer(ctx.model)
        if layer is getattr(ctx.model.base_model, "embeddings", None):  # BERT-style: word + position + type
            embed = layer(**{k: v for k, v in batch.items() if k in ("input_ids", "token_type_ids")})
        else:  # a decoder's token embeddings
            embed = layer(batch["input_ids"])
        noise = (torch.randn_like(embed) * self.hparams["noise_var"]).requires_grad_()
        for _ in range(self.hparams["adv_k"]):
            with embedding_output(ctx.model, embed + noise):
                adv_logits = ctx.forward(batch)
            if ctx.task.is_regression:
                adv_loss = F.mse_loss(adv_logits.float(), logits.detach().float(), reduction="sum")
            else:
                adv_loss = stable_kl(adv_logits, logits.detach(), reduce=False)
            (grad,) = torch.autograd.grad(adv_loss, noise, retain_graph=False)
            if not torch.isfinite(grad.norm()):
                return logits.new_zeros(())  # the official code skips the term then
            noise = self.ascend(noise, grad).detach().requires_grad_()
        self.last_noise = noise.detach()
        with embedding_output(ctx.model, embed + noise):
            adv_logits = ctx.forward(batch)
        return self._divergence(ctx, logits, adv_logits)

    def ascend(self, noise: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """One ascent step on the noise: the official code's or the paper's (see the module docstring)."""
        h = self.hparams
        if h["adv_perturbation"] == "official":
            return normalise(noise + grad * h["adv_step_size"], h["adv_norm"], h["adv_epsilon"])
        scale = grad.abs().flatten(1).max(dim=1)[0].clamp_min(h["adv_epsilon"]).view(-1, *[1] * (grad.dim() - 1))
        return (noise + h["adv_step_size"] * grad / scale).clamp(-h["adv_radius"], h["adv_radius"])

    def beta(self, ctx) -> float:
        """β of the update after step ``ctx.step`` (1-based): the paper's 0.99 for the first 10 %, 0.999 after."""
        early = ctx.step <= self.hparams["smart_beta_switch"] * max(1, ctx.total_steps)
        return self.hparams["smart_beta"] if early else self.hparams["smart_beta_late"]

    @torch.no_grad()
    def after_optimizer_step(self, ctx) -> None:
        """θ̃ ← (1 − β)·θ + β·θ̃ (the paper's momentum update of the proximal point), parameter by name."""
        if self.teacher is None:
            return
        beta = self.beta(ctx)
        mine = dict(ctx.model.named_parameters())
        for name, t in self.teacher.named_parameters():
            t.mul_(beta).add_(mine[name].detach(), alpha=1 - beta)
