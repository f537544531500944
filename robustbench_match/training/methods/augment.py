"""Data augmentation with a TextAttack ``Augmenter`` recipe (EDA, WordNet, CharSwap, deletion, ...).

The training set is augmented once, before the first step (seeded per row, cached on disk by its content
key), then trained on like any other set: the loop, schedule and export are the shared ones, so ``augment``
composes with every method (``augment+match-tuning``). The card records the recipe, its settings, the counts
and the augmented set's sha256; which test-time perturbation families and attacks share the recipe's
transformations is recorded as ``seen_in_training`` and marked in the tables.
"""
from __future__ import annotations

from typing import Any

from ...errors import RBMError
from .base import Method, Param
from .lora import flag

MAX_TRANSFORMATIONS = 32


def _recipe(value: str) -> bool:
    from ...augmentation import AUGMENTERS

    return value in AUGMENTERS


class Augment(Method):
    name = "augment"
    summary = "train on the set augmented by a TextAttack augmenter recipe (eda, wordnet, charswap, deletion, ...)"
    params = (
        Param("augment_recipe", "eda", str, "TextAttack augmenter recipe: eda, wordnet, charswap, deletion, swap, "
              "synonym-insertion (offline); embedding, checklist, clare, back-translation need resources",
              check=_recipe, expected="a recipe of `rbm methods` (eda, wordnet, charswap, deletion, swap, "
              "synonym-insertion, embedding, checklist, clare, back-translation)"),
        Param("pct_words_to_swap", 0.1, float, "share of a text's words each augmentation changes (TextAttack's "
              "default 0.1)", check=lambda v: 0 < v <= 1, expected="in (0, 1]"),
        Param("transformations_per_example", 1, int, "augmented variants per training row (TextAttack's "
              "default 1; EDA's own default 4)", check=lambda v: 1 <= v <= MAX_TRANSFORMATIONS,
              expected=f"an integer in 1..{MAX_TRANSFORMATIONS}"),
        Param("exclude_original", False, flag, "train on the augmented rows only (TextAttack's "
              "--exclude-original); default: the originals are kept"),
        Param("augment_fields", "all", str, "comma-separated text fields to augment (pair tasks: e.g. "
              "sentence2); all: every text field"),
        Param("augment_seed", None, int, "seed of the augmentation (default: the run's --seed)",
              check=lambda v: 0 <= v <= 2**32 - 1, expected="an integer in 0..2^32-1"),
    )

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.info: dict = {}

    def settings(self, examples):
        from ...augmentation import AugmentSettings, get_augmenter, text_fields

        raw = str(self.hparams["augment_fields"]).strip()
        fields = () if raw in ("", "all") else tuple(f.strip() for f in raw.split(",") if f.strip())
        fields = text_fields(examples, fields)
        seed = self.hparams["augment_seed"]
        run = getattr(self, "run_config", None)
        return AugmentSettings(recipe=get_augmenter(self.hparams["augment_recipe"]).name,
                               pct_words_to_swap=float(self.hparams["pct_words_to_swap"]),
                               transformations_per_example=int(self.hparams["transformations_per_example"]),
                               keep_originals=not self.hparams["exclude_original"], fields=fields,
                               seed=int(seed if seed is not None else (run.seed if run is not None else 0)))

    def check_data(self, examples) -> None:
        from ...augmentation import get_augmenter, require_augmenter

        self.settings(examples)
        require_augmenter(get_augmenter(self.hparams["augment_recipe"]),
                          getattr(getattr(self, "run_config", None), "data_dir", None))

    def prepare_data(self, examples):
        from ...augmentation import augment_examples

        if len(examples) == 0:
            raise RBMError("method augment: no training examples to augment")
        result = augment_examples(examples, self.settings(examples),
                                  getattr(getattr(self, "run_config", None), "data_dir", None))
        self.info = result.info
        return result.examples

    def card_extra(self) -> dict[str, Any]:
        return {"augmentation": self.info} if self.info else {}

    def seen_in_training(self) -> dict[str, list[str]]:
        from ...augmentation import get_augmenter

        spec = get_augmenter(self.hparams["augment_recipe"])
        return {"families": list(spec.families), "attacks": list(spec.attacks)}
