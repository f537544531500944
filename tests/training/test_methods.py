"""Each method changes training in the way it claims and in no other, on the real MiniLM.

Runs are tiny (a few steps on 16–32 real SST-2 sentences, max length 32) so the file stays fast.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from robustbench_match.data import load_split
from robustbench_match.errors import RBMError
from robustbench_match.models import resolve_base_model
from robustbench_match.training import TrainConfig, train
from robustbench_match.training.modeling import one_thread_when_busy
from robustbench_match.training.methods import METHODS, build_method
from robustbench_match.training.methods.base import Method
from robustbench_match.training.methods.match_tuning import MatchedLinear, MatchTuning
from robustbench_match.training.methods.r3f import embedding_noise, symmetric_kl



@pytest.fixture(autouse=True, scope="module")
def _threads():
    with one_thread_when_busy():
        yield


@pytest.fixture(scope="module")
def sst2(data_dir):  # data_dir (tests/conftest.py) skips when the real data is absent
    return load_split("sst2", "train", data_dir).subset(np.arange(32))


@pytest.fixture(scope="module")
def vanilla(sst2, tmp_path_factory):
    """The reference run "same as vanilla" claims compare with: 4 steps, batch 8 (step 1 has lr 0:
    warm-up starts at zero, so penalties toward the pretrained weights act from step 3 on)."""
    return run(tmp_path_factory.mktemp("vanilla"), sst2, "vanilla", steps=4)


@pytest.fixture(scope="module")
def base_weights():
    return load_file(os.path.join(resolve_base_model(None), "model.safetensors"))


def run(tmp_path, examples, method, name=None, steps=2, batch_size=8, **kw):
    method_args = kw.pop("method_args", {})
    cfg = TrainConfig(method=method, task="sst2", seed=3, output=str(tmp_path / (name or method)), max_steps=steps,
                      batch_size=batch_size, lr=kw.pop("lr", 1e-4), max_length=24, method_args=method_args, **kw)
    path = train(cfg, train_examples=examples)
    return load_file(os.path.join(path, "model.safetensors"))


def encoder_changes(weights, base):
    """Per parameter of the base model: fraction of entries that moved."""
    return {k: float((weights["bert." + k] != v).float().mean()) for k, v in base.items()
            if "bert." + k in weights and v.is_floating_point()}


# -- Match-Tuning -----------------------------------------------------------------------------------
def matched(mode="full", temperature=0.5, n=6, hidden=8, ablation_mask="post-softmax"):
    torch.manual_seed(0)
    module = MatchedLinear(torch.nn.Linear(hidden, 2), torch.nn.Linear(hidden, hidden), temperature, mode, ablation_mask)
    module.labels = torch.tensor([0, 0, 1, 1, 1, 0][:n])
    return module, torch.randn(n, hidden)


def test_ablations_mask_m_after_the_softmax_as_the_paper():
    """§5.1: M ← A⊙M (positive) and M ← (1−A)⊙M (negative, self dropped), A_ij = [y_i = y_j]."""
    full, x = matched("full")
    m_full = full.matching(full.dense(x)).detach()
    assert torch.allclose(m_full.sum(1), torch.ones(6), atol=1e-6) and (m_full > 0).all()
    same = full.labels[:, None] == full.labels[None, :]
    for mode, keep in (("positive", same), ("negative", ~same)):
        module, _ = matched(mode)
        m = module.matching(module.dense(x)).detach()
        assert torch.equal(m, m_full * keep)  # the same softmax, then the 0/1 mask: nothing renormalised
        assert (m.sum(1) < 1 - 1e-3).all()  # every row has other-label (resp. same-label) instances
        s = module.stats
        assert abs(float(s["m_self"] + s["m_positive"] + s["m_negative"]) - float(m.sum(1).mean())) < 1e-6
    negative, _ = matched("negative")
    m = negative.matching(negative.dense(x)).detach()
    assert m.diagonal().abs().max() == 0 and float(negative.stats["m_positive"]) == 0


def test_negative_ablation_row_without_other_labels_is_zero_not_nan():
    module, x = matched("negative")
    module.labels = torch.tensor([0, 0, 0, 0, 0, 1])  # rows 0-4 have one other-label instance, row 5 five
    module.train()
    out = module(x)
    assert torch.isfinite(out).all()
    module.labels = torch.zeros(6, dtype=torch.long)  # no other-label instance at all: z = 0, logits = bias
    out = module(x)
    assert torch.isfinite(out).all() and torch.allclose(out, module.head.bias.expand(6, 2))


def test_pre_softmax_ablation_mask_keeps_rows_convex_with_the_diagonal():
    for mode in ("positive", "negative"):
        module, x = matched(mode, ablation_mask="pre-softmax")
        m = module.matching(module.dense(x)).detach()
        assert torch.allclose(m.sum(1), torch.ones(6), atol=1e-6)
        same = module.labels[:, None] == module.labels[None, :]
        off = ~torch.eye(6, dtype=torch.bool)
        if mode == "positive":
            assert m[~same].abs().max() == 0 and m[same & off].min() > 0
        else:
            assert m[same & off].abs().max() == 0 and m[~same].min() > 0 and m.diagonal().min() > 0
    assert build_method("match-tuning-negative").hparams["ablation_mask"] == "post-softmax"
    with pytest.raises(RBMError, match="ablation-mask must be one of"):
        build_method("match-tuning-positive", {"ablation_mask": "after"})
    with pytest.raises(RBMError, match="do not apply"):
        build_method("match-tuning", {"ablation_mask": "pre-softmax"})


def test_match_tuning_is_training_only_and_folds_exactly():
    module, x = matched()
    module.train()
    z_train = module(x)
    module.eval()
    z_eval = module(x)
    assert not torch.allclose(z_train, z_eval)  # the batch mixes in training
    assert torch.allclose(z_eval, module.head(module.dense(x)))  # eval = batch of one: M = [1]
    assert torch.allclose(module.folded()(x), z_eval, atol=1e-6)
    module.train()
    assert torch.equal(module(x[:1]), module.head(module.dense(x[:1])))  # batch of one in training too


def test_near_uniform_matching_is_logged_and_warned(caplog):
    method = MatchTuning(temperature=1000.0)
    method.module, x = matched(temperature=1000.0)
    method.module.train()
    method.module(x)
    with caplog.at_level("WARNING"):
        metrics = method.step_metrics()
    assert abs(metrics["m_self"] - 1 / 6) < 0.01 and "near uniform" in caplog.text


class ProjectionOnly(MatchTuning):
    """Vanilla fine-tuning with Match-Tuning's extra dense layer but no matching."""

    name = "test-projection-only"

    def setup(self, ctx) -> None:
        super().setup(ctx)
        self.module.matching = lambda rep: torch.eye(rep.shape[0], dtype=rep.dtype)


if "test-projection-only" not in METHODS:
    METHODS.register("test-projection-only", ProjectionOnly)


def test_match_tuning_with_batch_size_one_equals_vanilla_with_projection(tmp_path, sst2):
    a = run(tmp_path, sst2.subset(np.arange(3)), "match-tuning", steps=3, batch_size=1)
    b = run(tmp_path, sst2.subset(np.arange(3)), "test-projection-only", steps=3, batch_size=1)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # ...while with a real batch the matching changes the update (see also the unit test above)
    module, x = matched()
    eye = torch.eye(6)
    assert not torch.allclose(module.matching(module.dense(x)), eye)


# -- ChildTuning --------------------------------------------------------------------------------------
def test_child_tuning_d_updates_only_the_stated_fraction_of_encoder_layers(tmp_path, sst2, base_weights):
    weights = run(tmp_path, sst2, "child-tuning-d", steps=2, method_args={"reserve_p": 0.3})
    layer_keys = [k for k in base_weights if k.startswith("encoder.layer.")]
    moved = sum(float((weights["bert." + k] != base_weights[k]).sum()) for k in layer_keys)
    total = sum(base_weights[k].numel() for k in layer_keys)
    assert 0.2 < moved / total <= 0.3 + 1e-4
    emb = encoder_changes(weights, {k: v for k, v in base_weights.items() if k.startswith("embeddings.word")})
    assert min(emb.values()) > 0  # embeddings are not masked


def test_child_tuning_f_keeps_a_bernoulli_fraction_scaled_by_one_over_p():
    torch.manual_seed(0)
    model = torch.nn.Linear(384, 384)
    model.weight.grad = torch.ones_like(model.weight)
    model.bias.grad = None
    build_method("child-tuning-f", {"reserve_p": 0.25}).before_optimizer_step(SimpleNamespace(model=model))
    g = model.weight.grad
    assert set(torch.unique(g).tolist()) == {0.0, 4.0}
    assert abs(float((g > 0).float().mean()) - 0.25) < 0.01


@pytest.mark.parametrize("name,bad", [("child-tuning-f", 0.0), ("child-tuning-d", 1.5), ("mixout", 1.0)])
def test_probabilities_outside_their_range_are_rejected(name, bad):
    key = "mixout_p" if name == "mixout" else "reserve_p"
    with pytest.raises(RBMError, match="must be in"):
        build_method(name, {key: bad})


# -- top-K, mixout, weight decay, RecAdam -------------------------------------------------------------
def test_top_k_leaves_lower_layers_and_embeddings_bit_identical(tmp_path, sst2, base_weights):
    moved = encoder_changes(run(tmp_path, sst2, "top-k", method_args={"top_k": 2}), base_weights)
    for key, frac in moved.items():
        layer = int(key.split(".")[2]) if key.startswith("encoder.layer.") else None
        if key.startswith("embeddings.") or (layer is not None and layer < 4):
            assert frac == 0, key
        elif layer is not None and key.endswith("weight"):
            assert frac > 0.5, key


def test_mixout_p0_equals_vanilla_without_dropout(tmp_path, sst2):
    a = run(tmp_path, sst2, "mixout", method_args={"mixout_p": 0.0})
    b = run(tmp_path, sst2, "vanilla", dropout=0.0)
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = run(tmp_path, sst2, "mixout", name="mixout09")
    assert not torch.equal(c["bert.encoder.layer.5.output.dense.weight"], b["bert.encoder.layer.5.output.dense.weight"])


def test_weight_decay_zero_is_vanilla_and_positive_pulls_toward_pretrained(tmp_path, sst2, base_weights, vanilla):
    van = vanilla
    zero = run(tmp_path, sst2, "weight-decay", name="wd0", steps=4, method_args={"wd_lambda": 0.0})
    assert all(torch.equal(van[k], zero[k]) for k in van)
    strong = run(tmp_path, sst2, "weight-decay", name="wd", steps=4, method_args={"wd_lambda": 1e4})
    dist = lambda w: sum(float((w["bert." + k] - v).pow(2).sum()) for k, v in base_weights.items()  # noqa: E731
                         if k.startswith("encoder.") and v.is_floating_point())
    assert dist(strong) < 0.5 * dist(van)


def test_recadam_early_steps_keep_pretrained_weights_and_late_steps_match_adam(tmp_path, sst2, base_weights, vanilla):
    early = run(tmp_path, sst2, "recadam")  # λ(t) ≈ 0 for t ≪ t0 = 250: pure pull, no Adam step
    moved = encoder_changes(early, base_weights)
    assert max(moved.values()) == 0
    late = run(tmp_path, sst2, "recadam", name="late", steps=4, method_args={"anneal_t0": 0.0, "anneal_k": 100.0})
    van = vanilla
    assert all(torch.allclose(late[k], van[k], atol=1e-6, rtol=0) for k in van)


# -- R3F, GroupDRO ------------------------------------------------------------------------------------
def test_symmetric_kl_and_embedding_noise():
    torch.manual_seed(0)
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    assert float(symmetric_kl(a, a)) == pytest.approx(0, abs=1e-7)
    assert float(symmetric_kl(a, b)) == pytest.approx(float(symmetric_kl(b, a)), rel=1e-6)
    assert float(symmetric_kl(a, b)) > 0
    noise = embedding_noise(torch.zeros(1000, 8), 1e-5, "uniform")
    assert noise.abs().max() <= 1e-5 and noise.std() > 4e-6


def test_r3f_adds_kl_on_noised_token_embeddings(tmp_path, sst2):
    method = build_method("r3f")
    calls = []
    model = torch.nn.Embedding(10, 4)
    ids = torch.tensor([[1, 2, 3]])
    logits = torch.tensor([[0.3, -0.2]])

    def forward(batch, inputs_embeds=None):
        calls.append(inputs_embeds)
        return torch.tensor([[0.1, 0.0]])

    ctx = SimpleNamespace(model=SimpleNamespace(get_input_embeddings=lambda: model), forward=forward)
    extra = method.extra_loss(ctx, {"input_ids": ids}, logits)
    assert len(calls) == 1 and (calls[0] - model(ids)).abs().max() <= 1e-5
    assert not calls[0].requires_grad  # fairseq: noise on detached embeddings, no gradient into the table
    assert float(extra) == pytest.approx(float(symmetric_kl(torch.tensor([[0.1, 0.0]]), logits)))
    with pytest.raises(RBMError, match="classification"):
        method.check_task(SimpleNamespace(is_regression=True, name="stsb"))


def test_group_dro_needs_groups_and_upweights_the_worst_group(sst2):
    method = build_method("group-dro", {"dro_step_size": 1.0})
    with pytest.raises(RBMError, match="group ids"):
        method.prepare_data(sst2)
    ex = sst2.subset(np.arange(4))
    ex.extra["group"] = [0, 1, 0, 1]
    assert method.prepare_data(ex) is ex
    batch = {"group": torch.tensor([0, 1, 0, 1])}
    loss = method.reduce_loss(torch.tensor([0.1, 2.0, 0.3, 1.0]), batch)
    q = method.q
    assert q[1] > q[0] and float(q.sum()) == pytest.approx(1)
    assert float(loss) == pytest.approx(float(q[0] * 0.2 + q[1] * 1.5))


def test_group_dro_can_group_by_label_without_touching_the_input(sst2):
    ex = sst2.subset(np.arange(6))
    out = build_method("group-dro", {"dro_groups": "label"}).prepare_data(ex)
    assert out.extra["group"] == ex.labels.tolist() and "group" not in ex.extra


def test_composition_names_and_routes_hyperparameters(tmp_path, sst2):
    """Names and hyperparameter routing only; tests/training/test_compositions.py trains every pair."""
    method = build_method("match-tuning+r3f", {"temperature": 0.3})
    assert method.name == "match-tuning+r3f" and method.describe()["temperature"] == 0.3
    with pytest.raises(RBMError, match="do not apply"):
        build_method("match-tuning", {"reserve_p": 0.3})
    assert isinstance(build_method("vanilla"), Method)


# -- closer to the official code (issue 8, item 7) ----------------------------------------------------
def test_mixout_mask_is_one_draw_per_input_column():
    """Official Mixout: noise[0].bernoulli_(1 − p) repeated over the rows — a column is mixed as a whole."""
    from robustbench_match.training.methods.mixout import mixout

    torch.manual_seed(0)
    w, w0 = torch.ones(64, 2000), torch.zeros(64, 2000)
    out = mixout(w, w0, 0.7)  # (B·1 + (1 − B)·0) / (1 − p) = B / 0.3, B per column
    assert float(out.std(dim=0).max()) == 0  # every row of a column got the same draw
    assert torch.unique(out).tolist() == [0.0, pytest.approx(1 / 0.3)]
    assert abs(float((out[0] > 0).float().mean()) - 0.3) < 0.04


def test_child_tuning_d_fisher_clips_each_tensor_gradient_before_squaring():
    from robustbench_match.training.methods.child_tuning import ChildTuningD

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    x, y = torch.randn(5, 4) * 50, torch.tensor([0, 1, 2, 0, 1])  # large inputs: weight gradient norm ≫ 1
    ctx = SimpleNamespace(model=model, config=SimpleNamespace(seed=1, max_grad_norm=1.0),
                          batches=lambda rng: iter([{"x": x, "labels": y}] * 2), batches_per_epoch=lambda: 2,
                          forward=lambda batch: model(batch["x"]),
                          per_example_loss=lambda logits, labels: torch.nn.functional.cross_entropy(logits, labels,
                                                                                                    reduction="none"))
    named = dict(model.named_parameters())
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    raw = {n: p.grad.clone() for n, p in named.items()}
    assert raw["weight"].norm() > 1.5
    fisher = ChildTuningD.fisher(ctx, named)
    for n, g in raw.items():  # per tensor: g · min(1, 1/‖g‖), squared; two identical batches / 2
        clipped = g * min(1.0, 1.0 / float(g.norm()))
        assert torch.allclose(fisher[n], clipped ** 2, rtol=1e-5, atol=1e-9), n
    assert float(fisher["weight"].sum()) == pytest.approx(1.0, rel=1e-5)


def test_recadam_warns_in_one_line_when_the_run_is_shorter_than_t0(caplog):
    model = torch.nn.Linear(2, 2)
    ctx = SimpleNamespace(model=model, pretrained={}, total_steps=40)
    with caplog.at_level("WARNING"):
        build_method("recadam").setup(ctx)
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(lines) == 1 and "40 optimizer steps, fewer than anneal_t0 = 250" in lines[0] and "\n" not in lines[0]
    caplog.clear()
    with caplog.at_level("WARNING"):
        build_method("recadam", {"anneal_t0": 30.0}).setup(ctx)
    assert not caplog.records
