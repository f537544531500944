"""Typed params of the ``perturbation`` suite kind (light: loaded by ``rbm suites``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ...errors import RBMError
from ..params import SuiteParams


@dataclass(frozen=True)
class PerturbationParams(SuiteParams):
    _evaluator = "perturbation"
    families: Optional[tuple[str, ...]] = None  # None: every family (`rbm suites` lists them)
    perturbation_seeds: tuple[int, ...] = (0,)  # seeded families: one cell per seed (aggregated like training seeds)
    fields: Optional[tuple[str, ...]] = None  # pair tasks: the text fields to perturb (default: all)
    settings: Optional[dict] = None  # family -> {setting: value}, e.g. {typo: {rate: 0.2}}
    mft: Optional[tuple[str, ...]] = None  # MFT template files (built-in names or --include-path ones); None: all that fit
    max_failures: int = 5  # failing examples kept per record (the report shows them)

    def validate(self, where: str) -> None:
        super().validate(where)
        from ...inputs import check_seed
        from ...perturbations import FAMILIES, family_names

        family_names(self.families, f"{where}: params.families")
        if self.families is not None and not self.families:
            raise RBMError(f"{where}: params.families is empty (give family names or leave it out for all)")
        if not self.perturbation_seeds:
            raise RBMError(f"{where}: params.perturbation_seeds is empty (give at least one seed)")
        for seed in self.perturbation_seeds:
            check_seed(seed, f"{where}: params.perturbation_seeds:")
        for family, values in (self.settings or {}).items():
            family_names([family], f"{where}: params.settings")
            if values is not None and not isinstance(values, dict):
                raise RBMError(f"{where}: params.settings.{family}: expected a mapping, e.g. {{rate: 0.2}}")
            FAMILIES.get(family).check_settings(values, f"{where}: params.settings.{family}")
        if self.max_failures < 0:
            raise RBMError(f"{where}: params.max_failures {self.max_failures}: expected a whole number >= 0")

    def family_names(self) -> list[str]:
        from ...perturbations import family_names

        return family_names(self.families, "params.families")

    def family_settings(self, family: str) -> dict:
        from ...perturbations import FAMILIES

        given = {FAMILIES.canonical(k): v for k, v in (self.settings or {}).items()}
        return FAMILIES.get(family).check_settings(given.get(family), f"params.settings.{family}")
