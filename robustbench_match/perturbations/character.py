"""Character-level families: ``typo`` (TextAttack's four character word swaps), ``ocr`` and ``whitespace``
(written here: TextAttack has no OCR-confusion or word-boundary transformation)."""
from __future__ import annotations

import random
from functools import lru_cache

from .text import global_rngs, replace_words


@lru_cache(maxsize=1)
def _typo_swaps() -> tuple:
    """TextAttack's keyboard-neighbour substitution, adjacent swap, deletion and insertion, each returning one
    random candidate (``random_one=True``); imported on first use (textattack is heavy)."""
    from textattack.transformations import (WordSwapNeighboringCharacterSwap, WordSwapQWERTY,
                                            WordSwapRandomCharacterDeletion, WordSwapRandomCharacterInsertion)

    return (WordSwapQWERTY(random_one=True), WordSwapNeighboringCharacterSwap(random_one=True),
            WordSwapRandomCharacterDeletion(random_one=True), WordSwapRandomCharacterInsertion(random_one=True))


def _one_typo(word: str, rng: random.Random) -> str | None:
    swaps = list(_typo_swaps())
    rng.shuffle(swaps)
    for swap in swaps:  # the first kind that can change this word (QWERTY cannot change "'")
        with global_rngs(rng):
            candidates = [c for c in swap._get_replacement_words(word) if c != word]
        if candidates:
            return candidates[0]
    return None


def typo(text: str, rng: random.Random, rate: float = 0.1) -> str:
    """One typo in ``rate`` of the words of three letters or more, apostrophes excluded (at least one word): a keyboard neighbour,
    two adjacent letters swapped, a letter deleted or a letter inserted, the kind drawn per word."""
    return replace_words(text, rng, rate, _one_typo, lambda w: len(w) >= 3 and w.isalpha())


#: common OCR confusions (character shapes an OCR engine mixes up), both directions where they read as text
OCR_CONFUSIONS: dict[str, tuple[str, ...]] = {
    "rn": ("m",), "m": ("rn",), "cl": ("d",), "d": ("cl",), "vv": ("w",), "w": ("vv",), "l": ("1", "I"),
    "I": ("l", "1"), "i": ("1", "l"), "o": ("0",), "O": ("0",), "0": ("o",), "1": ("l",), "s": ("5",),
    "S": ("5",), "5": ("s",), "e": ("c",), "c": ("e",), "a": ("o",), "h": ("b",), "b": ("h", "6"),
    "g": ("q", "9"), "q": ("g",), "u": ("v",), "v": ("u",), "n": ("h",), "B": ("8",), "Z": ("2",), "t": ("f",),
}


def _ocr_sites(word: str) -> list[tuple[int, str]]:
    return [(i, key) for key in OCR_CONFUSIONS for i in range(len(word)) if word.startswith(key, i)]


def _one_ocr(word: str, rng: random.Random) -> str | None:
    sites = _ocr_sites(word)
    if not sites:
        return None
    i, key = rng.choice(sites)
    return word[:i] + rng.choice(OCR_CONFUSIONS[key]) + word[i + len(key):]


def ocr(text: str, rng: random.Random, rate: float = 0.1) -> str:
    """One OCR confusion (``rn``→``m``, ``l``→``1``, ``o``→``0``, ``e``→``c`` …; :data:`OCR_CONFUSIONS`) in
    ``rate`` of the words of three letters or more that hold one."""
    return replace_words(text, rng, rate, _one_ocr, lambda w: len(w) >= 3 and w.isalpha() and bool(_ocr_sites(w)))


def whitespace(text: str, rng: random.Random, rate: float = 0.1) -> str:
    """Word-boundary errors in ``rate`` of the words of four letters or more: a space inserted inside the word
    ("mov ie") or the space after it removed ("moviewas"), drawn per word. Doubling a space is not a
    family: word-piece tokenizers normalise it away, so it would only ever count as unchanged."""
    import re

    words = [m for m in re.finditer(r"[A-Za-z]{4,}", text)]
    if not words:
        return text
    k = min(len(words), max(1, int(rate * len(words))))
    chosen = sorted(rng.sample(range(len(words)), k))
    out, last = [], 0
    for i in chosen:
        m = words[i]
        a, b = m.span()
        follows_space = b < len(text) and text[b] == " " and b + 1 < len(text) and text[b + 1].isalnum()
        if follows_space and rng.random() < 0.5:
            out.append(text[last:b])
            last = b + 1  # drop the space: the word runs into the next
        else:
            cut = rng.randrange(1, b - a)
            out.append(text[last:a + cut] + " ")
            last = a + cut
    return "".join(out) + text[last:]
