"""Typed params of the ``mnli-negation`` (group) suite kind (light: loaded by ``rbm suites``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

from ...errors import RBMError
from ..params import SuiteParams

NEGATION_WORDS: tuple[str, ...] = ("nobody", "no", "never", "nothing")
INTERVAL_METHODS: tuple[str, ...] = ("clopper-pearson", "wilson")

@dataclass(frozen=True)
class GroupParams(SuiteParams):
    _evaluator = "mnli-negation"
    words: tuple[Any, ...] = NEGATION_WORDS
    eval_sets: Optional[tuple[str, ...]] = None
    interval: Union[str, dict, None] = None  # clopper-pearson | wilson | {method, level}
    bootstrap: Optional[dict] = None  # legacy: bootstrap.level sets the interval level
    max_eval_examples: Optional[int] = None  # a first-N slice of dev, for smoke tests only

    def validate(self, where: str) -> None:
        super().validate(where)
        if not self.words:
            raise RBMError(f"{where}: params.words must be a non-empty list of words")
        for w in self.words:
            if isinstance(w, bool):
                raise RBMError(f"{where}: params.words holds {w!r}: YAML reads a bare no/yes as a boolean; "
                               f"quote the words (\"no\")")
            if not isinstance(w, str) or not w.strip():
                raise RBMError(f"{where}: params.words holds {w!r} (expected non-empty strings)")
        self.interval_settings(where)
        if self.max_eval_examples is not None and self.max_eval_examples < 1:
            raise RBMError(f"{where}: params.max_eval_examples must be at least 1")

    def interval_settings(self, where: str = "suite") -> dict:
        """``interval`` as {method, level}; a legacy ``bootstrap.level`` still sets the level."""
        given = self.interval or {}
        if isinstance(given, str):
            given = {"method": given}
        method = str(given.get("method", INTERVAL_METHODS[0])).lower()
        if method not in INTERVAL_METHODS:
            raise RBMError(f"{where}: params.interval.method {method!r}: expected one of {', '.join(INTERVAL_METHODS)}")
        level = given.get("level", (self.bootstrap or {}).get("level", 0.95))
        try:
            level = float(level)
        except (TypeError, ValueError):
            level = -1.0
        if not 0 < level < 1:
            raise RBMError(f"{where}: params.interval.level {given.get('level')!r}: expected a number between 0 "
                           f"and 1 (e.g. 0.95)")
        return {"method": method, "level": level}
