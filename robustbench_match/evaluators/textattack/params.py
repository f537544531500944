"""Typed params of the ``textattack`` suite kind (light: loaded by ``rbm suites``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ...errors import RBMError
from ..params import SuiteParams


@dataclass(frozen=True)
class TextAttackParams(SuiteParams):
    _evaluator = "textattack"
    recipes: tuple[str, ...] = ("deepwordbug",)
    num_examples: int = 100
    query_budget: Optional[int] = None
    sample_seed: int = 0
    model_batch_size: int = 128

    def validate(self, where: str) -> None:
        super().validate(where)
        for key in ("num_examples", "query_budget", "model_batch_size"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise RBMError(f"{where}: params.{key} {value}: expected a whole number >= 1")
