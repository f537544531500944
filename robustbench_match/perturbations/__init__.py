"""Perturbation families (CheckList's INV and DIR tests; langtest's robustness perturbations): one registry,
:data:`FAMILIES`, of named, documented, seeded transformations of a text.

A family is a function ``fn(text, rng, **settings) -> text`` (in ``character``, ``surface``, ``lexical``,
``negation``) and a :class:`Family` entry saying what it expects: ``INV`` (the prediction should not change) or
``DIR`` (it should move the way the task's file declares, see ``tasks.expectations``), whether it draws random
numbers (``seeded``), and its settings with their defaults. :func:`perturb_examples` applies one to a task's
examples with one random stream per (family, seed, task, row, field), so a row's perturbed text never depends
on the other rows, on the order or on a ``--limit`` sample. The module imports nothing heavy (``rbm suites``
reads the family names): TextAttack and nltk load on a family's first use.
"""
from __future__ import annotations

import importlib
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
# the schema lives with the task files (tasks/expectations.py): a task file declares them, so tasks reads them
from ..tasks.expectations import DIRECTIONAL_FAMILIES, EXPECTS, Expectation, expectations, parse_expectations  # noqa: E402

assert set(DIRECTIONAL_FAMILIES) == {f for f in FAMILY_ORDER if FAMILIES.get(f).test == "DIR"}


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


__all__ = ["DIRECTIONAL_FAMILIES", "EXPECTS", "Expectation", "FAMILIES", "FAMILY_ORDER", "Family", "Perturbed",
           "TEXTATTACK_FAMILIES", "expectations", "family_names", "family_problem", "parse_expectations",
           "perturb_examples"]
