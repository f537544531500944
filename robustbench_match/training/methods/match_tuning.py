"""Match-Tuning (paper §3.1, eq. 2–4) and the masking ablations of §5.1 / Table 7.

Training: rep = dense(x) for the n instances of a batch, M = softmax(rep·repᵀ / T) row-wise over
the batch (diagonal included), z = M·rep, logits = classifier(z). ``representation`` picks x:

* ``cls-dense`` (default, the authors' code): x is the last hidden state's [CLS] vector — no
  pooler, no tanh, no dropout between the encoder and ``dense``. BERT-style models (a pooler
  ``dense → tanh`` feeding ``dropout → classifier``) and RoBERTa-style heads (``classifier.dense →
  tanh → classifier.out_proj`` on the first token) are supported.
* ``pooled-dense`` (this project's earlier form): x is what the model's own classification layer
  consumes (BERT: the pooled output after dropout; RoBERTa: the input of ``classifier.out_proj``).
  Its tanh bounds rep, so at the paper's T ∈ {1..6} M stays near uniform on MiniLM.

The authors' published code (github.com/tongshoujie/MATCH-TUNING, ``code.py``) is the training-time
matching alone — [CLS] → ``dense`` → M = softmax(rep·repᵀ / T) → M·rep — with no branch for
regression, so STS-B goes through the same matching here too (on MiniLM it does not learn there:
results/paper-minilm/README.md).

Inference sees a batch of one, M = [1] and z = rep, so the model is classifier∘dense(x): a linear
map of x. Export folds it into a plain ``AutoModelForSequenceClassification`` folder (no custom
code). For ``cls-dense`` the stock model would still apply its pooler's tanh, so the pooler (or
RoBERTa's ``classifier.dense``) is set to W_p = ε·I, b_p = 0 with ε = 2⁻²⁰ and the classifier to
W = (C·D)/ε, b = C·b_d + b_c (folded in float64). Then tanh(ε·h) = ε·h − (ε·h)³/3 + …, a relative
error (ε·h)²/3 < 1e-10 for |h| < 10⁴ — far below float32 rounding —, ε is a power of two (exact
in fp32 and bf16, so ε·h and W/ε carry no extra rounding) and eval-mode dropout is the identity:
the exported logits equal the training model's eval logits to float rounding (tested on real SST-2
dev rows). fp16 inference of such an export is not supported (ε·h falls into fp16's subnormals).
Whether the trick holds for a given architecture is checked numerically at setup; when it does
not, the error says to use ``--representation pooled-dense``.

Ablations (§5.1, eq. 5): with A_ij = 1 iff y_i = y_j (so A_ii = 1), the paper updates M ← A ⊙ M
("positive": self + same label) and M ← (I_n − A) ⊙ M ("negative"). Read literally, I_n − A would
put −1 on same-label pairs; we read it as the complement of A (1 − A), which keeps the other-label
instances only and drops the instance itself (A_ii = 1). ``ablation_mask=post-softmax`` (default)
does exactly that: the softmax over the whole batch, then the 0/1 mask, so rows no longer sum to
one. A negative-only row with no other-label instance in the batch is all zero: z = 0 and the
logits are the classifier's bias, as the formula implies (no NaN: nothing is renormalised).
``ablation_mask=pre-softmax`` is the earlier form: the excluded logits are set to −inf before the
softmax, the diagonal always kept, so every row stays a convex combination.

Causal decoders (Llama, Qwen2, Mistral, GPT-2 heads; an extension of the paper, not its method): their
``score`` layer runs at every position and the model keeps the last non-pad one, so the representation is that
token's last hidden state through ``dense`` (:class:`LastTokenHead`) — the decoder analogue of [CLS] + dense
— whatever ``representation`` says. Their ``score`` has no bias, so ``dense`` has none either and the export
folds into a stock bias-free ``score`` (no ε trick: there is no tanh in the way).

``dense-head`` is the control: the same dense layer, representation, initialisation and export
with M = I, so that Match-Tuning minus ``dense-head`` isolates the matching from the new head.
"""
from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from ...errors import RBMError
from ...inference import is_decoder_head, last_non_pad
from .base import Method, Param

log = logging.getLogger(__name__)

# Chosen on a held-out slice of the SST-2 *training* set (never dev), cls-dense, 3 seeds, the paper's
# grid {1..6} plus 0.5: the best mean held-out accuracy (results/match_tuning_temperature_sweep.md).
# Larger encoders have larger representations (rep·rep grows with the hidden size): sweep T when
# changing the model.
DEFAULT_TEMPERATURE = 0.5
REPRESENTATIONS = ("cls-dense", "pooled-dense")
# How the new dense layer starts: the encoder's own N(0, initializer_range) (as HF initialises any new
# head layer) or torch's nn.Linear default (Kaiming-uniform, a = √5), which the authors' code gets by
# constructing nn.Linear and never re-initialising it. On MiniLM the latter gives ≈ 1.5× larger
# representations (|rep| 4.26 vs 2.84 on SST-2), so ≈ 2.2× larger rep·repᵀ: it shifts the effective T.
DENSE_INITS = ("normal", "torch-default")
ABLATION_MASKS = ("post-softmax", "pre-softmax")
EXPORT_EPS = 2.0 ** -20  # ε of the cls-dense export (a power of two: exact in fp32/bf16)
#: the unfolded head beside an export (dense and classifier before folding; T in its metadata): not needed to
#: load or score the checkpoint, only to apply M at inference (results/paper-minilm/stsb_diagnosis.py)
HEAD_FILE = "match_tuning_head.safetensors"


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

    def __init__(self, head: nn.Linear, dense: nn.Linear, temperature: float, mode: str = "full",
                 ablation_mask: str = "post-softmax") -> None:
        super().__init__()
        self.head, self.dense = head, dense
        self.temperature, self.mode, self.ablation_mask = temperature, mode, ablation_mask
        self.labels: torch.Tensor | None = None
        self.stats: dict[str, torch.Tensor] | None = None

    def matching(self, rep: torch.Tensor) -> torch.Tensor:
        """M (n×n) as applied to rep; records its mean self / same-label / other-label row masses."""
        rep32 = rep.float()
        scores = rep32 @ rep32.T / self.temperature
        n = scores.shape[0]
        eye = torch.eye(n, dtype=torch.bool, device=scores.device)
        same = None
        if self.labels is not None and not torch.is_floating_point(self.labels):
            same = self.labels.view(-1, 1) == self.labels.view(1, -1)  # A of eq. 5 (A_ii = 1)
        if self.mode != "full" and same is None:
            raise RBMError(f"match-tuning-{self.mode} needs class labels in the batch")
        keep = None if self.mode == "full" else (same if self.mode == "positive" else ~same)
        if keep is not None and self.ablation_mask == "pre-softmax":
            scores = scores.masked_fill(~(keep | eye), float("-inf"))
        match = torch.softmax(scores, dim=-1)
        if keep is not None and self.ablation_mask == "post-softmax":
            match = match * keep  # the paper's A ⊙ M / (1 − A) ⊙ M: rows no longer sum to one
        if self.stats is None:  # first forward of the step (R3F's noised pass is not recorded)
            stats = {"m_self": match.diagonal().mean()}
            if same is not None:
                stats["m_positive"] = (match * (same & ~eye)).sum(1).mean()
                stats["m_negative"] = (match * ~same).sum(1).mean()
            self.stats = {k: v.detach() for k, v in stats.items()}
        return match.to(rep.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rep = self.dense(x)
        if self.training and rep.dim() == 2 and self.mode != "identity":
            rep = self.matching(rep) @ rep  # a batch of one gives M = [1] exactly (full / positive)
        return self.head(rep)

    @torch.no_grad()
    def folded64(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, b) of head∘dense in float64: W = C·D, b = C·b_d + b_c."""
        w_h, w_d = self.head.weight.double(), self.dense.weight.double()
        b_h = self.head.bias.double() if self.head.bias is not None else torch.zeros(w_h.shape[0], dtype=torch.float64,
                                                                                      device=w_h.device)
        b_d = self.dense.bias.double() if self.dense.bias is not None else torch.zeros(w_d.shape[0], dtype=torch.float64,
                                                                                       device=w_d.device)
        return w_h @ w_d, w_h @ b_d + b_h

    @torch.no_grad()
    def folded(self, scale: float = 1.0) -> nn.Linear:
        """head∘dense as one linear layer whose weight is divided by ``scale`` (exact up to rounding); without a
        bias when neither layer has one (a decoder's bias-free ``score``, which a stock model loads as such)."""
        weight, bias = self.folded64()
        has_bias = self.head.bias is not None or self.dense.bias is not None
        out = nn.Linear(weight.shape[1], weight.shape[0], bias=has_bias, device=weight.device,
                        dtype=self.head.weight.dtype)
        out.weight.copy_(weight / scale)
        if has_bias:
            out.bias.copy_(bias)
        return out


class ClsToken(nn.Module):
    """Stands in for a BERT pooler during training: the raw last-layer [CLS] vector (no dense, no tanh)."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states[:, 0]


class ClsMatchedHead(nn.Module):
    """Stands in for a RoBERTa-style classification head during training: matching on the raw [CLS]."""

    def __init__(self, matched: MatchedLinear) -> None:
        super().__init__()
        self.matched = matched

    def forward(self, features: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.matched(features[:, 0])


class LastTokenHead(nn.Module):
    """Stands in for a causal decoder's ``score`` layer during training (Llama, Qwen2, GPT-2 heads apply it at every
    position and keep the last non-pad one): the decoder analogue of the authors' [CLS] + dense — an extension of
    the paper, not its method. The matching runs over the batch's last non-pad hidden states (found by the
    model's own rule from ``input_ids``, set per batch by :meth:`MatchTuning.on_batch`); every other position
    gets ``head(dense(h))``, which the model discards. In eval mode it is ``head∘dense`` at every position, so the
    export folds into a stock ``score`` layer."""

    def __init__(self, matched: MatchedLinear) -> None:
        super().__init__()
        self.matched = matched
        self.last: torch.Tensor | None = None  # per row of the batch: the position the model pools

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        m = self.matched
        rep = m.dense(hidden)
        out = m.head(rep)
        if self.training and m.mode != "identity" and hidden.dim() == 3 and self.last is not None:
            rows = torch.arange(hidden.shape[0], device=hidden.device)
            pooled = rep[rows, self.last]
            out = out.index_put((rows, self.last), m.head(m.matching(pooled) @ pooled))
        return out


@torch.no_grad()
def set_epsilon_identity(linear: nn.Linear, eps: float) -> None:
    """W = ε·I, b = 0: the layer passes ε·x on, so a following tanh is linear to float precision."""
    linear.weight.copy_(torch.eye(linear.out_features, linear.in_features, dtype=torch.float64) * eps)
    if linear.bias is not None:
        linear.bias.zero_()


@torch.no_grad()
def set_linear(linear: nn.Linear, weight: torch.Tensor, bias: torch.Tensor) -> None:
    linear.weight.copy_(weight)
    if linear.bias is None:
        linear.bias = nn.Parameter(torch.zeros_like(linear.weight[:, 0]))
    linear.bias.copy_(bias)


class ClsDenseSite:
    """Where cls-dense plugs into a model, how training bypasses the pooler, and how export restores it.

    ``kind`` is ``pooler`` (BERT: ``<base>.pooler`` → ``dropout`` → ``classifier``) or ``head``
    (RoBERTa: ``classifier`` = dense → tanh → out_proj on the first token).
    """

    def __init__(self, model: nn.Module, head_name: str) -> None:
        self.head_name = head_name
        hidden = model.config.hidden_size
        prefix = getattr(model, "base_model_prefix", "")
        base = getattr(model, prefix, None) if prefix else None
        pooler = getattr(base, "pooler", None)
        parent_name = head_name.rpartition(".")[0]
        parent = model.get_submodule(parent_name) if parent_name else None
        if (head_name == "classifier" and isinstance(getattr(pooler, "dense", None), nn.Linear)
                and pooler.dense.in_features == pooler.dense.out_features == hidden
                and isinstance(getattr(model, "dropout", None), nn.Dropout)):
            self.kind, self.pooler_name, self.originals = "pooler", f"{prefix}.pooler", {
                "pooler": pooler, "dropout": model.dropout, "head": model.get_submodule(head_name)}
        elif (parent is not None and isinstance(getattr(parent, "dense", None), nn.Linear)
              and parent.dense.in_features == parent.dense.out_features == hidden):
            self.kind, self.parent_name, self.originals = "head", parent_name, {"parent": parent}
        else:
            raise unsupported(model)
        self.check(model)

    def install(self, model: nn.Module, matched: MatchedLinear) -> None:
        if self.kind == "pooler":
            set_submodule(model, self.pooler_name, ClsToken())
            set_submodule(model, "dropout", nn.Identity())
            set_submodule(model, self.head_name, matched)
        else:
            set_submodule(model, self.parent_name, ClsMatchedHead(matched))

    def restore(self, model: nn.Module, weight: torch.Tensor, bias: torch.Tensor, eps: float = EXPORT_EPS) -> None:
        """Put the stock modules back with W_p = ε·I and classifier (W/ε, b); weight/bias in float64.
        They were outside the model while it trained, so they take its current train/eval mode."""
        for module in self.originals.values():
            module.train(model.training)
        if self.kind == "pooler":
            pooler, head = self.originals["pooler"], self.originals["head"]
            set_epsilon_identity(pooler.dense, eps)
            set_submodule(model, self.pooler_name, pooler)
            set_submodule(model, "dropout", self.originals["dropout"])
            set_linear(head, weight / eps, bias)
            set_submodule(model, self.head_name, head)
        else:
            parent = self.originals["parent"]
            set_epsilon_identity(parent.dense, eps)
            set_linear(parent.get_submodule(self.head_name.rpartition(".")[2]), weight / eps, bias)
            set_submodule(model, self.parent_name, parent)

    @torch.no_grad()
    def check(self, model: nn.Module) -> None:
        """Numerically verify the ε export on this architecture (copies; the model is untouched)."""
        hidden = model.config.hidden_size
        gen = torch.Generator().manual_seed(0)
        dev, dtype = next(model.parameters()).device, next(model.parameters()).dtype
        weight = torch.randn(3, hidden, generator=gen, dtype=torch.float64) * 0.05
        bias = torch.randn(3, generator=gen, dtype=torch.float64)
        h = (torch.randn(2, 4, hidden, generator=gen) * 3).to(dev, dtype)
        expected = h[:, 0].double() @ weight.T + bias
        head = nn.Linear(hidden, 3).to(dev, dtype)
        set_linear(head, weight / EXPORT_EPS, bias)
        if self.kind == "pooler":
            pooler, dropout = copy.deepcopy(self.originals["pooler"]).eval(), copy.deepcopy(self.originals["dropout"]).eval()
            set_epsilon_identity(pooler.dense, EXPORT_EPS)
            got = head(dropout(pooler(h)))
        else:
            parent = copy.deepcopy(self.originals["parent"]).eval()
            set_epsilon_identity(parent.dense, EXPORT_EPS)
            set_submodule(parent, self.head_name.rpartition(".")[2], head)
            got = parent(h)
        if not torch.allclose(got.double(), expected, atol=1e-4, rtol=1e-4):
            raise unsupported(model)


def unsupported(model: nn.Module) -> RBMError:
    return RBMError(f"match-tuning: --representation cls-dense supports BERT-style poolers and RoBERTa-style "
                    f"heads (dense → tanh); {type(model).__name__} has neither — use --representation pooled-dense")


_TEMPERATURE = Param("temperature", DEFAULT_TEMPERATURE, float, "softmax temperature T of the matching matrix",
                     check=lambda t: t > 0, expected="> 0")
_REPRESENTATION = Param("representation", "cls-dense", str,
                        "what dense() sees: the raw [CLS] hidden state (authors' code) or the classifier's input",
                        choices=REPRESENTATIONS)
_DENSE_INIT = Param("dense_init", "normal", str,
                    "initialisation of the new dense layer: the encoder's N(0, initializer_range) or torch's "
                    "nn.Linear default (the authors' code)", choices=DENSE_INITS)
_ABLATION_MASK = Param("ablation_mask", "post-softmax", str,
                       "label mask on M after the softmax (paper) or on its logits before it", choices=ABLATION_MASKS)


class MatchTuning(Method):
    name = "match-tuning"
    replaces_head = True
    summary = "in-batch matching z = softmax(rep·repᵀ/T)·rep before the classifier (training only)"
    params = (_TEMPERATURE, _REPRESENTATION, _DENSE_INIT)
    mode = "full"

    def __init__(self, **hparams) -> None:
        super().__init__(**hparams)
        self.module: MatchedLinear | None = None
        self.site: ClsDenseSite | None = None
        self.last_token: LastTokenHead | None = None
        self.decoder = False
        self.pad_token_id: int | None = None
        self.head_name = ""
        self._warned = False

    def check_task(self, task) -> None:
        super().check_task(task)
        if self.mode in ("positive", "negative") and task.is_regression:
            raise RBMError(f"method {self.name} masks by label and needs a classification task; {task.name} is regression")

    def setup(self, ctx) -> None:
        model = ctx.model
        self.head_name = find_head_linear(model)
        head = model.get_submodule(self.head_name)
        self.decoder = is_decoder_head(model)
        if self.decoder:  # every representation is the last non-pad hidden state there (the score layer's input)
            log.info("match-tuning: %s is a causal decoder: the representation is the last non-pad token's hidden "
                     "state through dense (the decoder analogue of [CLS] + dense; an extension of the paper)",
                     type(model).__name__)
            self.pad_token_id = model.config.pad_token_id
        elif self.hparams["representation"] == "cls-dense":
            self.site = ClsDenseSite(model, self.head_name)
        hidden = head.in_features
        dense = nn.Linear(hidden, hidden, bias=head.bias is not None or not self.decoder, device=head.weight.device,
                          dtype=head.weight.dtype)  # a bias-free score keeps a bias-free dense: it folds into it
        if self.hparams.get("dense_init", "normal") == "normal":
            with torch.no_grad():  # the model's own initialisation, as for any new head layer
                dense.weight.normal_(0.0, getattr(model.config, "initializer_range", 0.02))
                if dense.bias is not None:
                    dense.bias.zero_()
        self.module = MatchedLinear(head, dense, self.hparams.get("temperature", 1.0), self.mode,
                                    self.hparams.get("ablation_mask", "post-softmax"))
        if self.site is not None:
            self.site.install(model, self.module)
        elif self.decoder:
            self.last_token = LastTokenHead(self.module)
            set_submodule(model, self.head_name, self.last_token)
        else:
            set_submodule(model, self.head_name, self.module)

    def on_batch(self, batch) -> None:
        assert self.module is not None
        self.module.labels = batch.get("labels")
        self.module.stats = None
        if getattr(self, "last_token", None) is not None:
            if batch.get("input_ids") is None:
                raise RBMError(f"{self.name} on a decoder needs input_ids in the batch (it finds the pooled, last "
                               f"non-pad token from them); it does not compose with embedding-space methods there")
            self.last_token.last = last_non_pad(batch["input_ids"], self.pad_token_id)

    def step_metrics(self) -> dict[str, float]:
        stats = self.module.stats if self.module is not None else None
        if not stats:
            return {}
        out = {k: float(v) for k, v in stats.items()}
        n = int(self.module.labels.numel()) if self.module.labels is not None else 0
        diagonal_kept = not (self.mode == "negative" and self.module.ablation_mask == "post-softmax")
        if not self._warned and n > 1 and diagonal_kept:
            self._warned = True
            if out["m_self"] < 1.5 / n:
                advice = (f"the SST-2 sweep chose T={DEFAULT_TEMPERATURE:g} for cls-dense "
                          "(results/match_tuning_temperature_sweep.md)")
                if self.hparams["representation"] == "pooled-dense":
                    advice = "use --representation cls-dense, or a much lower --temperature; " + advice
                else:
                    advice = "try a lower --temperature; " + advice
                log.warning("match-tuning: M starts near uniform (mean self mass %.3f, 1/batch = %.3f): T=%g is "
                            "too high for these representations and training may collapse to the majority class; %s",
                            out["m_self"], 1 / n, self.hparams["temperature"], advice)
        return out

    def save_extra(self, folder) -> None:
        if self.module is None:
            return
        from pathlib import Path

        from safetensors.torch import save_file

        tensors = {f"{part}.{name}": getattr(self.module, part).state_dict()[name].detach().float().cpu().contiguous()
                   for part in ("dense", "head") for name in ("weight", "bias")
                   if name in getattr(self.module, part).state_dict()}
        save_file(tensors, str(Path(folder) / HEAD_FILE),
                  metadata={"temperature": repr(float(self.module.temperature)), "mode": self.module.mode,
                            "representation": self.hparams["representation"], "method": self.name})

    def export(self, model):
        if self.module is None:
            return model
        if self.site is not None:
            if self.module in list(model.modules()):
                self.site.restore(model, *self.module.folded64())
        elif isinstance(model.get_submodule(self.head_name), (MatchedLinear, LastTokenHead)):
            set_submodule(model, self.head_name, self.module.folded())
        return model


class MatchTuningPositive(MatchTuning):
    name = "match-tuning-positive"
    summary = "ablation (Table 7): M ← A⊙M, only self + same-label instances mix (mask after the softmax)"
    params = (_TEMPERATURE, _REPRESENTATION, _DENSE_INIT, _ABLATION_MASK)
    mode = "positive"


class MatchTuningNegative(MatchTuning):
    name = "match-tuning-negative"
    summary = "ablation (Table 7): M ← (1−A)⊙M, only other-label instances, self dropped (mask after the softmax)"
    params = (_TEMPERATURE, _REPRESENTATION, _DENSE_INIT, _ABLATION_MASK)
    mode = "negative"


class DenseHead(MatchTuning):
    """The control for Match-Tuning's head (issue 21): the same dense layer on the same representation,
    the same initialisation and the same export, with M = I — everything Match-Tuning does except the
    matching. Match-Tuning minus this row is what the in-batch matching itself adds."""

    name = "dense-head"
    summary = "control: Match-Tuning's dense layer on the raw [CLS] state with M = I (no in-batch matching)"
    params = (_REPRESENTATION, _DENSE_INIT)
    mode = "identity"
