"""Perturbation families (CheckList's INV and DIR tests; langtest's robustness perturbations): one registry,
:data:`FAMILIES`, of named, documented, seeded transformations of a text.

A family is a function ``fn(text, rng, **settings) -> text`` (in ``character``, ``surface``, ``lexical``,
``negation``) and a :class:`Family` entry saying what it expects: ``INV`` (the prediction should not change) or
``DIR`` (it should move the way the task's file declares, see :class:`Expectation`), whether it draws random
numbers (``seeded``), and its settings with their defaults. :func:`perturb_examples` applies one to a task's
examples with one random stream per (family, seed, task, row, field), so a row's perturbed text never depends
on the other rows, on the order or on a ``--limit`` sample. The module imports nothing heavy (``rbm suites``
reads the family names): TextAttack and nltk load on a family's first use.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import numpy as np

from ..errors import RBMError
from ..registry import Registry

if TYPE_CHECKING:
    from ..data import Examples
    from ..tasks import TaskSpec


@dataclass(frozen=True)
class Family:
    """One perturbation family: ``fn`` is ``"module:function"`` in this package (loaded on first use)."""

    name: str
    fn: str
    summary: str
    test: str = "INV"  # INV: the prediction should not change; DIR: it should move as the task declares
    seeded: bool = False  # whether the perturbation draws random numbers (then each seed is its own cell)
    settings: dict[str, Any] = field(default_factory=dict)  # per-family settings and their defaults
    source: str = "written here"  # what implements it (TextAttack's transformations, or this package)
    needs_nltk: bool = False  # reads nltk data (WordNet, stopwords, the tagger)

    def function(self) -> Callable[..., str]:
        module, attr = self.fn.split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)

    def check_settings(self, given: Optional[dict], where: str) -> dict:
        """This family's settings: its defaults overridden by ``given``, each checked (one line naming ``where``)."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.settings))
        if unknown:
            expected = ", ".join(sorted(self.settings)) or "none"
            raise RBMError(f"{where}.{unknown[0]}: not a setting of family {self.name} (its settings: {expected})")
        out = {**self.settings, **given}
        if "rate" in out:
            rate = out["rate"]
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
                raise RBMError(f"{where}.rate: {rate!r} is not a rate in (0, 1] (the share of eligible words changed)")
            out["rate"] = float(rate)
        if "where" in out and out["where"] not in ("end", "all"):
            raise RBMError(f"{where}.where: {out['where']!r}: expected end or all")
        if "marks" in out:
            marks = out["marks"]
            if not isinstance(marks, str) or not marks or any(c.isalnum() or c.isspace() for c in marks):
                raise RBMError(f"{where}.marks: {marks!r}: expected punctuation characters, e.g. '.!?'")
        return out


FAMILIES: Registry[Family] = Registry("perturbation family")
#: the families in the order tables show them (character, surface, lexical, directional)
FAMILY_ORDER: list[str] = []


def _family(name: str, fn: str, summary: str, **kw: Any) -> None:
    FAMILIES.register(name, Family(name, fn, summary, **kw))
    FAMILY_ORDER.append(name)


def family_names(names: Optional[Sequence[str]], where: str) -> list[str]:
    """Canonical family names in table order (all when ``names`` is None); an unknown one is one line."""
    if names is None:
        return list(FAMILY_ORDER)
    out = []
    for name in names:
        try:
            out.append(FAMILIES.canonical(str(name)))
        except KeyError as exc:
            raise RBMError(f"{where}: {exc}") from None
    return [f for f in FAMILY_ORDER if f in out]


_TA = "TextAttack"
_family("typo", "character:typo", "keyboard-neighbour substitution, adjacent swap, deletion or insertion in a share "
        "of the words", seeded=True, settings={"rate": 0.1},
        source=f"{_TA} WordSwapQWERTY, NeighboringCharacterSwap, RandomCharacterDeletion/Insertion")
_family("ocr", "character:ocr", "OCR confusions (rn→m, l→1, o→0, e→c …) in a share of the words", seeded=True,
        settings={"rate": 0.1})
_family("whitespace", "character:whitespace", "a space inserted inside a word or removed after it", seeded=True,
        settings={"rate": 0.1})
_family("upper", "surface:upper", "the whole text in upper case")
_family("lower", "surface:lower", "the whole text in lower case")
_family("title", "surface:title", "every word capitalised")
_family("strip-punct", "surface:strip_punct", "the final punctuation removed (where: all — every free-standing mark)",
        settings={"where": "end"})
_family("add-punct", "surface:add_punct", "a final . ! or ? added where the text ends without one", seeded=True,
        settings={"marks": ".!?"})
_family("contract", "surface:contract", "phrases with a contraction contracted (do not → don't)",
        source=f"{_TA} EXTENSION_MAP; PTB-aware rules here")
_family("expand", "surface:expand", "contractions written out (don't → do not)",
        source=f"{_TA} EXTENSION_MAP; PTB-aware rules here")
_family("synonym", "lexical:synonym", "a share of the content words replaced by a WordNet synonym of the same part "
        "of speech", seeded=True, settings={"rate": 0.1}, source="nltk WordNet and tagger; rules here",
        needs_nltk=True)
_family("names", "lexical:names", "person names swapped for others of the same kind (lexicons/)", seeded=True)
_family("locations", "lexical:locations", "cities and countries swapped for others (lexicons/)", seeded=True)
_family("numbers", "lexical:numbers", "numbers changed within ±20 %, spelled counts for others", seeded=True)
_family("negate", "negation:negate", "the main clause negated (DIR: the task's file says what must follow)",
        test="DIR")

#: families that import TextAttack (its import needs nltk's stopwords on the path)
TEXTATTACK_FAMILIES = frozenset({"typo", "contract", "expand"})


# ---------------------------------------------------------------------------- DIR expectations
EXPECTS = ("confidence-not-up", "label-not-kept")


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


BUILTIN_EXPECTATIONS = Path(__file__).resolve().parent / "builtin_expectations.yaml"


def parse_expectations(raw: Any, where: str, label_names: Optional[Sequence[str]],
                       text_fields: Sequence[str]) -> dict[str, Expectation]:
    """A task file's ``expectations`` mapping, every entry checked (one line naming the file and key)."""
    out = {}
    for name, entry in (raw or {}).items():
        key = f"{where}: expectations.{name}"
        if not isinstance(name, str) or name not in FAMILIES or FAMILIES.get(name).test != "DIR":
            directional = [f for f in FAMILIES.names() if FAMILIES.get(f).test == "DIR"]
            raise RBMError(f"{key}: not a directional family (expected {', '.join(directional)})")
        out[FAMILIES.canonical(name)] = Expectation.parse(entry, key, label_names, text_fields)
    return out


def expectations(task: "TaskSpec") -> dict[str, Expectation]:
    """The task's directional expectations: its file's, and for a built-in task the package's
    ``builtin_expectations.yaml`` (kept out of the GLUE task files so their fingerprints stay as they were)."""
    if task.builtin and not task.expectations:
        import yaml

        table = yaml.safe_load(BUILTIN_EXPECTATIONS.read_text(encoding="utf-8")) or {}
        return parse_expectations(table.get(task.name), str(BUILTIN_EXPECTATIONS), task.label_names, task.text_keys)
    return dict(task.expectations)


def family_problem(family: Family, task: "TaskSpec") -> Optional[str]:
    """Why ``family`` cannot run on ``task`` (a phrase), or None."""
    if family.test == "DIR" and family.name not in expectations(task):
        return (f"family {family.name} is a directional test and task {task.name} declares no expectation for it "
                f"(add `expectations: {{{family.name}: {{expect: ...}}}}` to its task file; see `rbm tasks`)")
    return None


# ---------------------------------------------------------------------------- applying a family
@dataclass
class Perturbed:
    """A family applied to examples: the perturbed examples (same rows, same order) and which rows' text changed."""

    examples: "Examples"
    changed: np.ndarray  # bool per row: some perturbed field differs from the original
    fields: tuple[str, ...]


def perturb_examples(examples: "Examples", family: Family, seed: int, settings: dict,
                     fields: Optional[Sequence[str]] = None) -> Perturbed:
    """``family`` applied to each row's ``fields`` (default: all text fields) with its own random stream."""
    from ..data import Examples
    from .text import row_rng

    task = examples.task
    fields = tuple(fields or task.text_keys)
    fn = family.function()
    texts = {k: list(v) for k, v in examples.texts.items()}
    for key in fields:
        texts[key] = [fn(text, row_rng(family.name, seed, task.rng_key, int(idx), key), **settings)
                      for text, idx in zip(examples.texts[key], examples.idx)]
    changed = np.zeros(len(examples), dtype=bool)
    for key in fields:
        changed |= np.asarray([a != b for a, b in zip(examples.texts[key], texts[key])], dtype=bool)
    source = f"{examples.source} + perturb:{family.name}"
    out = Examples(task, examples.split, texts, examples.labels, examples.idx, source, dict(examples.extra))
    return Perturbed(out, changed, fields)


__all__ = ["FAMILY_ORDER", "family_names", "EXPECTS", "Expectation", "expectations", "parse_expectations", "FAMILIES", "Family", "Perturbed", "TEXTATTACK_FAMILIES", "family_problem",
           "perturb_examples"]
