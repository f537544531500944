"""Issue 36: the perturbation suite (CheckList INV / DIR / MFT) on real data — families are seeded and
row-independent, a deterministic family scored by ``rbm run`` equals an independent batch-of-one evaluation of
the saved perturbed texts, an uncased tokenizer makes case families change nothing (and the record says so),
pair and user tasks run every family that fits, MFT failure rates and their exact intervals recompute from
the saved predictions, and bad input is one line with nothing written."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from cli_helpers import rbm
from paths import DATA_DIR
from robustbench_match.errors import RBMError
from robustbench_match.perturbations import FAMILIES, FAMILY_ORDER, perturb_examples
from test_hardening import Row, checkpoints, env, tiny_root  # noqa: F401 - fixtures of the hardening rounds
from test_hardening import test_hostile_invocation_is_one_line_and_changes_nothing as hostile_row  # not collected here

pytestmark = pytest.mark.skipif(not (DATA_DIR / "glue" / "SST-2").is_dir(), reason=f"no shared data at {DATA_DIR}")
SEEDED = [f for f in FAMILY_ORDER if FAMILIES.get(f).seeded]


@pytest.fixture(scope="module")
def nltk_ready():
    from robustbench_match.attacks.environment import configure_nltk, import_textattack

    mp = pytest.MonkeyPatch()
    mp.setenv("RBM_OFFLINE", "1")
    configure_nltk(str(DATA_DIR))
    import_textattack(str(DATA_DIR))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def sst2_dev(nltk_ready):
    from robustbench_match.data import load_split

    return load_split("sst2", "validation", str(DATA_DIR))


def _apply(family: str, text: str, seed: int = 0, **settings) -> str:
    from robustbench_match.perturbations.text import row_rng

    spec = FAMILIES.get(family)
    return spec.function()(text, row_rng(family, seed, "t", 0, "x"), **spec.check_settings(settings, family))


# ---------------------------------------------------------------------------- families
@pytest.mark.parametrize("family", SEEDED)
def test_same_seed_same_texts_other_seed_other_texts(family, sst2_dev):
    sample = sst2_dev.subset(np.arange(400))
    spec = FAMILIES.get(family)
    a = perturb_examples(sample, spec, 0, spec.check_settings(None, family))
    b = perturb_examples(sample, spec, 0, spec.check_settings(None, family))
    c = perturb_examples(sample, spec, 1, spec.check_settings(None, family))
    assert a.examples.text_a == b.examples.text_a and a.examples.sha256 == b.examples.sha256
    assert a.changed.any()
    assert a.examples.text_a != c.examples.text_a  # another seed, other texts (on the rows it can change)
    # a row's text depends on the row alone: the same rows perturbed inside a smaller sample are the same text
    rows = np.flatnonzero(a.changed)[:10]
    small = perturb_examples(sample.subset(rows[::-1]), spec, 0, spec.check_settings(None, family))
    assert small.examples.text_a[::-1] == [a.examples.text_a[i] for i in rows]


def test_deterministic_families_ignore_the_seed(sst2_dev):
    sample = sst2_dev.subset(np.arange(200))
    for family in (f for f in FAMILY_ORDER if not FAMILIES.get(f).seeded):
        spec = FAMILIES.get(family)
        assert perturb_examples(sample, spec, 0, spec.check_settings(None, family)).examples.text_a == \
            perturb_examples(sample, spec, 7, spec.check_settings(None, family)).examples.text_a, family


def _edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance: substitutions, insertions, deletions and adjacent swaps each count 1."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def test_typo_changes_the_configured_share_of_words_by_one_edit_each(sst2_dev):
    from robustbench_match.perturbations.text import WORD

    for rate in (0.1, 0.5, 1.0):
        for text in sst2_dev.text_a[:80]:
            new = _apply("typo", text, rate=rate)
            before, after = WORD.findall(text), WORD.findall(new)
            eligible = [w for w in before if len(w) >= 3 and w.isalpha()]
            assert len(before) == len(after)  # a typo never makes or removes a word
            changed = [(a, b) for a, b in zip(before, after) if a != b]
            assert len(changed) == min(len(eligible), max(1, int(rate * len(eligible)))), (text, new)
            assert all(_edits(a, b) == 1 for a, b in changed), changed


def test_surface_families_by_hand():
    assert _apply("strip-punct", "it 's a charming journey . ") == "it 's a charming journey"
    assert _apply("strip-punct", "Great, really great!!") == "Great, really great"
    assert _apply("strip-punct", "wow , so good ( really ) .", where="all") == "wow so good really"
    assert _apply("add-punct", "a fine film", marks="!") == "a fine film!"
    assert _apply("add-punct", "a fine film .") == "a fine film ."  # ends with punctuation: unchanged
    assert _apply("add-punct", "it 's fine , really", marks="?") == "it 's fine , really ?"  # PTB style kept
    assert _apply("expand", "it 's good and i do n't mind , wo n't you ?") == "it is good and i do not mind , will not you ?"
    assert _apply("expand", "I can't say it's bad.") == "I cannot say it is bad."
    assert _apply("expand", "the film 's score") == "the film 's score"  # a possessive is not a contraction
    assert _apply("contract", "It is what I do not like.") == "It's what I don't like."
    assert _apply("contract", "it is what i do not like .") == "it 's what i do n't like ."
    assert _apply("title", "don't be sad") == "Don't Be Sad"
    assert _apply("upper", "a b") == "A B" and _apply("lower", "A B") == "a b"


def test_negate_negates_the_main_clause_or_leaves_the_text_alone():
    assert _apply("negate", "The movie is great.") == "The movie is not great."
    assert _apply("negate", "it 's a charming journey .") == "it 's not a charming journey ."
    assert _apply("negate", "It's a fine film.") == "It's not a fine film."
    assert _apply("negate", "I can recommend it.") == "I cannot recommend it."
    assert _apply("negate", "he does love it") == "he does not love it"
    for untouched in ("Is it good?", "the acting was not good", "They loved it.", "The film, which is long, bores.",
                      "the film 's score", "no one is happy", "it never is dull"):
        assert _apply("negate", untouched) == untouched


def test_entity_and_number_families_by_hand():
    from robustbench_match.perturbations.lexical import lexicon

    new = _apply("names", "John met Mary Smith in Paris; john said John.")
    first, second, last = re.match(r"(\w+) met (\w+) (\w+) in Paris; john said (\w+)\.", new).group(1, 2, 3), None, None
    assert first[0] in lexicon("first_names_male") or first[0].lower() in lexicon("first_names_male")
    assert first[0].lower() != "john" and first[1].lower() in lexicon("first_names_female")
    assert new.endswith(f"john said {first[0]}.")  # the same mention, the same replacement; lower-case "john" kept
    loc = _apply("locations", "they moved from new york to brazil .")
    city, country = re.match(r"they moved from (.+) to (.+) \.", loc).groups()
    assert city in lexicon("cities") and city != "new york" and country in lexicon("countries") and country != "brazil"
    for seed in range(30):
        out = _apply("numbers", "it runs 100 minutes with two stars and 1 hero , rated 4.5 .", seed)
        minutes, word = re.match(r"it runs (\d+) minutes with (\w+) stars and 1 hero , rated 4\.5 \.", out).groups()
        assert 80 <= int(minutes) <= 120 and int(minutes) != 100 and word != "two"
    assert _apply("ocr", "bbbbb") != "bbbbb"
    assert _apply("whitespace", "wonderful") in {f"{'wonderful'[:i]} {'wonderful'[i:]}" for i in range(1, 9)}


def test_synonym_keeps_the_part_of_speech_and_the_word_form(nltk_ready):
    from robustbench_match.perturbations.lexical import pos_aware, synonym_candidates

    assert pos_aware()
    assert "film" in synonym_candidates("movie", "n") and synonym_candidates("movies", "n") == []
    assert all(c.lower()[:4] != "jour" for c in synonym_candidates("journey", "n"))
    out = _apply("synonym", "the movie is a wonderful story", rate=1.0)
    assert out != "the movie is a wonderful story" and out.split()[0] == "the"


@pytest.mark.parametrize("settings, message", [
    ({"rate": 0}, "rate: 0 is not a rate in (0, 1]"), ({"rate": 1.5}, "rate: 1.5 is not a rate in (0, 1]"),
    ({"rate": True}, "rate: True is not a rate"), ({"speed": 1}, "speed: not a setting of family typo"),
])
def test_family_settings_are_checked(settings, message):
    with pytest.raises(RBMError, match=re.escape(message)):
        FAMILIES.get("typo").check_settings(settings, "params.settings.typo")


# ---------------------------------------------------------------------------- metrics
def test_metrics_equal_an_independent_computation():
    from robustbench_match.evaluators.perturbation.evaluator import perturbation_metrics
    from robustbench_match.tasks import get_task

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    clean = np.where(rng.random(300) < 0.85, y, 1 - y)
    changed = rng.random(300) < 0.6
    pert = clean.copy()
    flip = changed & (rng.random(300) < 0.2)
    pert[flip] = 1 - pert[flip]
    m = perturbation_metrics(get_task("sst2"), y, clean, pert, changed)
    assert m["clean_accuracy"] == pytest.approx((clean == y).mean()) and m["accuracy"] == pytest.approx((pert == y).mean())
    assert m["flip_rate"] == pytest.approx(flip.sum() / changed.sum())
    assert m["n_changed"] == changed.sum() and m["changed_share"] == pytest.approx(changed.mean())
    b, c = int(((clean == y) & (pert != y)).sum()), int(((clean != y) & (pert == y)).sum())
    assert m["drop_p"] == pytest.approx(sps.binomtest(b, b + c, 0.5).pvalue)
    assert m["drop"] == pytest.approx((b - c) / 300)
    none = perturbation_metrics(get_task("sst2"), y, clean, clean, np.zeros(300, bool))
    assert np.isnan(none["flip_rate"]) and none["n_changed"] == 0 and none["drop"] == 0


# ---------------------------------------------------------------------------- MFT files
def _mft(folder: Path, body: str, name: str = "mine.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(body, encoding="utf-8")
    return folder / name


MFT_OK = """mft: mine
tasks: [sst2]
max_cases: 5
lexicons:
  adj: [good, great, fine]
  thing: [film, movie, plot]
tests:
  - name: plain
    template: "the {thing} is {adj} . the {thing} !"
    label: positive
"""


def test_mft_expansion_is_seeded_and_fills_a_placeholder_once(tmp_path):
    from robustbench_match.perturbations.mft import expand, load_mft

    mft = load_mft(_mft(tmp_path, MFT_OK))
    cases = expand(mft, mft.tests[0])
    assert len(cases) == 5 and cases == expand(mft, mft.tests[0]) and len(set(cases)) == 5
    for (text,) in cases:
        thing = re.match(r"the (\w+) is", text).group(1)
        assert text.endswith(f"the {thing} !")
    full = load_mft(_mft(tmp_path, MFT_OK.replace("max_cases: 5", "max_cases: 100")))
    assert len(expand(full, full.tests[0])) == 9


@pytest.mark.parametrize("change, message", [
    (("{adj}", "{adjective}"), "test 'plain': {adjective} names no lexicon"),
    (("label: positive", "label: postive"), "test 'plain': label 'postive' is not a label of sst2"),
    (("tasks: [sst2]", "tasks: [stsb]"), "a regression task"),
    (("tasks: [sst2]", "tasks: [nope]"), "unknown task 'nope'"),
    (("max_cases: 5", "max_cases: 0"), "max_cases: 0"),
    (("max_cases: 5", "max_cases: 1000000000"), "max_cases: 1000000000: expected a whole number from 1 to 100,000"),
    (("    label: positive\n", ""), "test 'plain': label: expected a label name"),
])
def test_mft_file_errors_name_the_file_and_the_test(tmp_path, change, message):
    from robustbench_match.perturbations.mft import load_mft

    path = _mft(tmp_path, MFT_OK.replace(*change))
    with pytest.raises(RBMError, match=re.escape(message)) as err:
        load_mft(path)
    assert str(path) in str(err.value)


def test_mft_label_a_task_lacks_is_refused(tmp_path):
    from robustbench_match.perturbations.mft import load_mft

    body = MFT_OK.replace("tasks: [sst2]", "tasks: [rte, mnli]").replace('"the {thing} is {adj} . the {thing} !"',
                                                                          '["a {thing}", "b {adj}"]')
    with pytest.raises(RBMError, match="none of its labels \\['neutral'\\] is a label of task rte"):
        load_mft(_mft(tmp_path, body.replace("label: positive", "label: neutral")))
    assert load_mft(_mft(tmp_path, body.replace("label: positive", "label: [neutral, not_entailment]"))).tests


# ---------------------------------------------------------------------------- the suite end to end
@pytest.fixture(scope="module")
def perturbation_run(tmp_path_factory, request, nltk_ready):
    """``rbm run perturbation`` on the session's fine-tuned SST-2 MiniLM: a deterministic, a case and a DIR family
    and the built-in MFT, on a seeded 150-row sample, predictions saved."""
    import os

    checkpoint = os.environ.get("RBM_TEST_SST2_CHECKPOINT") or request.getfixturevalue("sst2_checkpoint")
    out = tmp_path_factory.mktemp("perturbation-run")
    from robustbench_match.cli import main

    code = main(["run", "perturbation", "--tasks", "sst2", "--checkpoint", f"sst2/minilm={checkpoint}",
                 "--checkpoint", f"sst2/same={checkpoint}", "--data-dir", str(DATA_DIR), "--output", str(out),
                 "--limit", "150", "--save-predictions", "--format", "none",
                 "--set", "families=[strip-punct, upper, lower, negate, typo]", "--set", "perturbation_seeds=[0, 1]"])
    assert code == 0
    records = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    return out, checkpoint, {(r["model"], r["condition"]): r for r in records}


def _rows(out: Path, record: dict) -> list[dict]:
    """The cell's saved predictions, each with the text the model saw (``text``): the perturbed one from the shared
    file the record names (checked against its sha256), else the dev set's own."""
    import hashlib

    from robustbench_match.data import load_split

    rows = [json.loads(l) for l in (out / record["predictions_file"]).read_text().splitlines()]
    shared = record["details"].get("perturbed_texts")
    if shared is None:
        return rows
    raw = (out / shared["file"]).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == shared["sha256"]
    changed = {r["idx"]: r["sentence"] for r in map(json.loads, raw.decode().splitlines())}
    dev = dict(zip(*(lambda d: (d.idx.tolist(), d.text_a))(load_split("sst2", "validation", str(DATA_DIR)))))
    return [{**r, "text": {"sentence": changed.get(r["idx"], dev[r["idx"]])}} for r in rows]


def test_strip_punct_equals_a_batch_of_one_evaluation_of_the_saved_texts(perturbation_run):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from robustbench_match.data import load_split

    out, checkpoint, records = perturbation_run
    record = records[("minilm", "perturb:strip-punct")]
    rows = _rows(out, record)
    dev = load_split("sst2", "validation", str(DATA_DIR))
    original = dict(zip(dev.idx.tolist(), dev.text_a))
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    max_length = json.loads((Path(checkpoint) / "rbm_card.json").read_text())["hyperparameters"]["max_length"]
    one_by_one = []
    with torch.no_grad():
        for row in rows:
            enc = tokenizer(row["text"]["sentence"], truncation=True, max_length=max_length, return_tensors="pt")
            one_by_one.append(int(model(**enc).logits.argmax(-1)))
    preds = np.array([r["prediction"] for r in rows])
    clean = np.array([r["clean_prediction"] for r in rows])
    labels = np.array([r["label"] for r in rows])
    changed = np.array([r["changed"] for r in rows])
    assert one_by_one == preds.tolist()
    differs = np.array([r["text"]["sentence"] != original[r["idx"]] for r in rows])
    assert (differs == changed).all() and record["metrics"]["n_changed"] == differs.sum() > 100
    m = record["metrics"]
    assert m["accuracy"] == (preds == labels).mean() and m["clean_accuracy"] == (clean == labels).mean()
    assert m["flip_rate"] == (preds[changed] != clean[changed]).mean()
    assert m["clean_accuracy"] > 0.7  # a real model: far above SST-2's majority class
    assert record["details"]["changed_by"] == "tokens" and record["degenerate"] is False


def test_an_uncased_tokenizer_makes_case_families_change_nothing(perturbation_run, capsys):
    out, _, records = perturbation_run
    for family in ("upper", "lower"):
        r = records[("minilm", f"perturb:{family}")]
        assert r["metrics"]["n_changed"] == 0 and np.isnan(r["metrics"]["flip_rate"])
    # upper changed every text, and no model input (an uncased tokenizer); SST-2 is lower-cased already
    assert records[("minilm", "perturb:upper")]["details"]["n_text_changed"] > 100
    assert records[("minilm", "perturb:lower")]["details"]["n_text_changed"] == 0
    for family in ("upper", "lower"):
        r = records[("minilm", f"perturb:{family}")]
        assert r["metrics"]["accuracy"] == r["metrics"]["clean_accuracy"]
    code, text, _ = rbm(["table", out], capsys)
    assert code == 0
    row = next(l for l in text.splitlines() if l.startswith("|") and "minilm" in l)
    header = next(l for l in text.splitlines() if "upper" in l)
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")]))
    assert cells["upper (flip %)"] == "no change" and cells["lower (flip %)"] == "no change"


def test_perturbation_seeds_are_cells_of_their_own_and_the_table_averages_them(perturbation_run, capsys):
    out, _, records = perturbation_run
    a, b = records[("minilm", "perturb:typo:seed-0")], records[("minilm", "perturb:typo:seed-1")]
    assert a["details"]["perturbation_seed"] == 0 and b["details"]["perturbation_seed"] == 1
    texts_a = [r["text"]["sentence"] for r in _rows(out, a)]
    texts_b = [r["text"]["sentence"] for r in _rows(out, b)]
    assert texts_a != texts_b and a["data"]["sha256"] != b["data"]["sha256"]
    code, text, _ = rbm(["table", out], capsys)
    mean = 100 * (a["metrics"]["flip_rate"] + b["metrics"]["flip_rate"]) / 2
    header = next(l for l in text.splitlines() if "typo" in l)
    row = next(l for l in text.splitlines() if l.startswith("|") and "minilm" in l)
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")]))
    assert cells["typo (flip %)"] == f"{mean:.2f}"


def test_negate_dir_violations_recompute_from_the_saved_confidences(perturbation_run):
    out, _, records = perturbation_run
    r = records[("minilm", "perturb:negate")]
    rows = _rows(out, r)
    changed = np.array([x["changed"] for x in rows])
    rise = np.array([x["confidence"] - x["clean_confidence"] for x in rows])
    assert r["details"]["expectation"]["expect"] == "confidence-not-up"
    assert 0 < r["metrics"]["n_checked"] == changed.sum() < len(rows)
    assert r["metrics"]["violation_rate"] == pytest.approx((rise[changed] > 0).mean(), abs=1e-4)


def test_mft_failure_rates_and_exact_intervals_recompute(perturbation_run):
    out, _, records = perturbation_run
    r = records[("minilm", "mft:sentiment")]
    rows = _rows(out, r)
    for test in r["details"]["tests"]:
        mine = [x for x in rows if x["test"] == test["name"]]
        fails = sum(not x["passed"] for x in mine)
        assert test["n"] == len(mine) and test["failures"] == fails
        ci = sps.binomtest(fails, len(mine)).proportion_ci(method="exact")
        assert (test["ci_low"], test["ci_high"]) == pytest.approx((ci.low, ci.high))
    by_name = {t["name"]: t for t in r["details"]["tests"]}
    assert by_name["positive adjective"]["failure_rate"] < 0.2 and by_name["negative adjective"]["failure_rate"] < 0.2
    assert r["degenerate"] is False and r["details"]["guard_on"] == "clean eval set"


def test_compare_and_report_work_on_perturbation_cells(perturbation_run, capsys, tmp_path):
    out, _, _ = perturbation_run
    code, text, err = rbm(["compare", out, "--a", "minilm", "--b", "same", "--format", "json"], capsys)
    assert code == 0, err
    rows = json.loads(text)
    typo = [r for r in rows if "perturb:strip-punct" in json.dumps(r)]
    assert typo and all(abs(float(r.get("delta", 0) or 0)) < 1e-12 for r in typo)
    code, _, err = rbm(["report", out, "-o", tmp_path / "site"], capsys)
    assert code == 0, err
    page = (tmp_path / "site" / "index.html").read_text()
    assert "Failing examples" in page and "<ins>" in page and "MFT sentiment" in page


def _callable(batch):
    """A deterministic stand-in model: a hash of the text's characters (case-, punctuation- and typo-sensitive)."""
    out = []
    for x in batch:
        text = " | ".join(x) if isinstance(x, tuple) else x
        h = sum(map(ord, text)) % 5
        out.append([h / 5, 1 - h / 5])
    return np.array(out)


def test_a_pair_task_runs_every_family_and_negate_touches_the_hypothesis_only(nltk_ready):
    from robustbench_match.api import evaluate
    from robustbench_match.data import load_split

    result = evaluate(_callable, "perturbation", tasks=["rte"], data_dir=str(DATA_DIR), limit=40, name="rte/hash",
                      save_predictions=True)
    conditions = {r["condition"] for r in result.records}
    assert {c.split(":")[1] for c in conditions if c.startswith("perturb:")} == set(FAMILY_ORDER)
    assert "mft:nli" in conditions
    negate = next(r for r in result.records if r["condition"] == "perturb:negate")
    assert negate["details"]["fields"] == ["sentence2"] and negate["metrics"]["n_changed"] > 0
    typo = next(r for r in result.records if r["condition"] == "perturb:typo:seed-0")
    assert typo["details"]["fields"] == ["sentence1", "sentence2"] and typo["details"]["changed_by"] == "text"


def test_a_user_csv_task_runs_every_family_that_fits(tmp_path, nltk_ready):
    from robustbench_match.api import evaluate

    (tmp_path / "dev.csv").write_text('review,label\n"John says the film is great!",good\n'
                                      '"It is not what I expected; 3 boring hours.",bad\n', encoding="utf-8")
    (tmp_path / "reviews.yaml").write_text("task: reviews\ntext_fields: [review]\nlabel_names: [bad, good]\n"
                                           "data_files: {validation: dev.csv}\n", encoding="utf-8")
    result = evaluate(_callable, "perturbation", tasks=["reviews"], include_path=[str(tmp_path)], name="reviews/hash")
    families = {r["details"]["family"] for r in result.records}
    assert families == set(FAMILY_ORDER) - {"negate"}  # no expectation declared: negate does not fit
    with pytest.raises(RBMError, match="family negate is a directional test and task reviews declares no expectation"):
        evaluate(_callable, "perturbation", tasks=["reviews"], include_path=[str(tmp_path)], name="reviews/hash",
                 families=["negate"])
    (tmp_path / "reviews.yaml").write_text((tmp_path / "reviews.yaml").read_text()
                                           + "expectations: {negate: {expect: confidence-not-up}}\n")
    result = evaluate(_callable, "perturbation", tasks=["reviews"], include_path=[str(tmp_path)], name="reviews/hash",
                      families=["negate"])
    assert result.records[0]["metrics"]["n_changed"] == 1  # "the film is great" → negated; the other has a negation


# ---------------------------------------------------------------------------- bad input: one line, nothing written
def _run(e, c, *extra) -> list:
    return ["run", "perturbation", "--tasks", "sst2", "--checkpoint", f"sst2/m={c['good']}", "--data-dir", e["root"],
            "--output", e["tmp"] / "out", "--format", "none", *extra]


ROWS_P = [
    Row("unknown-family", lambda e, c: _run(e, c, "--set", "families=[tpyo]"), "unknown perturbation family 'tpyo'"),
    Row("rate-above-1", lambda e, c: _run(e, c, "--set", "settings.typo.rate=1.5"), "rate: 1.5 is not a rate in (0, 1]"),
    Row("rate-zero", lambda e, c: _run(e, c, "--set", "settings.ocr.rate=0"), "settings.ocr.rate: 0 is not a rate"),
    Row("unknown-setting", lambda e, c: _run(e, c, "--set", "settings.upper.rate=0.2"),
        "rate: not a setting of family upper"),
    Row("mft-undefined-lexicon", lambda e, c: _run(e, c, "--include-path", e["tmp"] / "m"),
        "test 'plain': {adjective} names no lexicon",
        lambda e, c: _mft(e["tmp"] / "m", MFT_OK.replace("{adj}", "{adjective}"))),
    Row("mft-label-the-task-lacks", lambda e, c: _run(e, c, "--include-path", e["tmp"] / "m"),
        "label 'entailment' is not a label of sst2",
        lambda e, c: _mft(e["tmp"] / "m", MFT_OK.replace("label: positive", "label: entailment"))),
    Row("mft-unknown-name", lambda e, c: _run(e, c, "--set", "mft=[sentimental]"), "no MFT file named 'sentimental'"),
    Row("negate-on-a-task-without-expectation", lambda e, c: ["run", "perturbation", "--tasks", "rating",
                                                             "--include-path", e["tmp"] / "t", "--checkpoint",
                                                             f"rating/m={c['good']}", "--output", e["tmp"] / "out",
                                                             "--set", "families=[negate]"],
        "family negate is a directional test and task rating declares no expectation",
        lambda e, c: ((e["tmp"] / "t").mkdir(), (e["tmp"] / "t" / "dev.csv").write_text("text,label\na,negative\n"),
                      (e["tmp"] / "t" / "rating.yaml").write_text(
                          "task: rating\ntext_fields: [text]\nlabel_names: [negative, positive]\n"
                          "data_files: {validation: dev.csv}\n"))),
    Row("predictions-file", lambda e, c: _run(e, c)[:4] + ["--checkpoint", f"sst2/p={e['tmp'] / 'p.json'}"] + _run(e, c)[6:],
        "needs a model", lambda e, c: (e["tmp"] / "p.json").write_text(json.dumps({"sst2": [0] * 32}))),
]


@pytest.mark.parametrize("row", ROWS_P, ids=[r.id for r in ROWS_P])
def test_bad_perturbation_input_is_one_line_and_changes_nothing(row, env, checkpoints, capsys, monkeypatch):
    hostile_row(row, env, checkpoints, capsys, monkeypatch)


@pytest.mark.parametrize("entry, message", [
    ("{negate: {expect: sadder}}", "expectations.negate.expect: 'sadder': expected one of confidence-not-up"),
    ("{negate: {expect: label-not-kept, label: happy}}", "expectations.negate.label: 'happy' is not a label"),
    ("{negate: {expect: confidence-not-up, fields: [title]}}", "expectations.negate.fields: ['title']"),
    ("{typo: {expect: confidence-not-up}}", "expectations.typo: not a directional perturbation family"),
    ("{negate: {expect: confidence-not-up, tolerance: 2}}", "expectations.negate.tolerance: 2"),
])
def test_a_task_files_expectations_are_checked(tmp_path, entry, message):
    from robustbench_match.tasks import parse_task, read_yaml

    (tmp_path / "dev.csv").write_text("review,label\na,bad\n")
    path = tmp_path / "t.yaml"
    path.write_text("task: t\ntext_fields: [review]\nlabel_names: [bad, good]\ndata_files: {validation: dev.csv}\n"
                    f"expectations: {entry}\n")
    with pytest.raises(RBMError, match=re.escape(message)) as err:
        parse_task(read_yaml(path), path)
    assert str(path) in str(err.value)
