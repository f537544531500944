"""Issue 28, part 3: FreeLB and SMART as their authors' code computes them, on a tiny BERT (unit checks) and
on real SST-2 (a short run of each learns well above the majority class)."""
from __future__ import annotations

import json
import os

import pytest
import torch
import torch.nn.functional as F

from paths import DATA_DIR
from robustbench_match.training.methods import build_method
from robustbench_match.training.methods.freelb import ascend, init_delta
from robustbench_match.training.methods.smart import normalise, stable_kl, sym_kl

DATA = DATA_DIR


class TinyCtx:
    """What a method's hooks use of the trainer's context: the model, its forward, the loss, the task."""

    def __init__(self, model, regression: bool = False, total_steps: int = 0):
        self.model = model
        self.task = type("T", (), {"is_regression": regression})()
        self.step, self.total_steps = 0, total_steps

    def forward(self, batch, inputs_embeds=None):
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "token_type_ids", "attention_mask")}
        if inputs_embeds is not None:
            inputs.pop("input_ids")
            inputs["inputs_embeds"] = inputs_embeds
        return self.model(**inputs).logits

    def per_example_loss(self, logits, labels):
        return F.cross_entropy(logits.float(), labels, reduction="none")


@pytest.fixture
def tiny():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=32, num_labels=2))
    batch = {"input_ids": torch.randint(5, 50, (4, 7)), "attention_mask": torch.ones(4, 7, dtype=torch.long),
             "labels": torch.tensor([0, 1, 1, 0])}
    batch["attention_mask"][0, 5:] = 0  # a padded example
    return model, batch


def _loss_of(ctx, batch):
    return lambda logits: ctx.per_example_loss(logits, batch["labels"]).mean()


def test_freelb_initial_perturbation_and_projection_respect_their_bounds(tiny):
    model, batch = tiny
    embeds = model.get_input_embeddings()(batch["input_ids"]).detach()
    delta = init_delta(embeds, batch["attention_mask"], 0.6)
    norms = delta.view(4, -1).norm(dim=1)
    assert (norms <= 0.6 + 1e-6).all() and (norms > 0.2).all()
    assert delta[0, 5:].abs().sum() == 0  # nothing on padding
    moved = ascend(delta, torch.randn_like(delta) * 100, step=5.0, max_norm=0.3)
    assert (moved.view(4, -1).norm(dim=1) <= 0.3 + 1e-5).all()
    free = ascend(delta, torch.randn_like(delta), step=5.0, max_norm=0.0)  # 0: unbounded
    assert (free.view(4, -1).norm(dim=1) > 0.3).all()


def test_freelb_does_exactly_k_forward_and_backward_passes_and_matches_a_hand_computation(tiny):
    model, batch = tiny
    model.eval()  # no dropout: the hand computation below must see the same function
    ctx = TinyCtx(model)
    method = build_method("freelb", {"adv_steps": 3, "adv_lr": 0.1, "adv_init_mag": 0.0})
    forwards, backwards = [], []
    model.bert.encoder.register_forward_hook(lambda *a: forwards.append(1))
    model.classifier.register_full_backward_hook(lambda *a: backwards.append(1))
    total = method.forward_backward(ctx, batch, _loss_of(ctx, batch), lambda loss: loss.backward())
    assert len(forwards) == 3 and len(backwards) == 3  # K passes, no separate clean pass
    got = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    # by hand: δ0 = 0; δ_{t+1} = δ_t + α g/‖g‖; loss = Σ_t CE(embed + δ_t)/K; parameter grads summed
    embed = model.get_input_embeddings()
    delta, hand, grads = torch.zeros_like(embed(batch["input_ids"])), 0.0, None
    for step in range(3):
        delta = delta.detach().requires_grad_()
        loss = _loss_of(ctx, batch)(ctx.forward(batch, inputs_embeds=embed(batch["input_ids"]) + delta)) / 3
        params = [p for p in model.parameters()]
        g = torch.autograd.grad(loss, params + [delta], allow_unused=True)
        grads = [a if b is None else (b if a is None else a + b) for a, b in zip(grads or [None] * len(params), g[:-1])]
        hand += float(loss.detach())
        norm = g[-1].view(4, -1).norm(dim=1).clamp(min=1e-8).view(-1, 1, 1)
        delta = delta + 0.1 * g[-1] / norm
    assert total == pytest.approx(hand, rel=1e-5)
    for (name, p), want in zip(model.named_parameters(), grads):
        if want is not None:
            assert torch.allclose(got[name], want, atol=1e-6), name


def test_smart_noise_is_normalised_per_token(tiny):
    grad = torch.randn(4, 7, 16) * 50
    direction = normalise(grad, "inf", 1e-6)
    assert torch.allclose(direction.abs().amax(-1), torch.ones(4, 7), atol=1e-5)
    assert torch.allclose(normalise(grad, "l2", 1e-6).norm(dim=-1), torch.ones(4, 7), atol=1e-5)


def test_smart_loss_matches_a_hand_computation_and_the_teacher_follows_with_momentum(tiny):
    model, batch = tiny
    model.eval()
    ctx = TinyCtx(model)
    method = build_method("smart", {"smart_mu": 0.0})
    method.setup(ctx)
    logits = ctx.forward(batch)
    torch.manual_seed(7)
    got = float(method.extra_loss(ctx, batch, logits))
    # by hand, as mt_dnn/perturbation.py: e = embeddings(x); ν ~ N(0, σ²); one normalised ascent step; SymKL
    torch.manual_seed(7)
    e = model.bert.embeddings(input_ids=batch["input_ids"])
    noise = (torch.randn_like(e) * 1e-5).requires_grad_()

    def from_embedding(value):
        ext = model.get_extended_attention_mask(batch["attention_mask"], batch["input_ids"].shape)
        hidden = model.bert.encoder(value, attention_mask=ext).last_hidden_state
        return model.classifier(model.bert.pooler(hidden))

    adv = stable_kl(from_embedding(e + noise), logits.detach(), reduce=False)
    (g,) = torch.autograd.grad(adv, noise)
    noise = (noise + g * 1e-3)
    noise = (noise / (noise.abs().amax(-1, keepdim=True) + 1e-6)).detach()
    hand = float(sym_kl(logits, from_embedding(e + noise)))
    assert got == pytest.approx(hand, rel=1e-4, abs=1e-7)
    assert float(method.last_noise.abs().amax()) <= 1.0 + 1e-6
    # the proximal-point teacher: θ̃ ← (1 − β)θ + βθ̃ after a step
    with_teacher = build_method("smart", {"smart_mu": 1.0, "smart_beta": 0.9})
    with_teacher.setup(ctx)
    before = [t.clone() for t in with_teacher.teacher.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    with_teacher.after_optimizer_step(ctx)
    for old, new, p in zip(before, with_teacher.teacher.parameters(), model.parameters()):
        assert torch.allclose(new, 0.9 * old + 0.1 * p, atol=1e-6)


# -- issue 35: in training mode, with the initial perturbation, the bound and the teacher active --------------
def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_freelb_in_training_mode_with_init_and_bound_matches_a_hand_computation(tiny):
    """Dropout on, δ₀ random (magnitude 0.6), the L2 bound 0.05 active (δ₀ alone exceeds it): the method's
    summed loss and accumulated parameter gradients equal a hand computation of the official algorithm that
    replays one dropout mask over the K passes."""
    model, batch = tiny
    model.train()
    ctx = TinyCtx(model)
    k, alpha, mag, bound = 3, 0.1, 0.6, 0.05
    method = build_method("freelb", {"adv_steps": k, "adv_lr": alpha, "adv_init_mag": mag, "adv_max_norm": bound})
    torch.manual_seed(11)
    total = method.forward_backward(ctx, batch, _loss_of(ctx, batch), lambda loss: loss.backward())
    got = _grads(model)
    assert float(method.last_delta.view(4, -1).norm(dim=1).max()) <= bound + 1e-6  # the bound held
    model.zero_grad()
    torch.manual_seed(11)
    embed, mask = model.get_input_embeddings(), batch["attention_mask"].float()
    ids = batch["input_ids"]
    delta = torch.zeros_like(embed(ids)).uniform_(-1, 1) * mask.unsqueeze(2)
    delta = delta * (mag / torch.sqrt(mask.sum(1) * delta.size(-1))).view(-1, 1, 1)
    rng, hand = torch.get_rng_state(), 0.0
    for step in range(k):
        delta = delta.detach().requires_grad_()
        torch.set_rng_state(rng)  # the same dropout masks in every pass
        loss = _loss_of(ctx, batch)(ctx.forward(batch, inputs_embeds=embed(ids) + delta)) / k
        loss.backward()
        hand += float(loss.detach())
        g = delta.grad
        delta = delta + alpha * g / g.view(4, -1).norm(dim=1).clamp(min=1e-8).view(-1, 1, 1)
        norm = delta.view(4, -1).norm(dim=1).view(-1, 1, 1)
        delta = torch.where(norm > bound, delta * bound / norm, delta)
    assert total == pytest.approx(hand, rel=1e-5)
    want = _grads(model)
    assert got.keys() == want.keys()
    for name in want:
        assert torch.allclose(got[name], want[name], atol=1e-6), name


def _from_embedding(model, batch, value):
    """The classifier's logits with the embedding layer's output replaced by ``value`` (dropout as configured)."""
    handle = model.bert.embeddings.register_forward_hook(lambda module, args, output: value)
    try:
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    finally:
        handle.remove()


@pytest.mark.parametrize("perturbation", ["official", "paper"])
def test_smart_in_training_mode_with_the_teacher_matches_a_hand_computation(tiny, perturbation):
    """Dropout on, μ = 1 with a teacher that differs from the model, λ_s = 2: extra_loss equals
    λ_s·SymKL(f(x), f(e + ν)) + μ·SymKL(f(x), f(x; θ̃)) with ν from one ascent step — the official step
    (normalise ν + η·g per token by its ∞-norm) or the paper's (ν + η·g/‖g‖_∞, projected into the ε-ball)."""
    model, batch = tiny
    model.train()
    ctx = TinyCtx(model)
    eta, sigma, radius = 1e-3, 1e-5, 3e-4
    method = build_method("smart", {"smart_mu": 1.0, "adv_alpha": 2.0, "adv_perturbation": perturbation,
                                    "adv_radius": radius})
    method.setup(ctx)
    with torch.no_grad():  # one optimizer step later: the teacher lags behind the model
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    torch.manual_seed(3)
    logits = ctx.forward(batch)
    torch.manual_seed(7)
    got = float(method.extra_loss(ctx, batch, logits))
    torch.manual_seed(7)
    e = model.bert.embeddings(input_ids=batch["input_ids"])
    noise = (torch.randn_like(e) * sigma).requires_grad_()
    adv = stable_kl(_from_embedding(model, batch, e + noise), logits.detach(), reduce=False)
    (g,) = torch.autograd.grad(adv, noise)
    if perturbation == "official":
        noise = noise + eta * g
        noise = noise / (noise.abs().amax(-1, keepdim=True) + 1e-6)
    else:
        noise = (noise + eta * g / g.abs().amax(dim=(1, 2), keepdim=True)).clamp(-radius, radius)
    adv_logits = _from_embedding(model, batch, e + noise.detach())
    with torch.no_grad():
        teacher = method.teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    hand = 2.0 * float(sym_kl(logits, adv_logits)) + float(sym_kl(logits, teacher))
    assert got == pytest.approx(hand, rel=1e-4, abs=1e-7)
    assert float(sym_kl(logits, teacher)) > 1e-4  # the teacher term is really in the sum
    if perturbation == "paper":  # inside the ε-ball, and on its surface where the step pushed it out
        assert float(method.last_noise.abs().max()) == pytest.approx(radius, rel=1e-6)
    else:  # noise of each token's largest coordinate's size (1 up to the 1e-6 in the denominator)
        assert float(method.last_noise.abs().amax(-1).min()) > 0.9


def test_smart_teacher_follows_by_name_with_the_papers_beta_schedule(tiny):
    """β = 0.99 for the first 10 % of the updates, 0.999 after (paper), each teacher parameter pulled toward
    the model's parameter of the same name."""
    model, _ = tiny
    ctx = TinyCtx(model, total_steps=20)
    method = build_method("smart")
    method.setup(ctx)
    for step, beta in ((1, 0.99), (2, 0.99), (3, 0.999), (20, 0.999)):
        ctx.step = step
        before = {n: t.clone() for n, t in method.teacher.named_parameters()}
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        method.after_optimizer_step(ctx)
        mine = dict(model.named_parameters())
        for name, t in method.teacher.named_parameters():
            assert torch.allclose(t, beta * before[name] + (1 - beta) * mine[name], atol=1e-5), (step, name)


@pytest.mark.skipif(not (DATA / "glue" / "SST-2").is_dir() and not os.environ.get("CI"), reason="no shared data")
@pytest.mark.parametrize("method", ["freelb", "smart"])
def test_a_short_real_run_learns_sst2(method, tmp_path):
    from robustbench_match.cli import main

    out = tmp_path / method
    assert main(["train", "--method", method, "--task", "sst2", "--seed", "1", "--output", str(out), "--data-dir",
                 str(DATA), "--batch-size", "16", "--max-length", "32", "--lr", "2e-4", "--epochs", "3",
                 "--max-train-examples", "240"]) == 0  # measured on 200 dev rows: freelb 76.5, smart 77.0 (34 s, 45 s)
    run = tmp_path / "run"
    assert main(["run", "glue-dev", "--tasks", "sst2", "--checkpoint", f"sst2/m={out}", "--data-dir", str(DATA),
                 "--output", str(run), "--format", "none", "--limit", "200"]) == 0
    (rec,) = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    assert rec["metrics"]["accuracy"] > rec["details"]["majority_score"] + 0.12 and not rec["degenerate"]
