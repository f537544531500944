"""Training-time conditions on the real GLUE training sets: exact counts, determinism, export."""
from __future__ import annotations

import json

import numpy as np
import pytest

from paths import DATA_DIR
from robustbench_match.conditions import (condition_name, inject_label_noise, parse_condition, parse_ratio,
                                          reduce_minority)
from robustbench_match.conditions.export import export_perturbed, file_sha256
from robustbench_match.data import load_split
from robustbench_match.errors import RBMError

DATA = DATA_DIR
pytestmark = pytest.mark.skipif(not (DATA / "glue" / "RTE").is_dir(), reason=f"no shared data at {DATA}")


@pytest.fixture(scope="module")
def train_sets():
    return {t: load_split(t, "train", DATA) for t in ("cola", "mrpc", "rte")}


@pytest.mark.parametrize("task", ["cola", "mrpc", "rte"])
@pytest.mark.parametrize("ratio", [0.05, 0.10, 0.15])
def test_label_noise_flips_exact_count_and_every_flip_changes(train_sets, task, ratio):
    clean = train_sets[task]
    noisy = inject_label_noise(clean, ratio, seed=1)
    n = len(clean)
    expected = int(np.floor(ratio * n + 0.5))
    differ = np.flatnonzero(noisy.examples.labels != clean.labels)
    assert len(differ) == expected == len(noisy.changed)
    assert set(differ.tolist()) == set(noisy.changed.tolist())  # no chosen label stayed the same
    assert noisy.examples.texts == clean.texts and (noisy.examples.idx == clean.idx).all()
    assert noisy.condition == f"noise-{round(ratio * 100)}"


def test_label_noise_is_deterministic_nested_and_seed_dependent(train_sets):
    rte = train_sets["rte"]
    a, b = inject_label_noise(rte, 0.10, 3), inject_label_noise(rte, 0.10, 3)
    assert a.sha256 == b.sha256 and (a.changed == b.changed).all()
    assert a.sha256 != inject_label_noise(rte, 0.10, 4).sha256
    low, high = inject_label_noise(rte, 0.05, 3), inject_label_noise(rte, 0.15, 3)
    assert set(low.changed) <= set(a.changed) <= set(high.changed)
    assert (high.examples.labels[low.changed] == low.examples.labels[low.changed]).all()


def test_label_noise_spreads_over_other_labels_on_three_classes():
    mnli = load_split("mnli", "validation_mismatched", DATA)
    noisy = inject_label_noise(mnli, 0.5, seed=0)
    old, new = mnli.labels[noisy.changed], noisy.examples.labels[noisy.changed]
    assert (old != new).all()
    shift = (new - old) % 3
    assert 0.45 < (shift == 1).mean() < 0.55  # both wrong labels drawn uniformly


@pytest.mark.parametrize("task", ["cola", "mrpc", "rte"])
@pytest.mark.parametrize("ratio", [0.30, 0.40, 0.50])
def test_minority_keeps_exact_count_of_label_one_and_all_others(train_sets, task, ratio):
    clean = train_sets[task]
    reduced = reduce_minority(clean, ratio, seed=2)
    ex = reduced.examples
    n1 = int((clean.labels == 1).sum())
    assert int((ex.labels == 1).sum()) == int(np.floor(ratio * n1 + 0.5))
    others = np.flatnonzero(clean.labels != 1)
    assert set(others.tolist()) <= set(ex.idx.tolist())
    assert int((ex.labels != 1).sum()) == len(others)
    assert (np.diff(ex.idx) > 0).all()  # original order kept
    first = ex.idx[0]
    assert ex.text_a[0] == clean.text_a[first] and ex.labels[0] == clean.labels[first]
    assert reduce_minority(clean, 0.4, 2).examples.sha256 != reduce_minority(clean, 0.4, 3).examples.sha256
    assert set(reduce_minority(clean, 0.3, 2).examples.idx) <= set(reduce_minority(clean, 0.5, 2).examples.idx)


def test_ratio_and_condition_names_round_trip():
    assert parse_ratio("10%") == parse_ratio(0.1) == parse_ratio("0.10") == 0.1
    for bad in (0, "0", 1, "1", 1.5, "1.5", 10, "0%", "100%", "150%", "nan", "inf", -0.1, True):
        with pytest.raises(RBMError, match="expected a fraction in"):
            parse_ratio(bad)
    assert condition_name("label-noise", 0.05) == "noise-5"
    assert condition_name("minority", 0.3) == "minority-30"
    assert condition_name("noise", 0.125) == "noise-12.5"
    assert parse_condition("minority-40") == ("minority", 0.4)
    assert parse_condition("clean") == ("clean", 0.0)
    with pytest.raises(RBMError):
        parse_ratio("lots")
    with pytest.raises(RBMError):
        inject_label_noise(load_split("stsb", "validation", DATA), 0.1, 1)


@pytest.mark.parametrize("task,kind", [("rte", "noise"), ("cola", "minority"), ("mrpc", "noise")])
def test_tsv_export_round_trips_through_the_loader(train_sets, tmp_path, task, kind):
    clean = train_sets[task]
    pert = (inject_label_noise(clean, 0.10, 1) if kind == "noise" else reduce_minority(clean, 0.30, 1))
    manifest = export_perturbed(pert, tmp_path, "tsv")
    back = load_split(task, "train", tmp_path)
    assert len(back) == len(pert.examples) == manifest["n_rows"]
    assert back.texts == pert.examples.texts
    assert (back.labels == pert.examples.labels).all()
    assert manifest["file_sha256"] == file_sha256(tmp_path / manifest["file"])
    assert manifest["train_data_sha256"] == pert.sha256
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk["changed_rows"] == pert.changed.tolist()


def test_tsv_export_keeps_source_columns(train_sets, tmp_path):
    """CoLA's source-code and author-mark columns survive, so the file is a drop-in train.tsv."""
    pert = inject_label_noise(train_sets["cola"], 0.05, 1)
    export_perturbed(pert, tmp_path, "tsv")
    src = (DATA / "glue" / "CoLA" / "train.tsv").read_text().splitlines()
    out = (tmp_path / "CoLA" / "train.tsv").read_text().splitlines()
    assert len(src) == len(out)
    changed = set(pert.changed.tolist())
    for i in (0, 1, int(pert.changed[0]), len(src) - 1):
        s, o = src[i].split("\t"), out[i].split("\t")
        assert (s[0], s[2], s[3]) == (o[0], o[2], o[3])
        assert (s[1] != o[1]) == (i in changed)


def test_jsonl_export_marks_changed_rows(train_sets, tmp_path):
    pert = inject_label_noise(train_sets["rte"], 0.15, 5)
    manifest = export_perturbed(pert, tmp_path, "jsonl")
    rows = [json.loads(line) for line in (tmp_path / manifest["file"]).read_text().splitlines()]
    assert len(rows) == len(train_sets["rte"])
    assert sum(r["changed"] for r in rows) == manifest["n_changed"] == len(pert.changed)
    assert all(r["label_name"] in ("entailment", "not_entailment") for r in rows)


def test_cli_export(tmp_path, capsys):
    from robustbench_match.cli import main

    rc = main(["data", "export", "--task", "rte", "--condition", "label-noise", "--ratio", "0.10", "--seed", "1",
               "--output", str(tmp_path), "--data-dir", str(DATA)])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n_changed"] == 249 and printed["condition"] == "noise-10"
    assert (tmp_path / "RTE" / "train.tsv").is_file()
    assert main(["data", "export", "--task", "rte", "--condition", "typo", "--ratio", "0.1",
                 "--output", str(tmp_path)]) == 1
