"""The method interface: hooks on one training loop, so methods compose instead of copying it.

Hook order in one step (see ``trainer.py``)::

    setup(ctx)                         once, after the model is loaded (wrap / freeze / Fisher ...)
    on_batch(batch)                    labels for in-batch matching
    logits = ctx.forward(batch)        the model's forward (modules replaced in setup act here)
    loss   = reduce_loss(per_example)  mean, or GroupDRO's weighted group loss
           + extra_loss(ctx, batch, logits)   R3F's symmetric KL
           + penalty(ctx)              distance to the pretrained weights
    backward; clip
    before_optimizer_step(ctx)                ChildTuning masks, right before the optimizer step
    optimizer.step(); after_optimizer_step(ctx)   RecAdam's annealed pull
    step_metrics()                     logged with the loss (Match-Tuning's M masses)
    export(model)                      fold / unwrap to a plain transformers model
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Optional

from ...errors import RBMError


@dataclass(frozen=True)
class Param:
    """One method hyperparameter: its CLI flag is ``--name`` with ``_`` → ``-``."""

    name: str
    default: Any
    type: Callable[[str], Any]
    help: str
    check: Optional[Callable[[Any], bool]] = None
    expected: str = ""
    choices: Optional[tuple] = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def validate(self, method: str, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, str) and self.type is not str:  # a suite's method_args or the API: "1e-3", "true"
            try:
                value = self.type(value)
            except (TypeError, ValueError):
                raise RBMError(f"method {method}: {self.flag} {value!r}: expected {self.expected or 'a ' + self.type.__name__}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise RBMError(f"method {method}: {self.flag} must be a finite number (got {value!r})")
        if self.choices is not None and value not in self.choices:
            raise RBMError(f"method {method}: {self.flag} must be one of {list(self.choices)} (got {value!r})")
        if self.check is not None and not self.check(value):
            raise RBMError(f"method {method}: {self.flag} must be {self.expected} (got {value!r})")
        return value


def prob_open_closed(x: float) -> bool:
    return 0 < x <= 1


#: the largest per-coordinate noise scale (R3F's ε, SMART's σ) a method accepts: token embeddings have
#: coordinates of about ±0.05 (MiniLM, BERT) and the LayerNorm'd embedding output unit scale, so noise wider
#: than 1 is no longer a small perturbation — ``--noise-var 1e30`` is a typo, refused in one line
MAX_NOISE_SCALE = 1.0
#: the largest per-example L2 norm (FreeLB's init magnitude, bound and step): a 64-token sentence's whole
#: word-embedding matrix has an L2 norm of about 9 in MiniLM/BERT (≈ 1.1 per token)
MAX_PERTURBATION_NORM = 10.0


class Method:
    """Base class: every hook is a no-op, so vanilla fine-tuning is ``Method`` itself."""

    name: ClassVar[str] = "base"
    summary: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    classification_only: ClassVar[bool] = False
    overrides_reduce: ClassVar[bool] = False
    #: order of ``setup`` in a composition (stable): 0 changes the model, 1 wraps it (LoRA), 2 copies it (SMART)
    setup_order: ClassVar[int] = 0
    #: replaces the classification head (Match-Tuning and its variants): two such methods cannot compose
    replaces_head: ClassVar[bool] = False
    #: methods this one cannot be composed with, and why (one line each)
    excludes: ClassVar[dict[str, str]] = {}

    def __init__(self, **hparams: Any) -> None:
        known = {p.name: p for p in self.params}
        unknown = sorted(set(hparams) - set(known))
        if unknown:
            flags = ", ".join("--" + u.replace("_", "-") for u in unknown)
            raise RBMError(f"method {self.name}: unknown hyperparameter(s) {flags} "
                           f"(it takes: {', '.join(p.flag for p in self.params) or 'none'})")
        self.hparams = {p.name: p.validate(self.name, hparams.get(p.name, p.default)) for p in self.params}

    # -- hooks -------------------------------------------------------------------------------
    def configure_run(self, cfg) -> None:
        """The run's TrainConfig (seed, data folder), before anything else: augmentation and attacks need them."""
        self.run_config = cfg

    def check_data(self, examples) -> None:
        """Cheap checks of the method's settings against the training set (sizes, fields, offline resources), run
        before any folder is created: a bad setting is one line and nothing is written."""

    def planned_steps(self, n_train: int, batch_size: int, cfg) -> Optional[int]:
        """Optimizer steps to plan the schedule for, when the method changes the set between epochs (adv-train)."""
        return None

    def epochs_of(self, cfg) -> Optional[int]:
        """Whole epochs to run when the method counts epochs rather than steps (adv-train); None: by steps."""
        return None

    def epoch_data(self, ctx, epoch: int):
        """The encoded set epoch ``epoch`` (from 0) trains on, or None for the training set itself."""
        return None

    def card_extra(self) -> dict[str, Any]:
        """Fields the method adds to the checkpoint card (the augmentation, the attack epochs)."""
        return {}

    def seen_in_training(self) -> dict[str, list[str]]:
        """Perturbation families and attacks whose edits the method trained on (tables mark those columns)."""
        return {}

    def check_task(self, task) -> None:
        if self.classification_only and task.is_regression:
            raise RBMError(f"method {self.name} is for classification tasks only; {task.name} is a regression task")

    def prepare_data(self, examples):
        """Check (and possibly extend, as a copy) the training examples before anything is trained."""
        return examples

    def setup(self, ctx) -> None:
        """Modify the freshly loaded model (ctx.model); ctx.pretrained holds the starting weights."""

    def on_batch(self, batch) -> None:
        """Called before the forward pass of each training batch."""

    def reduce_loss(self, per_example, batch):
        return per_example.mean()

    def extra_loss(self, ctx, batch, logits):
        return None

    def penalty(self, ctx):
        return None

    def before_optimizer_step(self, ctx) -> None:
        """Edit ``p.grad`` in place after clipping, right before the optimizer step."""

    def after_optimizer_step(self, ctx) -> None:
        """Adjust parameters after the optimizer step (RecAdam)."""

    def step_metrics(self) -> dict[str, float]:
        return {}

    def export(self, model):
        """Return a model with only standard transformers modules (used for saving)."""
        return model

    def save_extra(self, folder) -> None:
        """Files beside the exported checkpoint that loading it does not need (Match-Tuning: its unfolded
        dense and classifier, so that M can be applied at inference for diagnosis)."""

    def describe(self) -> dict[str, Any]:
        return dict(self.hparams)


class Vanilla(Method):
    name = "vanilla"
    summary = "plain fine-tuning (AdamW, linear decay, 10 % warm-up)"


class Composite(Method):
    """Several methods at once (``match-tuning+r3f``): every hook runs in the order given."""

    def __init__(self, parts: list[Method]) -> None:
        reducers = [p.name for p in parts if p.overrides_reduce]
        if len(reducers) > 1:
            raise RBMError(f"methods {' and '.join(reducers)} both replace the loss reduction; combine at most one")
        heads = [p.name for p in parts if p.replaces_head]
        if len(heads) > 1:
            raise RBMError(f"methods {' and '.join(heads)} both replace the classification head; combine at most one")
        for p in parts:
            for q in parts:
                if q.name in p.excludes:
                    raise RBMError(f"methods {p.name} and {q.name} cannot be combined: {p.excludes[q.name]}")
        own = [p.name for p in parts if hasattr(p, "forward_backward")]
        if len(own) > 1:
            raise RBMError(f"methods {' and '.join(own)} both run their own forward/backward passes; combine at most one")
        self.parts = parts
        self.hparams = {k: v for p in parts for k, v in p.hparams.items()}
        self.name = "+".join(p.name for p in parts)  # type: ignore[misc]

    def check_task(self, task) -> None:
        for p in self.parts:
            p.check_task(task)

    def configure_run(self, cfg) -> None:
        self.run_config = cfg
        for p in self.parts:
            p.configure_run(cfg)

    def check_data(self, examples) -> None:
        for p in self.parts:
            p.check_data(examples)

    def _one(self, hook: str, *args):
        """The answer of the one part that gives one (two parts that both reshape epochs cannot compose)."""
        answers = [(p.name, a) for p in self.parts if (a := getattr(p, hook)(*args)) is not None]
        if len(answers) > 1:
            raise RBMError(f"methods {' and '.join(n for n, _ in answers)} both change the epochs' training data; "
                           f"combine at most one")
        return answers[0][1] if answers else None

    def planned_steps(self, n_train: int, batch_size: int, cfg) -> Optional[int]:
        return self._one("planned_steps", n_train, batch_size, cfg)

    def epochs_of(self, cfg) -> Optional[int]:
        return self._one("epochs_of", cfg)

    def epoch_data(self, ctx, epoch: int):
        return self._one("epoch_data", ctx, epoch)

    def card_extra(self) -> dict[str, Any]:
        return {k: v for p in self.parts for k, v in p.card_extra().items()}

    def seen_in_training(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for p in self.parts:
            for kind, names in p.seen_in_training().items():
                out[kind] = sorted(set(out.get(kind, [])) | set(names))
        return out

    def prepare_data(self, examples):
        for p in self.parts:
            examples = p.prepare_data(examples)
        return examples

    def setup(self, ctx) -> None:
        for p in sorted(self.parts, key=lambda p: p.setup_order):  # stable: LoRA after the rest, SMART last
            p.setup(ctx)

    def on_batch(self, batch) -> None:
        for p in self.parts:
            p.on_batch(batch)

    def reduce_loss(self, per_example, batch):
        owner = next((p for p in self.parts if p.overrides_reduce), Method())
        return owner.reduce_loss(per_example, batch)

    def extra_loss(self, ctx, batch, logits):
        return _sum(p.extra_loss(ctx, batch, logits) for p in self.parts)

    def penalty(self, ctx):
        return _sum(p.penalty(ctx) for p in self.parts)

    def before_optimizer_step(self, ctx) -> None:
        for p in self.parts:
            p.before_optimizer_step(ctx)

    def after_optimizer_step(self, ctx) -> None:
        for p in self.parts:
            p.after_optimizer_step(ctx)

    def step_metrics(self) -> dict[str, float]:
        return {k: v for p in self.parts for k, v in p.step_metrics().items()}

    def __getattr__(self, name: str):
        """``forward_backward`` (FreeLB's own K passes) from the one part that has it; the others' losses
        enter through the trainer's loss function."""
        if name == "forward_backward":
            owners = [p for p in self.__dict__.get("parts", []) if hasattr(p, "forward_backward")]
            if len(owners) > 1:
                raise RBMError(f"methods {' and '.join(p.name for p in owners)} both run their own passes; combine "
                               f"at most one")
            if owners:
                return owners[0].forward_backward
        raise AttributeError(name)

    def export(self, model):
        for p in reversed(self.parts):
            model = p.export(model)
        return model

    def save_extra(self, folder) -> None:
        for p in self.parts:
            p.save_extra(folder)

    def describe(self) -> dict[str, Any]:
        return {k: v for p in self.parts for k, v in p.describe().items()}


def _sum(terms):
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    return total
