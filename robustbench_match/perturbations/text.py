"""Text helpers every perturbation family shares: word spans that keep the rest of the text byte for byte,
case that follows the word replaced, one seeded random stream per (family, seed, task, row, field), and the
sample of words a rate picks (TextAttack's ``Augmenter`` convention: ``max(1, int(rate × candidates))``)."""
from __future__ import annotations

import random
import re
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

#: a word: letters, with inner apostrophes ("don't", "o'brien"); PTB pieces such as "n't" or "'s" are not words
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
#: GLUE's PTB-tokenized text (SST-2: "it 's a charming journey .") puts a space before punctuation
_PTB = re.compile(r"\w [.,!?;:](\s|$)|\s(n't|'s|'re|'ll|'ve|'m|'d)\b")


def row_rng(family: str, seed: int, task_key: str, idx: int, field: str) -> random.Random:
    """The random stream of one text field of one row: seeded by a string (Python hashes it with sha512,
    independent of PYTHONHASHSEED), so a row's perturbation depends on nothing but these five values."""
    return random.Random(f"rbm-perturb|{family}|{seed}|{task_key}|{idx}|{field}")


@contextmanager
def global_rngs(rng: random.Random) -> Iterator[None]:
    """Seed Python's and NumPy's global generators from ``rng`` for a TextAttack call (its word swaps draw
    from them), restoring both afterwards so that nothing else sees the change."""
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(rng.getrandbits(64))
    np.random.seed(rng.getrandbits(32))
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def is_ptb(text: str) -> bool:
    """Whether ``text`` is PTB-tokenized (punctuation and clitics split off), so that edits keep its style."""
    return bool(_PTB.search(text))


def match_case(template: str, word: str) -> str:
    """``word`` written in the case of ``template`` (lower, UPPER, Title)."""
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word.lower() if template.islower() else word


def pick(rng: random.Random, candidates: Sequence[int], rate: float) -> list[int]:
    """Positions to change among ``candidates``: ``max(1, int(rate × len))`` of them, in text order (none when
    there is no candidate)."""
    if not candidates:
        return []
    k = min(len(candidates), max(1, int(rate * len(candidates))))
    return sorted(rng.sample(list(candidates), k))


def replace_words(text: str, rng: random.Random, rate: float, change: Callable[[str, random.Random], Optional[str]],
                  eligible: Callable[[str], bool] = lambda w: True) -> str:
    """Change ``rate`` of the eligible words of ``text`` with ``change(word, rng)`` (None: leave it); every other
    character stays as it was."""
    spans = [m.span() for m in WORD.finditer(text)]
    candidates = [i for i, (a, b) in enumerate(spans) if eligible(text[a:b])]
    out, last = [], 0
    for i in pick(rng, candidates, rate):
        a, b = spans[i]
        new = change(text[a:b], rng)
        out.append(text[last:a] + (text[a:b] if new is None else new))
        last = b
    return "".join(out) + text[last:]
