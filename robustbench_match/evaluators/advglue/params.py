"""Typed params of the ``advglue`` suite kind (light: loaded by ``rbm suites``)."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import RBMError
from ..params import SuiteParams

#: the AdvGLUE dev subsets (eval set names), as in ``evaluators.advglue.evaluator.SUBSETS``
ADVGLUE_SUBSETS: tuple[str, ...] = ("sst2", "qqp", "mnli-m", "mnli-mm", "qnli", "rte")

@dataclass(frozen=True)
class AdvGlueParams(SuiteParams):
    _evaluator = "advglue"
    subsets: tuple[str, ...] = ADVGLUE_SUBSETS
    clean: bool = True  # also score the same checkpoints on clean GLUE dev (for the drop)

    def validate(self, where: str) -> None:
        super().validate(where)
        unknown = [s for s in self.subsets if s not in ADVGLUE_SUBSETS]
        if unknown:
            raise RBMError(f"{where}: params.subsets: unknown {unknown} (expected {list(ADVGLUE_SUBSETS)})")
