"""MNLI negation groups: the tokenization of Sagawa et al. and a hand-checked sample of dev matched."""
from __future__ import annotations

import re

import numpy as np
import pytest

from paths import DATA_DIR
from robustbench_match.conditions import assign_negation_groups, group_names, has_negation
from robustbench_match.data import load_split

DATA = DATA_DIR
pytestmark = pytest.mark.skipif(not (DATA / "glue" / "MNLI").is_dir(), reason=f"no shared data at {DATA}")


def test_tokenization_rules():
    assert has_negation("Nobody came.")  # punctuation stripped, lower-cased
    assert not has_negation("There is no-one")  # "no-one" → "noone" once '-' is stripped
    assert has_negation("I have never, ever lied")
    assert not has_negation("Notably, nothingness is not a word here")  # "not" is not in the list
    assert not has_negation("He said no.", words=("never",))
    assert has_negation("He said NOT", words=("not",))


# Hand-checked rows of MNLI dev matched (label: 0 entailment, 1 neutral, 2 contradiction).
# Read by hand: 6 "...it never worked" (contradiction, negation); 24 "No, they wouldn't go there."
# (neutral, negation: "No," loses its comma); 25 "...there are no apologies..." (contradiction, negation);
# 1 "...are not able to..." and 14 "We don't loan..." have no listed word ("not", "don't" are not in it).
HAND_CHECKED = {0: 2, 1: 4, 2: 0, 6: 5, 13: 0, 14: 2, 15: 0, 24: 3, 25: 5, 27: 4}
SIZES_MATCHED = [3388, 91, 3036, 87, 2709, 504]  # counted once, 9815 rows in all


def test_group_ids_on_hand_checked_sample():
    mnli = load_split("mnli", "validation_matched", DATA)
    groups = assign_negation_groups(mnli)
    for i, group in HAND_CHECKED.items():
        assert groups[i] == group, (i, mnli.texts["hypothesis"][i])
    for i in range(0, len(mnli), 97):  # an independent re-implementation: ASCII punctuation by code ranges
        hyp = re.sub(r"[!-/:-@\[-`{-~]", "", mnli.texts["hypothesis"][i]).lower()
        neg = bool(set(hyp.split(" ")) & {"nobody", "no", "never", "nothing"})
        assert groups[i] == int(mnli.labels[i]) * 2 + int(neg), (i, hyp)
    assert np.bincount(groups, minlength=6).tolist() == SIZES_MATCHED
    assert group_names(mnli.task.label_names)[1] == "entailment/negation"
