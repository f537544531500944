"""Directional expectations of a task (its file's ``expectations`` key): what a DIR perturbation family must do
to the task's predictions. The schema lives with the task files, which declare it; the families themselves live in
``robustbench_match.perturbations`` (which checks that :data:`DIRECTIONAL_FAMILIES` names its DIR families)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from ..errors import RBMError

if TYPE_CHECKING:
    from . import TaskSpec

#: the perturbation families that are directional tests (perturbations.FAMILIES, test "DIR")
DIRECTIONAL_FAMILIES: tuple[str, ...] = ("negate",)
EXPECTS = ("confidence-not-up", "label-not-kept")
#: the built-in GLUE tasks' expectations, kept apart from their task files so that those files' bytes, and so
#: every stored record's fingerprint, stay as they were
BUILTIN_EXPECTATIONS = Path(__file__).resolve().parent / "expectations.yaml"


@dataclass(frozen=True)
class Expectation:
    """What a DIR family must do to a task's predictions, from the task file's ``expectations`` key::

        expectations:
          negate: {expect: confidence-not-up}                       # sentiment: p(original prediction) must not rise
          negate: {expect: label-not-kept, label: entailment, fields: [hypothesis]}   # NLI

    ``confidence-not-up``: the probability the model gave its original prediction must not rise (by more than
    ``tolerance``); ``label-not-kept``: a row predicted ``label`` must not keep it. ``fields``: the text fields
    the family perturbs (default: all)."""

    expect: str
    label: Optional[str] = None
    fields: Optional[tuple[str, ...]] = None
    tolerance: float = 0.0

    @classmethod
    def parse(cls, raw: Any, where: str, label_names: Optional[Sequence[str]], text_fields: Sequence[str]) -> "Expectation":
        if not isinstance(raw, dict):
            raise RBMError(f"{where}: expected a mapping like {{expect: confidence-not-up}}")
        unknown = sorted(set(raw) - {"expect", "label", "fields", "tolerance"})
        if unknown:
            raise RBMError(f"{where}.{unknown[0]}: unknown key (expected expect, label, fields, tolerance)")
        expect = raw.get("expect")
        if expect not in EXPECTS:
            raise RBMError(f"{where}.expect: {expect!r}: expected one of {', '.join(EXPECTS)}")
        if label_names is None:
            raise RBMError(f"{where}: a regression task has no labels to expect anything of")
        label = raw.get("label")
        if expect == "label-not-kept" and label not in label_names:
            raise RBMError(f"{where}.label: {label!r} is not a label of the task ({', '.join(label_names)})")
        fields = raw.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or not fields or any(f not in text_fields for f in fields):
                raise RBMError(f"{where}.fields: {fields!r}: expected a list of the task's text fields "
                               f"({', '.join(text_fields)})")
            fields = tuple(fields)
        tolerance = raw.get("tolerance", 0.0)
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
            raise RBMError(f"{where}.tolerance: {tolerance!r}: expected a probability in [0, 1)")
        return cls(expect, label, fields, float(tolerance))

    def as_dict(self) -> dict:
        return {"expect": self.expect, "label": self.label, "fields": list(self.fields) if self.fields else None,
                "tolerance": self.tolerance}


def parse_expectations(raw: Any, where: str, label_names: Optional[Sequence[str]],
                       text_fields: Sequence[str]) -> dict[str, Expectation]:
    """A task file's ``expectations`` mapping, every entry checked (one line naming the file and key)."""
    out = {}
    for name, entry in (raw or {}).items():
        key = f"{where}: expectations.{name}"
        if not isinstance(name, str) or name.strip().lower() not in DIRECTIONAL_FAMILIES:
            raise RBMError(f"{key}: not a directional perturbation family (expected {', '.join(DIRECTIONAL_FAMILIES)})")
        out[name.strip().lower()] = Expectation.parse(entry, key, label_names, text_fields)
    return out


def expectations(task: "TaskSpec") -> dict[str, Expectation]:
    """The task's directional expectations: its file's, and for a built-in task ``tasks/expectations.yaml`` (kept
    out of the GLUE task files so their fingerprints stay as they were)."""
    if task.builtin and not task.expectations:
        import yaml

        table = yaml.safe_load(BUILTIN_EXPECTATIONS.read_text(encoding="utf-8")) or {}
        return parse_expectations(table.get(task.name), str(BUILTIN_EXPECTATIONS), task.label_names, task.text_keys)
    return dict(task.expectations)
