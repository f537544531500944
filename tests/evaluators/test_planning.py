"""One planner (issue 10): typed suite params checked at load, one precedence for methods and seeds,
canonical method names, tasks without a train split skipped in one line, evaluators as siblings, cell
specs that travel (a trained cell's training set rebuilt bit for bit from its recipe) and fingerprints
that redo a stored record when what decides its number changed."""
from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import pytest

from paths import REPO
from robustbench_match.cli import main
from robustbench_match.errors import RBMError
from robustbench_match.evaluators.base import RunContext
from robustbench_match.suites import discover, load_suite_file

EVALUATORS_DIR = REPO / "robustbench_match" / "evaluators"


def suite_file(tmp_path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_builtin_suites_load_typed_params():
    suites = discover()
    assert suites["label-noise"].typed_params.ratios == (0.05, 0.1, 0.15)
    assert suites["advglue"].typed_params.clean is True
    assert suites["mnli-negation"].typed_params.interval_settings() == {"method": "clopper-pearson", "level": 0.95}
    assert suites["textattack"].typed_params.recipes == ("deepwordbug", "pwws")


@pytest.mark.parametrize("params, message", [
    ("{ratio: [0.1]}", "params.ratio: unknown key for a label-noise/minority suite"),
    ("{ratios: 0.1}", "params.ratios: 0.1 is not a list of"),
    ("{include_clean: 'yes'}", "params.include_clean: 'yes' is not true/false"),
    ("{data_seed: 1.5}", "params.data_seed: 1.5 is not an integer or null"),
    ("{ratios: [0]}", "params.ratios: ratio 0"),
    ("{methods: []}", "params.methods is empty"),
])
def test_bad_suite_params_are_one_line_naming_file_and_key(tmp_path, capsys, params, message):
    path = suite_file(tmp_path, f"suite: ln\nevaluator: label-noise\ntasks: [rte]\nparams: {params}\n")
    with pytest.raises(RBMError, match="params."):
        load_suite_file(path)
    code = main(["run", str(path), "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and str(path) in err[0] and message in err[0], err


def test_each_evaluator_rejects_keys_of_another(tmp_path):
    path = suite_file(tmp_path, "suite: g\nevaluator: glue\ntasks: [rte]\nparams: {subsets: [rte]}\n")
    with pytest.raises(RBMError, match=r"params.subsets: unknown key for a glue suite \(expected methods, seeds\)"):
        load_suite_file(path)
    path = suite_file(tmp_path, "suite: a\nevaluator: advglue\ntasks: [rte]\nparams: {subsets: [rte, wnli]}\n")
    with pytest.raises(RBMError, match=r"params.subsets: unknown \['wnli'\]"):
        load_suite_file(path)


def test_each_suite_kind_is_one_folder_of_siblings():
    """Every kind in the index is a folder with its evaluator, params and layout; no kind imports another
    (shared helpers live one level up: base, params, planning, scoring, and robustbench_match.tabulation)."""
    from robustbench_match.evaluators import EVALUATORS, KINDS, LAYOUTS, PARAMS

    folders = {kind.folder for kind in KINDS.values()}
    for folder in folders:
        for part in ("evaluator.py", "params.py", "layout.py"):
            assert (EVALUATORS_DIR / folder / part).is_file(), (folder, part)
        for path in (EVALUATORS_DIR / folder).glob("*.py"):
            tree = ast.parse(path.read_text())
            imported = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module:
                    target = node.module if node.level == 0 else "." * node.level + node.module
                    imported.add(target)
            others = {f for f in folders - {folder}
                      if any(t.startswith(("..", "robustbench_match.evaluators.")) and f in t.split(".") for t in imported)}
            assert not others, (path, others)
    for name, kind in KINDS.items():  # the index resolves: evaluator, params and every layout
        assert EVALUATORS.get(name).__name__ == kind.evaluator
        assert PARAMS.get(name).__name__ == kind.params
        for layout in kind.layouts:
            assert callable(LAYOUTS.get(layout))


def _plan(suite, tmp_path, data_dir, **ctx):
    from robustbench_match.evaluators import EVALUATORS

    return EVALUATORS.get(suite.evaluator)().plan(suite, RunContext(output=tmp_path / "run", data_dir=data_dir, **ctx))


def test_precedence_and_canonical_method_names(tmp_path, data_dir):
    path = suite_file(tmp_path, "suite: g\nevaluator: glue\ntasks: [rte]\nparams: {methods: [R3F], seeds: [4]}\n"
                                "train: {methods: [vanilla], seeds: [1, 2], epochs: 1}\n")
    suite = load_suite_file(path)
    cells = _plan(suite, tmp_path, data_dir)  # params > train
    assert {(c.model, c.seed) for c in cells} == {("r3f", 4)}
    cells = _plan(suite, tmp_path, data_dir, methods=["Match-Tuning", "match-tuning"], seeds=[7])  # CLI > params
    assert {(c.model, c.seed) for c in cells} == {("match-tuning", 7)}
    assert cells[0].train.config.method == "match-tuning" and cells[0].train.config.epochs == 1
    suite.params, suite.typed_params = {}, None
    cells = _plan(suite, tmp_path, data_dir)  # train: when params say nothing
    assert {(c.model, c.seed) for c in cells} == {("vanilla", 1), ("vanilla", 2)}
    with pytest.raises(RBMError, match="unknown method 'match-tunning'; did you mean 'match-tuning'"):
        _plan(suite, tmp_path, data_dir, methods=["match-tunning"])


def test_tasks_without_a_train_split_are_skipped_in_one_line(tmp_path, data_dir, caplog):
    """QNLI has only its dev split here: its trained cells are skipped with one line, never trained on dev."""
    path = suite_file(tmp_path, "suite: g\nevaluator: glue\ntasks: [qnli, rte]\ntrain: {methods: [vanilla]}\n")
    with caplog.at_level(logging.WARNING):
        cells = _plan(load_suite_file(path), tmp_path, data_dir)
    assert {c.task for c in cells} == {"rte"}
    lines = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(lines) == 1 and "QNLI" in lines[0] and "\n" not in lines[0]


@pytest.fixture
def noise_suite(tmp_path):
    return load_suite_file(suite_file(tmp_path, "suite: ln\nevaluator: label-noise\ntasks: [rte]\n"
                                                "params: {ratios: [0.1], include_clean: false}\n"
                                                "train: {methods: [vanilla], seeds: [3], max_train_examples: 300}\n"))


def test_trained_cell_spec_travels_and_rebuilds_its_training_set(noise_suite, tmp_path, data_dir):
    from robustbench_match.cells import fingerprint, from_spec, to_spec
    from robustbench_match.evaluators.planning import build_train_examples

    ctx = RunContext(output=tmp_path / "run", data_dir=data_dir)
    from robustbench_match.evaluators import EVALUATORS

    (cell,) = EVALUATORS.get("label-noise")().plan(noise_suite, ctx)
    cell.fingerprint = fingerprint(noise_suite, cell, ctx, "eval-sha")
    spec = json.loads(json.dumps(to_spec(noise_suite, cell, ctx)))  # through JSON, as a job reads it
    assert spec["train"]["data"] == {"kind": "perturbed", "condition_kind": "label-noise", "ratio": 0.1, "seed": 3,
                                     "pool": 300}
    assert spec["train"]["config"]["method"] == "vanilla" and Path(spec["train"]["config"]["output"]).is_absolute()
    suite2, cell2, ctx2 = from_spec(spec)
    assert cell2.key == cell.key == "ln|vanilla|rte|noise-10|3" and cell2.fingerprint == cell.fingerprint
    rebuilt = cell2.train.train_examples()
    assert rebuilt.sha256 == cell.train.expected_sha256 == cell2.train.expected_sha256
    assert len(rebuilt) == 300 and rebuilt.sha256 == build_train_examples(spec["train"]["data"], "rte", data_dir).sha256
    assert fingerprint(suite2, cell2, ctx2, "eval-sha") == cell.fingerprint  # the same identity on the other side


def test_fingerprint_parts_say_what_changed(noise_suite, tmp_path, data_dir):
    from robustbench_match.cells import fingerprint, stale_reason
    from robustbench_match.evaluators import EVALUATORS

    def fp(eval_sha="e1", **ctx):
        run = RunContext(output=tmp_path / "run", data_dir=data_dir, **ctx)
        (cell,) = EVALUATORS.get("label-noise")().plan(noise_suite, run)
        return fingerprint(noise_suite, cell, run, eval_sha)

    base = fp()
    assert fp() == base  # deterministic
    record = {"fingerprint": base}
    assert stale_reason(record, fp()) is None
    assert "checkpoint" in stale_reason(record, fp(train_overrides={"epochs": 2}))
    assert "checkpoint" in stale_reason(record, fp(train_overrides={"max_train_examples": 200}))
    assert "eval data" in stale_reason(record, fp("e2"))
    assert "evaluator params" in stale_reason(record, fp(max_length=64))
    # the run folder and device do not decide the number
    assert fp(device="cpu")["sha256"] == base["sha256"]
    run2 = RunContext(output=tmp_path / "elsewhere", data_dir=data_dir)
    (cell,) = EVALUATORS.get("label-noise")().plan(noise_suite, run2)
    assert fingerprint(noise_suite, cell, run2, "e1")["sha256"] == base["sha256"]


def test_stored_record_with_another_checkpoint_is_redone_with_a_line(tmp_path_factory, tmp_path, data_dir, caplog):
    """The same name with other weights, or another --max-length, is redone (saying why), never reused."""
    from executor_helpers import checkpoints

    from robustbench_match.results import ResultStore

    def records(folder):  # a redone cell appends its new record; the newest wins
        return {r["key"]: r for r in ResultStore(folder).records()}

    ckpts = checkpoints(tmp_path_factory)
    out = tmp_path / "run"
    base = ["run", "glue-dev", "--tasks", "rte", "--data-dir", data_dir, "--output", str(out), "--format", "none",
            "--max-length", "32"]
    assert main([*base, "--checkpoint", f"rte/m={ckpts['a']}"]) == 0
    first = records(out)["glue-dev|m|rte|clean|-"]
    assert main([*base, "--checkpoint", f"rte/m={ckpts['a']}"]) == 0
    assert records(out)["glue-dev|m|rte|clean|-"]["date"] == first["date"]  # same fingerprint: reused
    with caplog.at_level(logging.INFO, logger="robustbench_match.runner"):
        assert main([*base, "--checkpoint", f"rte/m={ckpts['b']}"]) == 0
    second = records(out)["glue-dev|m|rte|clean|-"]
    lines = [r.getMessage() for r in caplog.records if "redone" in r.getMessage()]
    assert lines == ["glue-dev|m|rte|clean|-: stored record redone: it was made with another checkpoint "
                     "(content or training request)"]
    assert second["fingerprint"] != first["fingerprint"]
    assert (out / second["checkpoint"]["path"]).resolve() == Path(ckpts["b"]).resolve()  # relative to the run folder
    fresh = tmp_path / "fresh"
    assert main([*base[:7], str(fresh), *base[8:], "--checkpoint", f"rte/m={ckpts['b']}"]) == 0
    assert records(fresh)["glue-dev|m|rte|clean|-"]["metrics"] == second["metrics"]  # b's own number


def test_plan_lists_cells_that_will_train(tmp_path, data_dir, capsys):
    path = suite_file(tmp_path, "suite: q\nevaluator: glue\ntasks: [rte]\ntrain: {methods: [vanilla], seeds: [1, 2]}\n")
    assert main(["run", str(path), "--data-dir", data_dir, "--output", str(tmp_path / "o"), "--plan"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "2 cells: 0 stored, 2 to run, 0 to redo; 2 job(s), 2 checkpoint(s) to train"
    assert all(line.startswith("run") and "trains vanilla on rte" in line for line in out[:-1])
    assert not (tmp_path / "o" / "results.jsonl").exists()


def test_card_module_documents_every_field_the_trainer_writes(tmp_path, data_dir):
    """One module owns the checkpoint card: the trainer writes it through robustbench_match.card, and every
    field it writes is documented in CARD_SCHEMA; checkpoints read it back through the same module."""
    from robustbench_match.card import CARD_FILE, CARD_SCHEMA, read_card
    from robustbench_match.checkpoints import HFCheckpoint
    from robustbench_match.training import TrainConfig, train

    out = train(TrainConfig(method="vanilla", task="rte", seed=1, output=str(tmp_path / "ck"), data_dir=data_dir,
                            max_steps=1, batch_size=8, max_train_examples=16, max_length=32))
    card = read_card(out)
    assert (Path(out) / CARD_FILE).is_file() and card["task"] == "rte" and card["seed"] == 1
    assert set(card) <= set(CARD_SCHEMA), set(card) - set(CARD_SCHEMA)
    assert HFCheckpoint("m", out).card == card
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / CARD_FILE).write_text("[1, 2]")
    with pytest.raises(RBMError, match="expected a JSON object"):
        read_card(tmp_path / "bad")
