"""Attack-suite pieces that need no model: recipes, resources, metrics, the crash-safe log."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from robustbench_match.attacks.environment import configure_nltk, ta_cache_dir
from robustbench_match.evaluators.textattack.evaluator import AttackSettings, attack_condition, sample_positions
from robustbench_match.attacks.log import AttackLog
from robustbench_match.attacks.metrics import LOG_FIELDS, attack_metrics
from robustbench_match.attacks.recipes import RECIPES, get_recipe, parse_recipes, require_resources
from robustbench_match.attacks.wrapper import split_inputs, to_task_order
from robustbench_match.errors import RBMError
from robustbench_match.registry import UnknownNameError


def test_recipes_by_name_with_suggestion():
    assert {"deepwordbug", "pwws", "textfooler", "bae", "bert-attack", "pruthi"} <= set(RECIPES.names())
    assert parse_recipes("DeepWordBug, pwws,deepwordbug") == ["deepwordbug", "pwws"]
    with pytest.raises(UnknownNameError, match="did you mean 'textfooler'"):
        parse_recipes("textfoler")


def test_settings_resolve_options_over_params():
    s = AttackSettings.resolve({"recipes": ["pwws"], "num_examples": 50, "sample_seed": 3},
                               {"recipe": ["deepwordbug"], "num_examples": None, "query_budget": 200})
    assert (s.recipes, s.num_examples, s.query_budget, s.sample_seed) == (("deepwordbug",), 50, 200, 3)
    with pytest.raises(RBMError, match="--num-examples 0"):
        AttackSettings.resolve({}, {"num_examples": 0})
    assert attack_condition("clean", "pwws") == "attack:pwws"
    assert attack_condition("noise-10", "pwws") == "noise-10+attack:pwws"


def test_sample_is_seeded_and_a_larger_one_extends_it():
    a, b = sample_positions(872, 20, 0), sample_positions(872, 50, 0)
    assert len(set(a.tolist())) == 20 and (b[:20] == a).all()
    assert not (sample_positions(872, 20, 1) == a).all()
    assert len(sample_positions(5, 20, 0)) == 5


def test_missing_embedding_is_one_line_naming_the_folder(tmp_path, monkeypatch, data_dir):
    configure_nltk(data_dir)
    monkeypatch.setenv("TA_CACHE_DIR", str(tmp_path / "ta"))
    monkeypatch.setenv("RBM_OFFLINE", "1")
    with pytest.raises(RBMError) as err:
        require_resources(get_recipe("textfooler"))
    message = str(err.value)
    assert "\n" not in message
    assert "$TA_CACHE_DIR/word_embeddings/paragramcf" in message and str(ta_cache_dir()) in message


def test_missing_nltk_data_is_one_line_naming_nltk_data(tmp_path, monkeypatch):
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.setenv("RBM_OFFLINE", "1")
    with pytest.raises(RBMError) as err:
        require_resources(get_recipe("pwws"))
    assert "\n" not in str(err.value)
    assert "recipe pwws" in str(err.value) and "NLTK_DATA" in str(err.value)


def test_missing_masked_lm_names_local_path_option(tmp_path, monkeypatch):
    monkeypatch.setenv("RBM_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr("robustbench_match.attacks.recipes.environment.ensure_nltk", lambda names: None)
    with pytest.raises(RBMError, match=r"hf:bert-base-uncased .*\$RBM_LM_DIR/bert-base-uncased/"):
        require_resources(get_recipe("bert-attack"))


def _row(result: str, words: int, changed: int, queries: int) -> dict:
    return {"result": result, "num_words": words, "words_changed": changed, "num_queries": queries}


def test_metrics_follow_textattack_definitions():
    rows = [_row("successful", 10, 2, 30), _row("successful", 20, 1, 50), _row("failed", 8, 3, 40),
            _row("skipped", 12, 0, 1)]
    m = attack_metrics(rows)
    assert m["original_accuracy"] == 0.75  # skipped = misclassified before the attack
    assert m["accuracy_under_attack"] == 0.25
    assert m["accuracy_drop"] == 0.5
    assert m["attack_success_rate"] == pytest.approx(2 / 3)
    assert m["avg_perturbed_word_pct"] == pytest.approx((20.0 + 5.0) / 2)  # successful only
    assert m["avg_words_per_input"] == pytest.approx(12.5)  # every input
    assert m["avg_queries"] == pytest.approx(40.0)  # skipped excluded


def test_log_drops_a_torn_row_and_keeps_finished_ones(tmp_path):
    log = AttackLog(tmp_path / "log.csv", LOG_FIELDS)
    full = {k: "x" for k in LOG_FIELDS}
    for i in range(3):
        log.append({**full, "position": i, "original_text": f'text "{i}", with, commas'})
    with open(log.path, "a", encoding="utf-8") as f:  # a kill in the middle of the fourth row
        f.write('3,17,1,successful,1,0,"a partial')
    rows = log.rows()
    assert [int(r["position"]) for r in rows] == [0, 1, 2]
    assert rows[1]["original_text"] == 'text "1", with, commas'
    with open(log.path, encoding="utf-8") as f:
        assert len(list(csv.reader(f))) == 4  # repaired on disk: header + 3 rows
    log.append({**full, "position": 3})
    assert [int(r["position"]) for r in log.rows()] == [0, 1, 2, 3]


def test_inputs_and_label_order():
    assert split_inputs(["a", "b"]) == (["a", "b"], None)
    assert split_inputs([("p", "h"), ("p2", "h2")]) == (["p", "p2"], ["h", "h2"])
    logits = np.array([[1.0, 2.0, 3.0]])
    # model output j is task label mapping[j]: output 0 → label 2, 1 → 0, 2 → 1
    assert to_task_order(logits, np.array([2, 0, 1])).tolist() == [[2.0, 3.0, 1.0]]
    assert to_task_order(logits, np.array([0, 1, 2])) is logits


def test_local_model_folder_replaces_the_hub(tmp_path, monkeypatch):
    """$RBM_LM_DIR/<hub-id>/ makes the resource present and is what the recipe's hub id loads."""
    import transformers

    from robustbench_match.attacks.recipes import _local_models
    from robustbench_match.attacks.resources import RESOURCES
    from robustbench_match.models import resolve_base_model

    (tmp_path / "bert-base-uncased").symlink_to(resolve_base_model(None), target_is_directory=True)
    monkeypatch.setenv("RBM_LM_DIR", str(tmp_path))
    assert RESOURCES["hf:bert-base-uncased"].present()
    with _local_models():
        tok = transformers.AutoTokenizer.from_pretrained("bert-base-uncased")
    assert str(tmp_path / "bert-base-uncased") in tok.name_or_path
    assert "from_pretrained" not in transformers.GPT2LMHeadModel.__dict__  # patch undone


def test_plan_one_cell_per_recipe_and_checkpoint_task(tmp_path, data_dir):
    from robustbench_match.evaluators.textattack.evaluator import TextAttackEvaluator
    from robustbench_match.evaluators.base import CheckpointRef, RunContext
    from robustbench_match.suites import get_suite

    ctx = RunContext(output=tmp_path, data_dir=data_dir, options={"recipe": ["pwws", "deepwordbug"]},
                     checkpoints=[CheckpointRef.parse(f"sst2/a={tmp_path}"), CheckpointRef.parse(f"mnli/b={tmp_path}")])
    cells = TextAttackEvaluator().plan(get_suite("textattack"), ctx)
    keys = sorted((c.model, c.eval_set, c.condition) for c in cells)
    assert keys == sorted((m, e, f"attack:{r}") for m, sets in (("a", ["sst2"]), ("b", ["mnli-m", "mnli-mm"]))
                          for e in sets for r in ("pwws", "deepwordbug"))
    assert {c.params["num_examples"] for c in cells} == {100} and {c.params["sample_seed"] for c in cells} == {0}
