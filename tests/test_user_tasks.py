"""Issue 20: any dataset (task YAML files) and any model (the Python API), on real data.

A copy of SST-2 written as CSV by the test must give exactly the built-in sst2's numbers: predictions,
label-noise flips, minority rows and TextAttack outcomes. A three-class JSONL task (MNLI rows, label
*names*), a regression parquet task (STS-B rows) and a group_field task run end to end with the right
metrics; bad task files are one line each and write nothing.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score

from cli_helpers import rbm
from paths import DATA_DIR
from robustbench_match.data import load_split
from robustbench_match.results import predictions_path

DATA = DATA_DIR
pytestmark = pytest.mark.skipif(not (DATA / "glue" / "SST-2").is_dir() and not os.environ.get("CI"),
                                reason=f"no shared data at {DATA}")
N_MNLI = 300




def _sst2_csv(folder: Path, split: str) -> None:
    with open(DATA / "glue" / "SST-2" / f"{split}.tsv", encoding="utf-8") as fh:
        rows = [line.rstrip("\n").rsplit("\t", 1) for line in fh][1:]
    name = "dev" if split == "dev" else "train"
    with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "sentiment"])
        writer.writerows([(text, ["negative", "positive"][int(label)]) for text, label in rows])  # names, not ids


@pytest.fixture(scope="module")
def tasks_dir(tmp_path_factory) -> Path:
    """User task files: SST-2 as CSV (label names, other column names), MNLI rows as JSONL, STS-B rows as
    parquet, and MNLI rows with a group column."""
    folder = tmp_path_factory.mktemp("tasks")
    _sst2_csv(folder, "train")
    _sst2_csv(folder, "dev")
    (folder / "my-sst2.yaml").write_text(
        "task: my-sst2\ndisplay: My SST-2\ndataset_path: csv\n"
        "data_files: {train: train.csv, validation: dev.csv}\ntext_fields: [text]\nlabel_field: sentiment\n"
        "label_names: [negative, positive]\neval_splits: {my-sst2: validation}\nmetrics: [accuracy]\n"
        "seed_key: sst2   # draw SST-2's seeded samples and perturbations\n")
    mnli = load_split("mnli", "validation_matched", str(DATA)).subset(np.arange(N_MNLI))
    from robustbench_match.conditions.groups import assign_negation_groups, group_names

    groups = assign_negation_groups(mnli)
    names = group_names(mnli.task.label_names)
    with open(folder / "nli.jsonl", "w", encoding="utf-8") as fh:
        for i in range(N_MNLI):
            fh.write(json.dumps({"premise": mnli.texts["premise"][i], "hypothesis": mnli.texts["hypothesis"][i],
                                 "gold": mnli.task.label_names[int(mnli.labels[i])],
                                 "group": names[int(groups[i])]}) + "\n")
    (folder / "my-nli.yaml").write_text(
        "task: my-nli\ndataset_path: json\ndata_files: {validation: nli.jsonl}\ntext_fields: [premise, hypothesis]\n"
        "label_field: gold\nlabel_names: [entailment, neutral, contradiction]\nmetrics: [accuracy, macro_f1]\n")
    (folder / "my-groups.yaml").write_text(
        "task: my-groups\ndataset_path: json\ndata_files: {validation: nli.jsonl}\ntext_fields: [premise, hypothesis]\n"
        "label_field: gold\nlabel_names: [entailment, neutral, contradiction]\ngroup_field: group\n")
    import pandas as pd

    sts = load_split("stsb", "validation", str(DATA)).subset(np.arange(200))
    pd.DataFrame({"s1": sts.texts["sentence1"], "s2": sts.texts["sentence2"],
                  "score": sts.labels.astype(float)}).to_parquet(folder / "sts.parquet")
    (folder / "my-sts.yaml").write_text(
        "task: my-sts\ndataset_path: parquet\ndata_files: {validation: sts.parquet}\ntext_fields: [s1, s2]\n"
        "label_field: score\nlabel_names: null\nmetrics: [spearmanr, pearson]\n")
    return folder


def _fresh(folder: Path, labels) -> Path:
    """The packaged MiniLM with a fresh head for ``labels`` (None: one regression output)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from robustbench_match.models import default_base_model

    base = default_base_model()
    kwargs = {"num_labels": 1} if labels is None else {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                                                       "label2id": {n: i for i, n in enumerate(labels)}}
    AutoModelForSequenceClassification.from_pretrained(base, **kwargs).save_pretrained(folder)
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    return folder


def _records(out: Path) -> dict[str, dict]:
    return {json.loads(x)["key"]: json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()}


def test_a_csv_copy_of_sst2_scores_exactly_as_the_builtin(tasks_dir, sst2_checkpoint, tmp_path, capsys, caplog):
    mine, builtin = tmp_path / "mine", tmp_path / "builtin"
    code, _, err = rbm(["run", "glue-dev", "--include-path", tasks_dir, "--tasks", "my-sst2", "--checkpoint",
                        f"my-sst2/m={sst2_checkpoint}", "--output", mine, "--save-predictions", "--format", "none"], capsys)
    assert code == 0, err
    assert "transfer evaluation" in caplog.text  # trained for sst2, scored on my-sst2: said, not refused
    assert rbm(["run", "glue-dev", "--tasks", "sst2", "--checkpoint", f"sst2/m={sst2_checkpoint}", "--data-dir", DATA,
                "--output", builtin, "--save-predictions", "--format", "none"], capsys)[0] == 0
    (a,), (b,) = _records(mine).values(), _records(builtin).values()
    assert a["metrics"] == b["metrics"] and a["n_examples"] == b["n_examples"] == 872
    rows = lambda out, rec: [json.loads(x) for x in predictions_path(out, rec).read_text().splitlines()]  # noqa: E731
    assert rows(mine, a) == rows(builtin, b)
    # the task file as the record travels: relative to the run folder (issue 35: no machine paths in records)
    assert a["config"]["task_file"] == os.path.relpath(tasks_dir / "my-sst2.yaml", mine.resolve())
    assert len(a["config"]["task_sha256"]) == 64
    assert a["config"]["device"] == "cpu" and a["config"]["precision"] == "fp32"  # resolved, not "auto"
    assert "git_dirty" in a
    code, out, _ = rbm(["tasks", "--include-path", tasks_dir, "my-*"], capsys)
    assert code == 0 and "my-sst2" in out and str(tasks_dir / "my-sst2.yaml") in out


@pytest.mark.parametrize("kind, ratio", [("label-noise", 0.10), ("minority", 0.30)])
def test_the_csv_copy_gets_the_same_perturbed_rows(tasks_dir, kind, ratio):
    from robustbench_match.conditions.base import perturbed_training_set
    from robustbench_match.data import load_train
    from robustbench_match.tasks import load_task_files

    load_task_files([tasks_dir])
    builtin = perturbed_training_set(kind, load_train("sst2", str(DATA)), ratio, 1, max_examples=2000)
    mine = perturbed_training_set(kind, load_train("my-sst2"), ratio, 1, max_examples=2000)
    assert np.array_equal(mine.changed, builtin.changed) and len(builtin.changed) > 0
    assert np.array_equal(mine.examples.labels, builtin.examples.labels)
    assert mine.examples.texts["text"] == builtin.examples.texts["sentence"]


@pytest.mark.parametrize("suite", ["label-noise", "minority"])
def test_training_suites_run_on_a_user_task(tasks_dir, tmp_path, capsys, suite):
    out = tmp_path / "out"
    code, _, err = rbm(["run", suite, "--include-path", tasks_dir, "--tasks", "my-sst2", "--methods", "vanilla",
                        "--seeds", "1", "--set", "ratios=[0.3]", "--set", "include_clean=false",
                        "--max-train-examples", "64", "--epochs", "0.25", "--output", out, "--format", "none"], capsys)
    assert code == 0, err
    (rec,) = _records(out).values()
    assert rec["task"] == "my-sst2" and rec["condition"] in ("noise-30", "minority-30")
    assert rec["checkpoint"]["train_data_sha256"]


def test_textattack_outcomes_are_the_same_on_the_csv_copy(tasks_dir, sst2_checkpoint, tmp_path, capsys):
    logs = {}
    for task, extra in (("my-sst2", ["--include-path", tasks_dir, "--data-dir", DATA]), ("sst2", ["--data-dir", DATA])):
        out = tmp_path / task
        code, _, err = rbm(["run", "textattack", *extra, "--tasks", task, "--recipe", "deepwordbug", "--num-examples",
                            10, "--query-budget", 50, "--checkpoint", f"{task}/m={sst2_checkpoint}", "--output", out,
                            "--format", "none"], capsys)
        assert code == 0, err
        (rec,) = _records(out).values()
        log = next((out / "cells").rglob("attack_log.csv"))
        with open(log, newline="", encoding="utf-8") as fh:
            rows = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]
        assert len(rows) == 10
        logs[task] = (rows, rec["metrics"])
    assert logs["my-sst2"] == logs["sst2"]


def test_three_class_jsonl_with_label_names(tasks_dir, tmp_path, capsys):
    model = _fresh(tmp_path / "nli3", ["entailment", "neutral", "contradiction"])
    out = tmp_path / "out"
    assert rbm(["run", "glue-dev", "--include-path", tasks_dir, "--tasks", "my-nli", "--checkpoint",
                f"my-nli/m={model}", "--output", out, "--save-predictions", "--format", "none"], capsys)[0] == 0
    (rec,) = _records(out).values()
    rows = [json.loads(x) for x in predictions_path(out, rec).read_text().splitlines()]
    gold = load_split("mnli", "validation_matched", str(DATA)).labels[:N_MNLI]
    assert [r["label"] for r in rows] == gold.tolist()  # names read in label_names' order
    pred = [r["prediction"] for r in rows]
    from sklearn.metrics import f1_score

    assert rec["metrics"]["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert rec["metrics"]["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro"))
    assert rec["main_metric"] == "accuracy" and rec["n_examples"] == N_MNLI


def test_regression_parquet_task(tasks_dir, tmp_path, capsys):
    model = _fresh(tmp_path / "reg", None)
    out = tmp_path / "out"
    assert rbm(["run", "glue-dev", "--include-path", tasks_dir, "--tasks", "my-sts", "--checkpoint",
                f"my-sts/m={model}", "--output", out, "--save-predictions", "--format", "none"], capsys)[0] == 0
    (rec,) = _records(out).values()
    rows = [json.loads(x) for x in predictions_path(out, rec).read_text().splitlines()]
    y, p = np.asarray([r["label"] for r in rows]), np.asarray([r["prediction"] for r in rows])
    assert rec["metrics"]["spearmanr"] == pytest.approx(stats.spearmanr(y, p)[0])
    assert rec["metrics"]["pearson"] == pytest.approx(stats.pearsonr(y, p)[0])
    assert rec["main_metric"] == "spearmanr" and rec["details"]["prediction_share"] is None


def test_group_field_gives_the_negation_evaluators_groups_and_intervals(tasks_dir, tmp_path, capsys):
    model = _fresh(tmp_path / "nli3", ["entailment", "neutral", "contradiction"])
    suite = tmp_path / "neg.yaml"
    suite.write_text(f"suite: neg-slice\nevaluator: mnli-negation\ntasks: [mnli]\n"
                     f"params: {{words: [nobody, 'no', never, nothing], eval_sets: [mnli-m], max_eval_examples: {N_MNLI}}}\n")
    runs = {}
    for name, args in (("builtin", ["--data-dir", DATA, "--checkpoint", f"mnli/m={model}"]),
                       ("mine", ["--include-path", tasks_dir, "--tasks", "my-groups", "--checkpoint",
                                 f"my-groups/m={model}"])):
        out = tmp_path / name
        code, _, err = rbm(["run", suite, *args, "--output", out, "--format", "none"], capsys)
        assert code == 0, err
        (runs[name],) = _records(out).values()
    by_name = lambda rec: {g["name"]: {k: g[k] for k in ("size", "correct", "accuracy", "ci_low", "ci_high")}  # noqa: E731
                           for g in rec["details"]["groups"]}
    assert by_name(runs["mine"]) == by_name(runs["builtin"])
    for key in ("worst_group_accuracy", "worst_group_ci_low", "worst_group_ci_high", "accuracy"):
        assert runs["mine"]["metrics"][key] == pytest.approx(runs["builtin"]["metrics"][key])


def test_evaluate_in_memory_equals_rbm_run_on_the_saved_folder(sst2_checkpoint, tmp_path, capsys):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from robustbench_match import evaluate

    model = AutoModelForSequenceClassification.from_pretrained(sst2_checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(sst2_checkpoint)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = evaluate((model, tokenizer), "glue-dev", tasks=["sst2"], data_dir=str(DATA), name="seed-1/m")
    assert result.output is None and not list(tmp_path.iterdir())
    out = tmp_path / "run"
    assert rbm(["run", "glue-dev", "--tasks", "sst2", "--checkpoint", f"sst2/m={sst2_checkpoint}", "--data-dir", DATA,
                "--output", out, "--format", "none"], capsys)[0] == 0
    (stored,) = _records(out).values()
    (rec,) = result.records
    assert rec["metrics"] == stored["metrics"] and rec["key"] == stored["key"]
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())  # never modified
    frame = result.to_pandas()
    assert frame.loc[0, "score"] == stored["metrics"]["accuracy"]


def test_evaluate_a_callable_equals_the_same_predictions_file(tmp_path, capsys):
    from robustbench_match import evaluate, table

    dev = load_split("sst2", "validation", str(DATA))
    rule = lambda text: int(any(w in text for w in ("good", "great", "best", "fun", "love")))  # noqa: E731
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps({"sst2": [rule(t) for t in dev.text_a]}))
    out = tmp_path / "out"
    assert rbm(["run", "glue-dev", "--checkpoint", f"rule={preds}", "--data-dir", DATA, "--output", out,
                "--format", "none"], capsys)[0] == 0
    (stored,) = _records(out).values()
    result = evaluate(lambda batch: [rule(t) for t in batch], "glue-dev", tasks=["sst2"], data_dir=str(DATA),
                      name="rule")
    (rec,) = result.records
    assert rec["metrics"] == stored["metrics"] and rec["degenerate"] == stored["degenerate"]
    assert "rule" in table(result, format="csv")


BAD_TASKS = [
    ("unknown-key", "task: bad\ndataset_path: csv\ndata_files: {validation: dev.csv}\ntext_fields: [text]\n"
                    "label_names: [negative, positive]\nlabel_fild: sentiment\n", "label_fild: unknown key"),
    ("label-outside", "task: bad\ndataset_path: csv\ndata_files: {validation: dev.csv}\ntext_fields: [text]\n"
                      "label_field: sentiment\nlabel_names: [neg, pos]\n", "is not a label of task bad"),
    ("missing-text-field", "task: bad\ndataset_path: csv\ndata_files: {validation: dev.csv}\ntext_fields: [sentence]\n"
                           "label_field: sentiment\nlabel_names: [negative, positive]\n", "missing column(s) ['sentence']"),
    ("missing-file", "task: bad\ndataset_path: csv\ndata_files: {validation: nope.csv}\ntext_fields: [text]\n"
                     "label_names: [negative, positive]\n", "data_files.validation: no such file"),
    ("wrong-type", "task: bad\ndataset_path: csv\ndata_files: {validation: dev.csv}\ntext_fields: text\n"
                   "label_names: [negative, positive]\n", "text_fields: expected a list"),
    ("unknown-metric", "task: bad\ndataset_path: csv\ndata_files: {validation: dev.csv}\ntext_fields: [text]\n"
                       "label_field: sentiment\nlabel_names: [negative, positive]\nmetrics: [acuracy]\n",
     "unknown metric 'acuracy'"),
]


@pytest.mark.parametrize("case, text, message", BAD_TASKS, ids=[c[0] for c in BAD_TASKS])
def test_a_bad_task_file_is_one_line_and_writes_nothing(case, text, message, tmp_path, capsys):
    folder = tmp_path / "tasks"
    folder.mkdir()
    _sst2_csv(folder, "dev")
    (folder / "bad.yaml").write_text(text)
    out = tmp_path / "out"
    code, _, err = rbm(["run", "glue-dev", "--include-path", folder, "--tasks", "bad", "--checkpoint",
                        f"bad/m={DATA}", "--output", out], capsys)
    lines = [x for x in err.splitlines() if x.startswith("rbm ")]
    assert code == 1 and "Traceback" not in err and len(lines) == 1, err
    assert message in lines[0], lines[0]
    assert not out.exists()


def test_two_tasks_with_one_name_are_one_line(tmp_path, capsys):
    folder = tmp_path / "tasks"
    folder.mkdir()
    _sst2_csv(folder, "dev")
    body = "dataset_path: csv\ndata_files: {validation: dev.csv}\ntext_fields: [text]\nlabel_field: sentiment\n" \
           "label_names: [negative, positive]\n"
    (folder / "a.yaml").write_text("task: twin\n" + body)
    (folder / "b.yaml").write_text("task: twin\n" + body)
    code, _, err = rbm(["tasks", "--include-path", folder], capsys)
    assert code == 1 and "is already a name of task 'twin'" in err and "Traceback" not in err
    clash = tmp_path / "clash"
    clash.mkdir()
    shutil.copy(folder / "dev.csv", clash / "dev.csv")
    (clash / "c.yaml").write_text("task: other\neval_splits: {sst2: validation}\n" + body)
    code, _, err = rbm(["tasks", "--include-path", clash], capsys)
    assert code == 1 and "is already an eval set of the built-in task 'sst2'" in err
