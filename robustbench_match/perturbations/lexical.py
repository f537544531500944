"""Lexical families: ``synonym`` (WordNet from the offline nltk data, part-of-speech-aware through nltk's
tagger; written here because TextAttack's ``WordSwapWordNet`` ignores the part of speech and inflection),
``names``, ``locations`` and ``numbers`` (CheckList's ``change_names`` / ``change_location`` /
``change_number``, on the lexicons of ``lexicons/``; TextAttack's ``WordSwapChangeName``/``Location`` need a
flair NER model that is not available offline)."""
from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Optional

from .text import WORD, match_case, pick

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"


@lru_cache(maxsize=None)
def lexicon(name: str) -> tuple[str, ...]:
    """A lexicon of ``lexicons/NAME.txt``: one lower-case entry per line, ``#`` comments."""
    lines = (LEXICON_DIR / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return tuple(dict.fromkeys(l.strip().lower() for l in lines if l.strip() and not l.lstrip().startswith("#")))


# ---------------------------------------------------------------------------- entities
def _swap_entities(text: str, rng: random.Random, classes: dict[str, tuple[str, ...]]) -> str:
    """Replace every mention of an entry of ``classes`` (a class → its lexicon) by another entry of the same
    class, the same mention always by the same replacement. Cased text needs a capitalised mention (a lower-case
    "paris" in a cased sentence is not taken for the city); lower-cased text (SST-2) matches any case."""
    cased = text != text.lower()
    entries = {e: cls for cls, items in classes.items() for e in items}
    alternation = "|".join(sorted((re.escape(e) for e in entries), key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w'])({alternation})(?![\w'])", re.IGNORECASE)
    chosen: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        found = m.group(0)
        if cased and not found[:1].isupper():
            return found
        key = found.lower()
        if key not in chosen:
            pool = [e for e in classes[entries[key]] if e != key]
            chosen[key] = rng.choice(pool)
        new = chosen[key]
        return " ".join(match_case(part, w) for part, w in zip(_pad(found.split(" "), new), new.split(" ")))

    return pattern.sub(sub, text)


def _pad(parts: list[str], new: str) -> list[str]:
    n = len(new.split(" "))
    return (parts + [parts[-1]] * n)[:n]


def names(text: str, rng: random.Random) -> str:
    """Person names swapped for another of the same kind (female first, male first, last name)."""
    return _swap_entities(text, rng, {"female": lexicon("first_names_female"), "male": lexicon("first_names_male"),
                                      "last": tuple(n for n in lexicon("last_names")
                                                    if n not in lexicon("first_names_male"))})


def locations(text: str, rng: random.Random) -> str:
    """Cities swapped for other cities, countries for other countries."""
    return _swap_entities(text, rng, {"city": lexicon("cities"), "country": lexicon("countries")})


#: spelled numbers a sentence uses for counts; each may become another of these
NUMBER_WORDS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")


def _new_number(digits: str, rng: random.Random) -> str:
    n = int(digits)
    spread = max(1, n // 5)  # CheckList's change_number: within ±20 % of the original
    values = [v for v in range(max(2, n - spread), n + spread + 1) if v != n]
    return str(rng.choice(values))


def numbers(text: str, rng: random.Random) -> str:
    """Whole numbers ≥ 2 changed within ±20 % (at least ±1; 0 and 1 stay: "one" and "1" carry grammar), and the
    spelled counts two–twelve for another of them; decimals and numbers inside tokens stay."""
    text = re.sub(r"(?<![\w.,])\d+(?![\w]|[.,]\d)", lambda m: _new_number(m.group(0), rng) if int(m.group(0)) >= 2
                  else m.group(0), text)
    words = "|".join(NUMBER_WORDS)
    return re.sub(rf"(?<![\w'-])({words})(?![\w'-])",
                  lambda m: match_case(m.group(0), rng.choice([w for w in NUMBER_WORDS if w != m.group(0).lower()])),
                  text, flags=re.IGNORECASE)


# ---------------------------------------------------------------------------- synonyms
_POS = {"J": "a", "N": "n", "V": "v", "R": "r"}


@lru_cache(maxsize=1)
def _wordnet():
    from nltk.corpus import stopwords, wordnet

    wordnet.ensure_loaded()
    return wordnet, frozenset(stopwords.words("english"))


def _tagger():
    """nltk's averaged-perceptron tagger when its data is there, else None (synonyms then use every POS)."""
    try:
        import nltk

        nltk.pos_tag(["test"])
        return nltk.pos_tag
    except LookupError:
        return None


def synonym_candidates(word: str, pos: Optional[str]) -> list[str]:
    """Single-word lemmas of the word's most frequent WordNet sense of that part of speech (all parts of speech
    without a tag), for a word that is its own lemma (so no inflection is lost: "movies" is left alone)."""
    wordnet, _ = _wordnet()
    lower = word.lower()
    if wordnet.morphy(lower, pos) != lower if pos else wordnet.morphy(lower) != lower:
        return []
    senses = wordnet.synsets(lower, pos=pos) if pos else wordnet.synsets(lower)
    if not senses:
        return []
    lemmas = [l.name() for l in senses[0].lemmas()]
    return [l for l in dict.fromkeys(lemmas) if "_" not in l and "-" not in l and l.isalpha()
            and l.lower()[:4] != lower[:4]]  # not the word itself nor a form of it ("journey" → "journeying")


def synonym(text: str, rng: random.Random, rate: float = 0.1) -> str:
    """``rate`` of the content words (nouns, verbs, adjectives, adverbs that are not stopwords and have a
    synonym) replaced by a synonym of their most frequent sense, case kept."""
    _, stop = _wordnet()
    tagger = _tagger()
    matches = list(WORD.finditer(text))
    tags = [t for _, t in tagger([m.group(0) for m in matches])] if tagger and matches else [None] * len(matches)
    options = {}
    for i, (m, tag) in enumerate(zip(matches, tags)):
        word = m.group(0)
        if word.lower() in stop or "'" in word or len(word) < 3:
            continue
        pos = _POS.get(tag[:1]) if tag else None
        if tag and pos is None:
            continue
        found = synonym_candidates(word, pos)
        if found:
            options[i] = found
    out, last = [], 0
    for i in pick(rng, sorted(options), rate):
        a, b = matches[i].span()
        out.append(text[last:a] + match_case(matches[i].group(0), rng.choice(options[i])))
        last = b
    return "".join(out) + text[last:]


def pos_aware() -> bool:
    return _tagger() is not None
