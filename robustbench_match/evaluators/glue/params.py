"""Typed params of the ``glue`` suite kind (light: loaded by ``rbm suites``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..params import SuiteParams


@dataclass(frozen=True)
class GlueParams(SuiteParams):
    _evaluator = "glue"
