"""One training loop for every method; methods act through the hooks of ``methods/base.py``.

Why this shape: the baselines differ only in a few places (a module in front of the classifier,
an extra loss term, a gradient mask, a post-step correction), so the loop, data order, schedule,
precision, logging and export are shared and a method cannot silently change any of them.
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F

from .._version import __version__
from ..progress import Progress
from ..card import CARD_FILE, write_card
from ..checkpoints import check_no_remote_code, looks_local
from ..conditions.base import training_pool
from ..data import Examples, load_train
from ..errors import RBMError
from ..inference import (autocast_context, check_max_length, ensure_padding, is_decoder_head, last_non_pad,
                         resolve_device, resolve_precision, tokenize)
from ..models import describe_base_model, resolve_base_model
from ..tasks import TaskSpec, get_task
from .config import TrainConfig
from .methods import build_method
from .modeling import set_dropout, snapshot

log = logging.getLogger(__name__)

LOG_FILE = "training_log.jsonl"
MEGABATCH = 50  # batches per length-sorted chunk (as in HF's group_by_length)


# -- data ------------------------------------------------------------------------------------------
def epoch_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                  group_by_length: bool) -> list[np.ndarray]:
    """One epoch's batches from a seeded shuffle. Default: consecutive slices (random batches, as HF
    Trainer). ``group_by_length``: within chunks of 50 batches similar lengths share a batch (≈2× less
    padding), and the batch order is shuffled again so lengths are not ordered."""
    order = rng.permutation(len(lengths))
    if not group_by_length:
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    batches: list[np.ndarray] = []
    chunk = batch_size * MEGABATCH
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(-lengths[part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass
class Encoded:
    """The training set tokenized once, unpadded."""

    features: list[dict[str, list[int]]]
    labels: torch.Tensor
    lengths: np.ndarray
    extra: dict[str, list] = field(default_factory=dict)

    @classmethod
    def build(cls, examples: Examples, tokenizer, max_length: int) -> "Encoded":
        enc = tokenize(tokenizer, examples.text_a, examples.text_b, max_length)
        keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
        features = [{k: enc[k][i] for k in keys} for i in range(len(examples))]
        dtype = torch.float32 if examples.task.is_regression else torch.long
        return cls(features, torch.as_tensor(np.asarray(examples.labels), dtype=dtype),
                   np.asarray([len(f["input_ids"]) for f in features]), dict(examples.extra))

    def collate(self, tokenizer, positions: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
        batch = tokenizer.pad([self.features[i] for i in positions], padding="longest", return_tensors="pt")
        out = {k: v.to(device) for k, v in batch.items()}
        out["labels"] = self.labels[positions].to(device)
        if "group" in self.extra:
            out["group"] = torch.as_tensor([self.extra["group"][i] for i in positions], device=device)
        if "weight" in self.extra:  # adversarial rows' loss weight (adv-train's alpha)
            out["weight"] = torch.as_tensor([self.extra["weight"][i] for i in positions], dtype=torch.float32,
                                            device=device)
        return out

    def extended(self, tokenizer, rows: list[dict], max_length: int, weight: float) -> "Encoded":
        """This set plus ``rows`` ({position, label, text_a[, text_b]}: new texts of existing rows), each new row
        with loss weight ``weight`` and its source row's extra columns (group ids), the originals weight 1."""
        text_b = [r["text_b"] for r in rows] if rows and "text_b" in rows[0] else None
        enc = tokenize(tokenizer, [r["text_a"] for r in rows], text_b, max_length)
        keys = list(self.features[0]) if self.features else list(enc.keys())
        new = [{k: enc[k][i] for k in keys} for i in range(len(rows))]
        labels = torch.as_tensor([r["label"] for r in rows], dtype=self.labels.dtype)
        extra = {k: list(v) + [v[r["position"]] for r in rows] for k, v in self.extra.items() if k != "weight"}
        extra["weight"] = list(self.extra.get("weight", [1.0] * len(self.features))) + [float(weight)] * len(rows)
        return Encoded(self.features + new, torch.cat([self.labels, labels]),
                       np.concatenate([self.lengths, np.asarray([len(f["input_ids"]) for f in new], dtype=self.lengths.dtype)]),
                       extra)


# -- context passed to the method hooks ------------------------------------------------------------
@dataclass
class TrainContext:
    """What hooks may use: the model, its starting weights, the data, the forward and the step."""

    model: torch.nn.Module
    tokenizer: Any
    task: TaskSpec
    data: Encoded
    device: torch.device
    precision: str
    config: TrainConfig
    pretrained_names: set[str]
    total_steps: int = 0  # optimizer steps of the run (known before setup)
    wrapped: Optional[torch.nn.Module] = None  # DDP wrapper when distributed
    optimizer: Optional[torch.optim.Optimizer] = None
    step: int = 0
    _pretrained: Optional[dict[str, torch.Tensor]] = None

    @property
    def pretrained(self) -> dict[str, torch.Tensor]:
        """Starting values of the parameters loaded from the base model (not the fresh head)."""
        if self._pretrained is None:
            if self.step > 0:
                raise RuntimeError("ctx.pretrained must be first read in setup(), before training")
            self._pretrained = snapshot(self.model, self.pretrained_names)
        return self._pretrained

    def forward(self, batch: dict[str, torch.Tensor], inputs_embeds: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits of the (possibly method-modified) model, under the run's autocast."""
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "token_type_ids", "attention_mask")}
        if inputs_embeds is not None and is_decoder_head(self.model):
            return self._decoder_forward(batch, inputs_embeds)
        if inputs_embeds is not None:
            inputs.pop("input_ids")
            inputs["inputs_embeds"] = inputs_embeds
        with autocast_context(self.device, self.precision):
            return (self.wrapped or self.model)(**inputs).logits

    def _decoder_forward(self, batch: dict[str, torch.Tensor], inputs_embeds: torch.Tensor) -> torch.Tensor:
        """A decoder classifier on perturbed embeddings (FreeLB, SMART, R3F): given ``inputs_embeds`` a transformers
        decoder head cannot find the padding and pools the last position — a pad token for every shorter row of
        the batch. So the body and the ``score`` layer run here and the pooled token is found from the batch's
        ``input_ids`` by the head's own rule, exactly as the model does without perturbation."""
        model = self.model
        score = getattr(model, "score", None)
        if self.wrapped is not None or score is None:
            raise RBMError(f"an embedding-space method on {type(model).__name__}: supported on a single process with a "
                           f"`score` head (Llama, Qwen2, Mistral, GPT-2 classifiers); use vanilla or lora here")
        body = getattr(model, model.base_model_prefix)
        with autocast_context(self.device, self.precision):
            extra = {k: batch[k] for k in ("attention_mask", "token_type_ids") if k in batch}  # GPT-2 embeds token types
            hidden = body(inputs_embeds=inputs_embeds, **extra).last_hidden_state
            logits = score(hidden)
        rows = torch.arange(logits.shape[0], device=logits.device)
        return logits[rows, last_non_pad(batch["input_ids"], model.config.pad_token_id)]

    def per_example_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.task.is_regression:
            return F.mse_loss(logits.float().squeeze(-1), labels, reduction="none")
        return F.cross_entropy(logits.float(), labels, reduction="none")

    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.data.lengths) / self.config.batch_size)

    def batches(self, rng: np.random.Generator) -> Iterator[dict[str, torch.Tensor]]:
        """One epoch of training batches in the run's order (used by ChildTuning-D's Fisher pass)."""
        for positions in epoch_batches(self.data.lengths, self.config.batch_size, rng, self.config.group_by_length):
            yield self.data.collate(self.tokenizer, positions, self.device)


# -- the run ---------------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_model(cfg: TrainConfig, task: TaskSpec, device: torch.device):
    """Tokenizer and a sequence classifier with the task's label names; fresh head seeded by cfg.seed."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = resolve_base_model(cfg.model)
    if cfg.model and not Path(base).exists() and looks_local(base):
        raise RBMError(f"--model {cfg.model}: no such folder (expected a model folder or a hub id)")
    labels = {} if task.is_regression else {
        "id2label": dict(enumerate(task.label_names)), "label2id": {n: i for i, n in enumerate(task.label_names)}}
    if Path(base).is_dir():
        check_no_remote_code(Path(base), f"--model {cfg.model or base}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=False)
        model, info = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=task.num_labels, output_loading_info=True, trust_remote_code=False,
            problem_type="regression" if task.is_regression else "single_label_classification", **labels)
    except Exception as exc:  # noqa: BLE001 - safetensors, tokenizers and torch raise their own types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RBMError(f"base model {base}: cannot load as a sequence classifier ({first})") from None
    check_max_length(cfg.max_length, getattr(model.config, "max_position_embeddings", None), f"base model {base}")
    padding = ensure_padding(model, tokenizer, f"base model {base}")  # saved with the export: scored the same way
    if padding:
        log.info("base model %s: %s", base, padding)
    fresh = set(info.get("missing_keys", ()))
    pretrained = {n for n, _ in model.named_parameters() if n not in fresh}
    return tokenizer, model.to(device), base, pretrained


def distributed() -> tuple[int, int]:
    """(rank, world size) under torchrun / accelerate launch; (0, 1) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def make_optimizer(params: list[torch.nn.Parameter], cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW; the fused kernel (≈5× faster step on CPU) where this torch has it for the device."""
    kwargs = dict(lr=cfg.lr, weight_decay=cfg.weight_decay, eps=cfg.adam_eps)
    try:
        return torch.optim.AdamW(params, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, **kwargs)


def linear_schedule(optimizer: torch.optim.Optimizer, total: int, warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def prepare_output(output: str, overwrite: bool) -> tuple[Path, Path]:
    """The checkpoint folder and the temporary folder the run trains into.

    ``--overwrite`` replaces only a checkpoint folder that ``rbm train`` wrote (it has ``rbm_card.json``):
    anything else at ``--output`` (a result folder, the data, a plain file) is never deleted.
    """
    out = Path(output).expanduser()
    if out.is_symlink() or out.exists():
        if not out.is_dir():
            raise RBMError(f"--output {out}: is a file, not a folder (expected a new checkpoint folder)")
        if any(out.iterdir()):
            if not overwrite:
                raise RBMError(f"--output {out}: already exists and is not empty (pass --overwrite to replace "
                               f"a checkpoint written by rbm train, or choose a new folder)")
            if not is_our_checkpoint(out):
                raise RBMError(f"--output {out}: --overwrite replaces only a checkpoint folder written by rbm train "
                               f"(with {CARD_FILE}); this folder is not one, so nothing was deleted (choose a new "
                               f"--output)")
    parent = out.parent
    probe = parent / f".{out.name}.write-test-{os.getpid()}"
    try:  # find out now, not after training, that the checkpoint cannot be written
        parent.mkdir(parents=True, exist_ok=True)
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise RBMError(f"--output {out}: cannot write into {parent} ({exc.strerror or exc})") from None
    tmp = out.parent / f"{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    for stale in out.parent.glob(f"{out.name}.tmp-*") if out.parent.is_dir() else ():
        if not _pid_alive(stale.name.rsplit("-", 1)[-1]):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
    return out, tmp


def is_our_checkpoint(folder: Path) -> bool:
    """A folder ``rbm train`` wrote: its card is a JSON object naming the method and the task."""
    try:
        card = json.loads((folder / CARD_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(card, dict) and "method" in card and "task" in card and not (folder / "results.jsonl").exists()


def _pid_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def publish(tmp: Path, out: Path) -> None:
    """Atomically move the finished folder into place (an old one is replaced only at the end)."""
    old = None
    if out.exists():
        old = out.parent / f"{out.name}.old-{os.getpid()}"
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def train(cfg: TrainConfig, train_examples: Optional[Examples] = None) -> str:
    """Fine-tune ``cfg.model`` on the task with ``cfg.method``; returns the checkpoint folder.

    Nothing appears at ``cfg.output`` unless the run finishes: it trains into ``OUTPUT.tmp-<pid>``.
    """
    cfg.validate()
    from ..trackers import parse_log_to

    parse_log_to(cfg.log_to)  # a tracker that is not installed: one line, before anything runs
    task = get_task(cfg.task)
    method = build_method(cfg.method, cfg.method_args)
    method.configure_run(cfg)
    method.check_task(task)
    examples = train_examples if train_examples is not None else load_train(task, cfg.data_dir)
    if examples.task.name != task.name:
        raise RBMError(f"train_examples are for task {examples.task.name}, the config says {task.name}")
    if cfg.max_train_examples is not None and len(examples) > cfg.max_train_examples:
        # a seeded sample (not the first rows), the same for every method and seed: they compare
        examples = training_pool(examples, cfg.max_train_examples)
    if len(examples) == 0:
        raise RBMError(f"task {task.name}: no training examples")
    method.check_data(examples)  # bad method settings: one line, before any folder exists
    rank, world = distributed()
    out, tmp = prepare_output(cfg.output, cfg.overwrite)
    given = examples
    examples = method.prepare_data(examples)
    try:
        if rank == 0:
            tmp.mkdir(parents=True)
        card = _run(cfg, task, method, examples, tmp, rank, world, given)
        if rank == 0:
            write_card(tmp, card)
            publish(tmp, out)
    except OSError as exc:  # a full disk or a vanished folder while writing the checkpoint: one line
        shutil.rmtree(tmp, ignore_errors=True)
        raise RBMError(f"--output {out}: cannot write the trained checkpoint ({exc.strerror or exc}"
                       f"{': ' + str(exc.filename) if getattr(exc, 'filename', None) else ''}); nothing was "
                       f"written there — free space and rerun") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(out)


def _run(cfg: TrainConfig, task: TaskSpec, method, examples: Examples, tmp: Path, rank: int, world: int,
         given: Optional[Examples] = None) -> dict:
    device = resolve_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    precision = resolve_precision(device, cfg.precision)
    seed_everything(cfg.seed)
    tokenizer, model, base, pretrained_names = load_model(cfg, task, device)
    if cfg.dropout is not None:
        set_dropout(model, cfg.dropout)
    data = Encoded.build(examples, tokenizer, cfg.max_length)
    per_epoch = math.ceil(len(examples) / cfg.batch_size)
    per_epoch_rank = max(1, per_epoch // world)
    planned = method.planned_steps(len(examples), cfg.batch_size * world, cfg)
    total = cfg.max_steps or planned or max(1, math.ceil(cfg.epochs * per_epoch_rank))
    epoch_limit = method.epochs_of(cfg)  # adv-train counts whole epochs (its epochs differ in length)
    ctx = TrainContext(model, tokenizer, task, data, device, precision, cfg, pretrained_names, total_steps=total)
    rng = np.random.default_rng(cfg.seed)
    t0 = time.perf_counter()
    method.setup(ctx)
    setup_time = time.perf_counter() - t0
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ctx.wrapped = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                              find_unused_parameters=True)

    params = [p for p in model.parameters() if p.requires_grad]
    ctx.optimizer = optimizer = make_optimizer(params, cfg, device)
    scheduler = linear_schedule(optimizer, total, math.ceil(cfg.warmup_ratio * total))
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    model.train()
    trackers = _trackers(cfg, method, task) if rank == 0 else None
    records: list[dict] = []
    losses: list[float] = []
    epoch_times: list[float] = []  # complete epochs only: a cut epoch is never projected to a full one
    epoch_cpu: list[float] = []  # process CPU time: robust to other load on a shared CPU machine
    partial: Optional[dict] = None
    epoch = 0
    progress = Progress(total, f"train {method.name} on {task.name}", enabled=rank == 0, logger=log)
    try:
        while ctx.step < total and (epoch_limit is None or epoch < epoch_limit):
            start, cpu_start, done = time.perf_counter(), time.process_time(), 0  # an epoch's cost includes its attack
            epoch_set = method.epoch_data(ctx, epoch) or data
            batches = epoch_batches(epoch_set.lengths, cfg.batch_size, rng, cfg.group_by_length)
            batches = batches[rank:max(1, len(batches) // world) * world:world]
            for positions in batches:
                if ctx.step >= total:
                    break
                batch = epoch_set.collate(tokenizer, positions, device)
                loss, lr, metrics = _step(ctx, method, batch, optimizer, scheduler, scaler)
                done += 1
                losses.append(loss)
                if ctx.step % cfg.log_every == 0 or ctx.step == total:
                    records.append({"step": ctx.step, "epoch": epoch + done / len(batches), "loss": loss,
                                    "lr": lr, **metrics})
                    if trackers:
                        trackers.log_metrics({f"train/{k}": v for k, v in records[-1].items() if k != "step"},
                                             step=ctx.step)
                progress.update(1, extra=f"loss {loss:.4f}", loss=f"{loss:.4f}")
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            last = records[-1]["loss"] if records else float("nan")
            if done == len(batches):
                epoch_times.append(wall)
                epoch_cpu.append(cpu)
                log.info("epoch %d: %d steps, loss %.4f, %.1f s", epoch + 1, done, last, wall)
            else:  # --max-steps cut the epoch: report what was measured, never a projection
                partial = {"steps": done, "of": len(batches), "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3)}
                log.info("epoch %d (partial, cut by --max-steps): %d of %d steps, loss %.4f, %.1f s", epoch + 1,
                         done, len(batches), last, wall)
            epoch += 1
    finally:
        progress.close()

    diverged = divergence(losses)
    if diverged:
        log.warning("method %s: the training loss rose from %.4g (mean of the first %d steps) to %.4g (mean of the "
                    "last %d); the run probably diverged — lower --lr or check the method's hyperparameters before "
                    "trusting this checkpoint", method.name, diverged["first"], diverged["window"], diverged["last"],
                    diverged["window"])
    if rank == 0:
        _save(ctx, method, tmp, records)
    card = _card(cfg, task, method, examples, base, precision, device, world, total, setup_time, epoch_times, records,
                 epoch_cpu, partial, diverged)
    if ctx.step != total:  # adv-train: fewer adversarial rows than the schedule was planned for
        card["steps"], card["planned_steps"] = ctx.step, total
    if given is not None:  # the set the user gave (the runner checks it); the card says how the method changed it
        card["train_data_sha256"] = given.sha256
        card["n_train_given"] = len(given)
    card["seen_in_training"] = method.seen_in_training() or None
    card.update(method.card_extra())
    if trackers:  # the finished card, with the method's own fields (adv-train's attack epochs)
        for e in (card.get("adversarial_training") or {}).get("epochs") or []:
            trackers.log_metrics({f"adv_train/{k}": e[k] for k in ("attacked", "successful", "failed", "skipped",
                                                                   "added", "seconds")}, step=e["step"])
        trackers.log_text("rbm_card.json", json.dumps(card, indent=1, default=str))
        trackers.finish()
    return card


def _trackers(cfg: TrainConfig, method, task: TaskSpec):
    """The run's experiment trackers (``--log-to``), or None."""
    from ..trackers import Trackers, parse_log_to

    names = parse_log_to(cfg.log_to)
    if not names:
        return None
    config = {"method": method.name, "task": task.name, "seed": cfg.seed, "model": cfg.model or "packaged MiniLM-L6",
              **cfg.trainer_hyperparameters(), **method.describe()}
    return Trackers(names, "robustbench-match-train", f"{task.name}-{method.name}-seed{cfg.seed}", config, cfg.log_dir)


#: the loss is called diverged when the mean of its last steps is both this many times and this much
#: (absolute) above the mean of its first steps
DIVERGENCE_FACTOR = 2.0
DIVERGENCE_MARGIN = 0.5


def divergence(losses: list[float]) -> Optional[dict]:
    """{first, last, window} when the training loss ended clearly above where it started, else None."""
    window = max(1, min(20, len(losses) // 5))
    if len(losses) < 2 * window or len(losses) < 4:
        return None
    first, last = float(np.mean(losses[:window])), float(np.mean(losses[-window:]))
    if last > DIVERGENCE_FACTOR * first and last - first > DIVERGENCE_MARGIN:
        return {"first": first, "last": last, "window": window}
    return None


def _step(ctx: TrainContext, method, batch, optimizer, scheduler, scaler) -> tuple[float, float, dict]:
    lr = scheduler.get_last_lr()[0]
    method.on_batch(batch)

    def loss_of(logits: torch.Tensor) -> torch.Tensor:
        """The method's training loss for one forward pass' logits (reduction, extra terms, penalty)."""
        per_example = ctx.per_example_loss(logits, batch["labels"])
        if "weight" in batch:  # adv-train: adversarial rows weighted by alpha, then the batch mean (as TextAttack)
            per_example = per_example * batch["weight"]
        loss = method.reduce_loss(per_example, batch)
        for term in (method.extra_loss(ctx, batch, logits), method.penalty(ctx)):
            if term is not None:
                loss = loss + term
        return loss

    def backward(loss: torch.Tensor) -> None:
        (scaler.scale(loss) if scaler is not None else loss).backward()

    optimizer.zero_grad(set_to_none=True)
    own = getattr(method, "forward_backward", None)
    if own is not None:  # FreeLB: K forward/backward passes of its own, gradients accumulated
        value = float(own(ctx, batch, loss_of, backward))
    else:
        loss = loss_of(ctx.forward(batch))
        value = float(loss.detach())
        if math.isfinite(value):
            backward(loss)
    if not math.isfinite(value):
        raise RBMError(f"method {method.name}: the training loss became {value} at step {ctx.step + 1} "
                       f"(lr {scheduler.get_last_lr()[0]:.3g}); no checkpoint was written — lower --lr or "
                       f"check the method's hyperparameters")
    if scaler is not None:
        scaler.unscale_(optimizer)
    params = [p for p in ctx.model.parameters() if p.grad is not None]
    if ctx.config.max_grad_norm:
        torch.nn.utils.clip_grad_norm_(params, ctx.config.max_grad_norm)
    method.before_optimizer_step(ctx)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    ctx.step += 1
    method.after_optimizer_step(ctx)
    scheduler.step()
    return value, lr, method.step_metrics()


def name_base_portably(adapter_config: Path, model: Optional[str]) -> None:
    """peft writes the base's local folder into ``base_model_name_or_path`` (for the packaged MiniLM, a path
    inside this machine's site-packages); name the hub id it stands for instead, so stock peft loads the
    adapter anywhere (rbm maps the id back to the packaged copy offline)."""
    from ..models import portable_base

    cfg = json.loads(adapter_config.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = portable_base(model)
    adapter_config.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _save(ctx: TrainContext, method, tmp: Path, records: list[dict]) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    method.save_extra(tmp)  # before export, which may fold the method's layers into the model's own
    model = method.export(ctx.model)
    model.eval()
    check_finite_weights(model, f"method {method.name}: after step {ctx.step}")
    for holder in (model.config, getattr(ctx.tokenizer, "init_kwargs", {})):  # never point an export at code
        if isinstance(holder, dict):
            holder.pop("auto_map", None)
        elif getattr(holder, "auto_map", None) is not None:
            del holder.auto_map
    model.save_pretrained(tmp, safe_serialization=True)
    if (tmp / "adapter_config.json").is_file():  # an adapter export: its labels beside it (peft saves none)
        model.get_base_model().config.save_pretrained(tmp)
        name_base_portably(tmp / "adapter_config.json", ctx.config.model)
    ctx.tokenizer.save_pretrained(tmp)
    with open(tmp / LOG_FILE, "w") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    share_like_umask(tmp)


def share_like_umask(folder: Path) -> None:
    """Give the exported files the mode the umask gives any new file (safetensors writes 0600, which hides a
    checkpoint from the group on a shared cluster)."""
    mask = os.umask(0)
    os.umask(mask)
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o666 & ~mask)


def check_finite_weights(model: torch.nn.Module, where: str) -> None:
    """Refuse to write a checkpoint whose weights hold inf/NaN: it would score as a constant predictor."""
    bad = [name for name, tensor in model.state_dict().items()
           if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if bad:
        raise RBMError(f"{where}: {len(bad)} weight tensor(s) are not finite (inf/NaN), e.g. {bad[0]}; no checkpoint "
                       f"was written — lower --lr or check the method's hyperparameters")


def _card(cfg, task, method, examples, base, precision, device, world, total, setup_time, epoch_times, records,
          epoch_cpu, partial=None, diverged=None) -> dict:
    hyper = cfg.trainer_hyperparameters()
    hyper.update(method.describe())
    hyper["precision"] = precision
    return {
        "task": task.name,
        "task_file": task.source,
        "task_sha256": task.sha256,
        "method": method.name,
        "hyperparameters": hyper,
        "seed": cfg.seed,
        "base_model": describe_base_model(cfg.model, base),
        "train_data_sha256": examples.sha256,
        "train_data_source": examples.source,
        "n_train": len(examples),
        "condition": cfg.condition,
        "steps": total,
        "setup_time_s": round(setup_time, 3),
        "train_time_per_epoch_s": round(float(np.mean(epoch_times)), 3) if epoch_times else None,
        "epoch_times_s": [round(t, 3) for t in epoch_times],
        "cpu_time_per_epoch_s": round(float(np.mean(epoch_cpu)), 3) if epoch_cpu else None,
        "epoch_cpu_s": [round(t, 3) for t in epoch_cpu],
        "partial_epoch": partial,  # measured steps of an epoch cut by --max-steps (not projected)
        "loss_diverged": diverged,
        "final_loss": records[-1]["loss"] if records else None,
        "log_file": LOG_FILE,
        "device": str(device) if world == 1 else f"{device.type} x{world}",
        "package_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
