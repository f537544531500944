"""Typed suite ``params``: each evaluator declares a dataclass, checked when the suite file loads.

Why here and not beside each evaluator: ``rbm suites`` loads every suite file and must not import
torch, datasets or textattack; this module imports nothing heavy. Each evaluator class names its
dataclass (``params_class``), and ``PARAMS`` maps evaluator names to the same classes for the loader.
An unknown key or a value of the wrong type is one line naming the suite file and the key, as
lm-evaluation-harness' ``TaskConfig`` does for task files.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Optional, Union

from ..errors import RBMError
from ..typed import coerce as _coerce
from ..typed import type_name as _type_name
from ..registry import Registry

#: the AdvGLUE dev subsets (eval set names), as in ``evaluators.advglue.SUBSETS``
ADVGLUE_SUBSETS: tuple[str, ...] = ("sst2", "qqp", "mnli-m", "mnli-mm", "qnli", "rte")
NEGATION_WORDS: tuple[str, ...] = ("nobody", "no", "never", "nothing")
INTERVAL_METHODS: tuple[str, ...] = ("clopper-pearson", "wilson")


@dataclass(frozen=True)
class SuiteParams:
    """Params every grid shares: which methods and seeds the runner trains (command line > these >
    the suite's ``train:`` block)."""

    methods: Optional[tuple[str, ...]] = None
    seeds: Optional[tuple[int, ...]] = None

    @classmethod
    def parse(cls, raw: Optional[dict], where: str) -> "SuiteParams":
        """Validate ``raw`` (the suite's ``params`` mapping); ``where`` names the suite file in errors."""
        raw = dict(raw or {})
        hints = typing.get_type_hints(cls)
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - fields)
        if unknown:
            raise RBMError(f"{where}: params.{unknown[0]}: unknown key for a {cls.evaluator_name()} suite "
                           f"(expected {', '.join(sorted(fields))})")
        values = {}
        for key, value in raw.items():
            ok, converted = _coerce(value, hints[key])
            if not ok:
                raise RBMError(f"{where}: params.{key}: {value!r} is not {_type_name(hints[key])}")
            values[key] = converted
        params = cls(**values)
        params.validate(where)
        return params

    @classmethod
    def evaluator_name(cls) -> str:
        return getattr(cls, "_evaluator", "this")

    def validate(self, where: str) -> None:
        """Checks beyond types (allowed values); raise RBMError naming ``where`` and the key."""
        if self.methods is not None and not self.methods:
            raise RBMError(f"{where}: params.methods is empty (give method names or leave it out)")
        if self.seeds is not None and not self.seeds:
            raise RBMError(f"{where}: params.seeds is empty (give seeds or leave it out)")
        from ..inputs import check_seed  # every seed-like field, in every params class

        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "seeds":
                for seed in value or ():
                    check_seed(seed, f"{where}: params.seeds:")
            elif f.name.endswith("seed") and value is not None:
                check_seed(value, f"{where}: params.{f.name}")


@dataclass(frozen=True)
class GlueParams(SuiteParams):
    _evaluator = "glue"


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


@dataclass(frozen=True)
class TrainingConditionParams(SuiteParams):
    _evaluator = "label-noise/minority"
    ratios: Optional[tuple[Union[float, str], ...]] = None  # None: the evaluator's defaults
    include_clean: bool = True
    data_seed: Optional[int] = None  # None: each training seed draws its own perturbation

    def validate(self, where: str) -> None:
        super().validate(where)
        from ..conditions.base import parse_ratio  # numpy only

        for r in self.ratios or ():
            try:
                parse_ratio(r)
            except RBMError as exc:
                raise RBMError(f"{where}: params.ratios: {exc}") from None


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


#: evaluator name → its params class (lazy-free: these classes are light)
PARAMS: Registry[type[SuiteParams]] = Registry("evaluator")
PARAMS.register("glue", GlueParams)
PARAMS.register("advglue", AdvGlueParams)
PARAMS.register("label-noise", TrainingConditionParams)
PARAMS.register("minority", TrainingConditionParams)
PARAMS.register("mnli-negation", GroupParams, aliases=("groups",))
PARAMS.register("textattack", TextAttackParams)


def parse_params(evaluator: str, raw: Optional[dict], where: str) -> Optional[SuiteParams]:
    """The typed params of a suite; None for an evaluator registered elsewhere (a plugin), whose params
    stay a free mapping."""
    if evaluator not in PARAMS:
        return None
    return PARAMS.get(evaluator).parse(raw, where)


def suite_params(suite, cls: type[SuiteParams] = SuiteParams) -> SuiteParams:
    """``suite.typed_params`` when the loader set it, else parsed now (suites built in code)."""
    typed = getattr(suite, "typed_params", None)
    if isinstance(typed, cls):
        return typed
    where = str(getattr(suite, "path", None) or f"suite {suite.name}")
    return cls.parse(suite.params, where)
