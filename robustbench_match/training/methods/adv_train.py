"""Adversarial training with a real attack in the loop, as TextAttack's ``Trainer`` does it (Yoo & Qi 2021, A2T).

Schedule (TextAttack's, epochs counted from 1): the first ``num_clean_epochs`` epochs train on the clean set;
after them, every ``attack_epoch_interval``-th epoch starts by attacking training rows with the *current*
model and trains on the clean set plus the successful adversarial examples, whose loss is weighted by
``alpha`` (per-example weight, batch mean — TextAttack's ``training_step``). An epoch between two attack
epochs trains on the clean set alone, as in TextAttack (its adversarial set is not carried over).

Deviation (documented): ``num_train_adv_examples`` counts the rows *attacked* per attack epoch by default —
a fixed cost per epoch, which a budget comparison needs; ``--adv-count successful`` counts successes as
TextAttack does (attack shuffled rows until that many succeed or the set is exhausted). The attack runs
through rbm's fast wrapper (batches padded to their longest text, task label order), seeded per
(run seed, epoch, row) and with the global random streams restored afterwards, so the training run's own
randomness is the same whether or not an attack ran. The learning-rate schedule is planned, as TextAttack
plans it, for the clean rows plus ``num_train_adv_examples`` adversarial rows in every attack epoch.
"""
from __future__ import annotations

import logging
import math
import os
import time
import zlib
from typing import Any

import numpy as np

from ...errors import RBMError
from .base import Method, Param

log = logging.getLogger(__name__)

ADV_COUNTS = ("attacked", "successful")
#: texts per forward pass of the attacked model (TextAttack's model_batch_size: queries per call)
ATTACK_FORWARD_BATCH = 64
ATTACK_QUERY_BATCH = 128


def count_or_fraction(value: Any) -> int | float:
    """TextAttack's ``num_train_adv_examples``: -1 (every row), a whole number of rows, or a fraction in (0, 1]
    written with a point (``0.2``)."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        number = value
    else:
        text = str(value).strip()
        number = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(number, float) and number.is_integer() and number > 1:
        number = int(number)
    return number


def _valid_count(value: int | float) -> bool:
    return value == -1 or (isinstance(value, int) and value >= 1) or (isinstance(value, float) and 0 < value <= 1)


def _recipe(value: str) -> bool:
    from ...attacks.recipes import RECIPES

    return value in RECIPES


class AdvTrain(Method):
    name = "adv-train"
    summary = "adversarial training with a TextAttack recipe in the loop (TextAttack Trainer / A2T schedule)"
    classification_only = True
    params = (
        Param("attack_recipe", "deepwordbug", str, "TextAttack recipe that attacks the training rows (offline "
              "here: deepwordbug, pwws, pruthi; a2t needs its embeddings and SBERT)", check=_recipe,
              expected="a recipe of `rbm resources` (deepwordbug, pwws, pruthi, a2t, ...)"),
        Param("num_clean_epochs", 1, int, "epochs trained on the clean set before the first attack (TextAttack: 1)",
              check=lambda v: v >= 0, expected=">= 0"),
        Param("attack_epoch_interval", 1, int, "attack again every N epochs after the clean ones (TextAttack: 1)",
              check=lambda v: v >= 1, expected=">= 1"),
        Param("num_train_adv_examples", -1, count_or_fraction, "rows attacked per attack epoch: N, a fraction "
              "such as 0.2, or -1 for every row (TextAttack: -1)", check=_valid_count,
              expected="-1, a whole number >= 1 or a fraction in (0, 1] such as 0.2"),
        Param("adv_count", "attacked", str, "what num_train_adv_examples counts: rows attacked (fixed cost per "
              "epoch) or successful examples (TextAttack's meaning)", choices=ADV_COUNTS),
        Param("alpha", 1.0, float, "loss weight of the adversarial examples (TextAttack: 1.0)",
              check=lambda v: 0 < v <= 100, expected="a number in (0, 100]"),
        Param("query_budget_train", None, int, "most model queries per attacked row (default: no limit)",
              check=lambda v: v >= 1, expected="an integer >= 1"),
    )

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        from ...attacks.recipes import get_recipe

        self.hparams["attack_recipe"] = get_recipe(self.hparams["attack_recipe"]).name
        self.examples = None
        self.attack = None
        self.epochs: list[dict] = []

    # -- checks before anything is written -------------------------------------------------------------
    def rows_to_attack(self, n_train: int) -> int:
        value = self.hparams["num_train_adv_examples"]
        if value == -1:
            return n_train
        if isinstance(value, float):
            return max(1, math.ceil(n_train * value))
        return int(value)

    def epochs_of(self, cfg) -> int:
        return int(cfg.epochs)

    def check_data(self, examples) -> None:
        from ...attacks.environment import configure_nltk
        from ...attacks.recipes import get_recipe, require_resources

        cfg = self.run_config
        n = len(examples)
        value = self.hparams["num_train_adv_examples"]
        if isinstance(value, int) and value > n:
            raise RBMError(f"method adv-train: --num-train-adv-examples {value} is larger than the training set "
                           f"({n} rows; use -1 to attack every row)")
        if not float(cfg.epochs).is_integer():
            raise RBMError(f"method adv-train: --epochs {cfg.epochs}: adversarial training counts whole epochs "
                           f"(TextAttack's num_epochs); give an integer")
        if self.hparams["num_clean_epochs"] >= int(cfg.epochs):
            raise RBMError(f"method adv-train: --num-clean-epochs {self.hparams['num_clean_epochs']} leaves no attack "
                           f"epoch in {int(cfg.epochs)} epochs (it would be vanilla training); lower it or raise "
                           f"--epochs")
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise RBMError("method adv-train runs on one process (the attack queries one model); launch it without "
                           "torchrun / accelerate")
        configure_nltk(cfg.data_dir)
        require_resources(get_recipe(self.hparams["attack_recipe"]))

    def prepare_data(self, examples):
        self.examples = examples
        return examples

    # -- the schedule ----------------------------------------------------------------------------------
    def is_attack_epoch(self, epoch: int) -> bool:
        """TextAttack's rule, ``epoch`` counted from 1."""
        clean = self.hparams["num_clean_epochs"]
        return epoch > clean and (epoch - clean - 1) % self.hparams["attack_epoch_interval"] == 0

    def planned_steps(self, n_train: int, batch_size: int, cfg) -> int:
        """Optimizer steps the schedule is planned for: clean epochs over n rows, attack epochs over n + N."""
        adv = self.rows_to_attack(n_train)
        return sum(math.ceil((n_train + (adv if self.is_attack_epoch(e) else 0)) / batch_size)
                   for e in range(1, self.epochs_of(cfg) + 1))

    def setup(self, ctx) -> None:
        from ...attacks.environment import import_textattack
        from ...attacks.recipes import build_attack
        from ...attacks.wrapper import fast_wrapper

        import_textattack(ctx.config.data_dir)
        wrapper = fast_wrapper(ctx.model, ctx.tokenizer, label_map=None, batch_size=ATTACK_FORWARD_BATCH,
                               max_length=ctx.config.max_length, device=ctx.device, precision=ctx.precision)
        self.attack = build_attack(self.hparams["attack_recipe"], wrapper, query_budget=self.hparams["query_budget_train"],
                                   model_batch_size=ATTACK_QUERY_BATCH, data_dir=ctx.config.data_dir)

    def epoch_data(self, ctx, epoch: int):
        """Epoch ``epoch`` (from 0): the clean set (None), or the clean set plus this epoch's adversarial rows."""
        if not self.is_attack_epoch(epoch + 1):
            return None
        from ...attacks.single import preserved_random_state

        with preserved_random_state():
            rows, stats = self.attack_epoch(ctx, epoch + 1)
        self.epochs.append(stats)
        ctx.model.train()
        if not rows:
            return None
        return ctx.data.extended(ctx.tokenizer, rows, ctx.config.max_length, weight=self.hparams["alpha"])

    def attack_order(self, n: int, epoch: int) -> np.ndarray:
        seed = self.run_config.seed
        return np.random.default_rng([int(seed), int(epoch), zlib.crc32(b"adv-train")]).permutation(n)

    def attack_epoch(self, ctx, epoch: int) -> tuple[list[dict], dict]:
        """Attack training rows with the current model; the successful examples as rows to add, and the counts."""
        from ...attacks.single import attack_example
        from ...progress import Progress

        examples = self.examples
        target = self.rows_to_attack(len(examples))
        by_success = self.hparams["adv_count"] == "successful"
        order = self.attack_order(len(examples), epoch)
        if not by_success:
            order = order[:target]
        sample_seed = (int(self.run_config.seed) * 7919 + epoch) % (2 ** 31)
        ctx.model.eval()
        counts = {"successful": 0, "failed": 0, "skipped": 0}
        rows: list[dict] = []
        queries: list[int] = []
        start = time.perf_counter()
        recipe = self.hparams["attack_recipe"]
        total = target if by_success else len(order)
        with Progress(total, f"adv-train epoch {epoch}: {recipe}", unit="success" if by_success else "example",
                      logger=log) as progress:
            for position in order:
                row = attack_example(self.attack, examples, int(position), sample_seed)
                counts[row["result"]] += 1
                if row["result"] != "skipped":
                    queries.append(int(row["num_queries"]))
                if row["result"] == "successful":
                    new = {"position": int(position), "label": int(row["label"]), "text_a": row["perturbed_text"]}
                    if examples.text_b is not None:
                        new["text_b"] = row["perturbed_text_b"]
                    rows.append(new)
                if by_success:
                    if row["result"] == "successful":
                        progress.update(1, extra=", ".join(f"{k} {v}" for k, v in counts.items()))
                    if len(rows) >= target:
                        break
                else:
                    progress.update(1, extra=", ".join(f"{k} {v}" for k, v in counts.items()))
        attacked = sum(counts.values())
        stats = {"epoch": epoch, "recipe": recipe, "attacked": attacked, **counts, "added": len(rows),
                 "attack_success_rate": counts["successful"] / max(1, counts["successful"] + counts["failed"]),
                 "avg_queries": float(np.mean(queries)) if queries else None,
                 "seconds": round(time.perf_counter() - start, 3), "step": ctx.step}
        log.info("adv-train epoch %d: %s attacked %d rows: %d successful, %d failed, %d skipped (already wrong); "
                 "%d adversarial rows added with weight %g", epoch, recipe, attacked, counts["successful"],
                 counts["failed"], counts["skipped"], len(rows), self.hparams["alpha"])
        return rows, stats

    # -- provenance ------------------------------------------------------------------------------------
    def card_extra(self) -> dict[str, Any]:
        return {"adversarial_training": {"recipe": self.hparams["attack_recipe"],
                                         "rows_to_attack": self.rows_to_attack(len(self.examples)) if self.examples is not None else None,
                                         "epochs": self.epochs}}

    def seen_in_training(self) -> dict[str, list[str]]:
        from ...attacks.recipes import get_recipe

        spec = get_recipe(self.hparams["attack_recipe"])
        return {"families": list(spec.families), "attacks": [spec.name]}
