"""The committed paper-minilm results (issue 9) re-score from their saved predictions, and the re-scorer
would notice if they did not: a stored metric off by 1e-6, a flipped prediction, a missing file."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from paths import REPO

FOLDER = REPO / "results" / "paper-minilm"


@pytest.fixture(scope="module")
def rescore():
    spec = importlib.util.spec_from_file_location("rescore", FOLDER / "rescore.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def records() -> list[dict]:
    out = []
    for path in sorted(FOLDER.glob("**/results.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def test_every_committed_record_equals_its_predictions(rescore, data_dir):
    stored = records()
    assert len(stored) >= 90
    failures = {(str(folder), r["key"]): rescore.check_record(r, data_dir, folder)[0] for folder, r in stored_in()}
    assert {k: v for k, v in failures.items() if v} == {}
    # what the tables may claim: fewer than 10 % of the records come from one-class models
    assert sum(r["degenerate"] for r in stored) < 0.10 * len(stored)


def stored_in() -> list[tuple[Path, dict]]:
    """Every committed record with the run folder it is stored in (its paths are relative to that folder)."""
    return [(path.parent, json.loads(line)) for path in sorted(FOLDER.glob("**/results.jsonl"))
            for line in path.read_text().splitlines() if line.strip()]


def first(kind: str) -> dict:
    """The first committed record of an evaluator kind scored by accuracy (a classification task)."""
    return next(r for r in records() if r["evaluator"] == kind and "accuracy" in r["metrics"])


def test_a_wrong_stored_metric_is_reported(rescore, data_dir):
    record = first("glue")
    record["metrics"]["accuracy"] += 1e-4
    problems, _ = rescore.check_record(record, data_dir)
    assert problems and "accuracy" in problems[0]


def tampered(rescore, record: dict, tmp_path: Path, row: int, field: str) -> dict:
    """The record pointing at a copy of its predictions with one binary ``field`` flipped in ``row``."""
    rows = [json.loads(line) for line in rescore.predictions_path(record).read_text().splitlines()]
    rows[row][field] = 1 - rows[row][field]
    copy = tmp_path / "preds.jsonl"
    copy.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return {**record, "predictions_file": str(copy)}


def test_a_flipped_prediction_is_reported(rescore, data_dir, tmp_path):
    problems, _ = rescore.check_record(tampered(rescore, first("glue"), tmp_path, 0, "prediction"), data_dir)
    assert any("accuracy" in p for p in problems)


def test_a_wrong_gold_label_and_a_missing_file_are_reported(rescore, data_dir, tmp_path):
    record = first("advglue")
    problems, _ = rescore.check_record(tampered(rescore, record, tmp_path, 3, "label"), data_dir)
    assert "1 labels differ from the raw dev file" in problems
    problems, _ = rescore.check_record({**record, "predictions_file": str(tmp_path / "nope.jsonl")}, data_dir)
    assert problems and "missing" in problems[0]


def test_a_tampered_perturbation_record_is_reported(rescore, data_dir, tmp_path):
    record = next(r for r in records() if r["evaluator"] == "perturbation" and r["metrics"].get("n_changed", 0) > 800)
    problems, _ = rescore.check_record(tampered(rescore, record, tmp_path, 0, "clean_prediction"), data_dir)
    assert any("clean_accuracy" in p for p in problems) and any("flip_rate" in p for p in problems)


def test_per_task_temperature_suite_differs_from_the_grid_only_in_t():
    """pm-glue-pertask-t is a copy of pm-glue's training settings with another T: a drift in any other
    setting (lr, epochs, rows, batches) would make its Table 1 row a different budget, not a different T."""
    import yaml

    grid = yaml.safe_load((FOLDER / "suites" / "pm-glue.yaml").read_text())["train"]
    per_task = yaml.safe_load((FOLDER / "suites" / "pm-glue-pertask-t.yaml").read_text())["train"]
    varying = {"method_args", "methods"}
    assert {k: v for k, v in per_task.items() if k not in varying} == \
           {k: v for k, v in grid.items() if k not in varying}
    t = per_task["method_args"]["match-tuning"]["temperature"]
    assert t != grid["method_args"]["match-tuning"]["temperature"]


def test_imported_vanilla_rows_are_the_table_1_and_3_models(rescore):
    """Issue 21 scores vanilla's CoLA / MRPC rows from Table 1's and Table 3's saved predictions instead of
    retraining them: each such record must carry exactly the predictions of the record it came from."""
    chosen = FOLDER / "headline-chosen-t"
    imported = [r for r in records() if r["checkpoint"]["kind"] == "predictions"
                and r["suite"].endswith("-chosen-t")]
    assert len(imported) >= 15  # CoLA and MRPC clean, MRPC clean + 3 noise levels, seeds 1-3
    for record in imported:
        source = Path(record["checkpoint"]["path"].split("imported-vanilla/", 1)[1]).with_suffix(".jsonl")
        assert source.parts[0] in ("table1-glue", "table3-label-noise")
        assert source.stem == f"{record['task']}__{record['condition']}__seed-{record['seed']}"
        assert (source.parts[0] == "table1-glue") == (record["condition"] == "clean")
        original = [json.loads(line) for line in (FOLDER / source).read_text().splitlines()]
        scored = [json.loads(line) for line in rescore.predictions_path(record, chosen).read_text().splitlines()]
        assert [(r["idx"], r["prediction"], r["label"]) for r in scored] == \
            [(r["idx"], r["prediction"], r["label"]) for r in original], record["key"]
        assert (chosen / "imported-vanilla" / source.with_suffix(".json")).is_file()


def test_no_committed_results_file_holds_an_absolute_path():
    """Results are read on other machines (issue 35): every path in them is relative to its run folder (or
    names the package), never this machine's — checked over every JSON, Markdown, CSV and LaTeX file."""
    spec = importlib.util.spec_from_file_location("portable_paths", REPO / "results" / "portable_paths.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [str(p.relative_to(REPO)) for p in module.offenders()] == []
