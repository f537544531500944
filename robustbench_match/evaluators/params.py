"""Typed suite ``params``: the base every suite kind's dataclass extends (``evaluators/<kind>/params.py``),
checked when the suite file loads.

Each kind keeps its params in a module of its own that imports nothing heavy, because ``rbm suites``
loads every suite file and must not import torch, datasets or textattack; the kind index
(``evaluators/__init__.py``) names that module, and ``PARAMS`` resolves it lazily.
An unknown key or a value of the wrong type is one line naming the suite file and the key, as
lm-evaluation-harness' ``TaskConfig`` does for task files.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Optional

from ..errors import RBMError
from ..typed import coerce as _coerce
from ..typed import type_name as _type_name



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


def parse_params(evaluator: str, raw: Optional[dict], where: str) -> Optional[SuiteParams]:
    """The typed params of a suite; None for an evaluator registered elsewhere (a plugin), whose params
    stay a free mapping."""
    from . import PARAMS

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
