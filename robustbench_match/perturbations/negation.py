"""``negate``: a rule-based English negation for directional (DIR) tests, written here (TextAttack has no
negation transformation; CheckList's needs spaCy's parser). It negates the first auxiliary or copula of the
main clause ("is" → "is not", "can" → "cannot", "does" → "does not"), and leaves alone — unchanged, so counted as
not perturbable — every sentence it cannot negate safely: one that already holds a negation (double
negation), a question, a sentence with no auxiliary (negating a bare verb needs its lemma: "loved" → "did not
love"), and one whose first auxiliary follows a comma or a subordinating word (it may sit in a subordinate
clause: "the film, which is long, ...")."""
from __future__ import annotations

import random
import re

from .text import match_case

NEGATIONS = frozenset({"not", "n't", "no", "never", "nothing", "nobody", "none", "neither", "nor", "cannot",
                       "nowhere", "without"})
#: auxiliaries and copulas a "not" can follow; "have/has/had" are left out (also main verbs: "has a plot")
AUXILIARIES = frozenset({"is", "are", "was", "were", "am", "do", "does", "did", "can", "could", "will", "would",
                         "should", "must", "may", "might", "shall", "'s", "'re", "'m"})
SUBORDINATORS = frozenset({"which", "that", "who", "whom", "whose", "when", "while", "if", "because", "although",
                           "though", "since", "unless", "whether", "where", "as", "after", "before", "until"})
#: pronouns whose "'s"/"'re"/"'m" is a verb ("it's", PTB "it 's"); after a noun "'s" is a possessive
PRONOUNS = frozenset({"it", "that", "he", "she", "there", "here", "what", "who", "they", "we", "you", "i", "this"})
_CLITIC = re.compile(r"^([a-z]+)'(s|re|m)$")
_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|n't|'[a-z]+|[^\sA-Za-z]")


def negate(text: str, rng: random.Random) -> str:
    """The text with its main clause negated, or the text itself when no rule applies safely."""
    tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    lowered = [t.lower() for t, _, _ in tokens]
    if not tokens or text.rstrip().endswith("?") or any(t in NEGATIONS or t.endswith("n't") for t in lowered):
        return text
    for i, word in enumerate(lowered):
        if word in SUBORDINATORS or word in {",", ";", ":", "(", "-"}:
            return text
        clitic = _CLITIC.match(word)
        if clitic and clitic.group(1) in PRONOUNS or word in ("'s", "'re", "'m") and i and lowered[i - 1] in PRONOUNS:
            end = tokens[i][2]
            return text[:end] + " not" + text[end:]
        if word in AUXILIARIES and not word.startswith("'"):
            if i == 0:
                return text  # sentence-initial auxiliary: a question or an inversion
            token, start, end = tokens[i]
            if word == "can":
                return text[:start] + match_case(token, "cannot") + text[end:]
            return text[:end] + " not" + text[end:]
    return text
