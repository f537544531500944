"""Typed params of the ``label-noise`` and ``minority`` suite kinds (light: loaded by ``rbm suites``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from ...errors import RBMError
from ..params import SuiteParams


@dataclass(frozen=True)
class TrainingConditionParams(SuiteParams):
    _evaluator = "label-noise/minority"
    ratios: Optional[tuple[Union[float, str], ...]] = None  # None: the evaluator's defaults
    include_clean: bool = True
    data_seed: Optional[int] = None  # None: each training seed draws its own perturbation

    def validate(self, where: str) -> None:
        super().validate(where)
        from ...conditions.base import parse_ratio  # numpy only

        for r in self.ratios or ():
            try:
                parse_ratio(r)
            except RBMError as exc:
                raise RBMError(f"{where}: params.ratios: {exc}") from None
