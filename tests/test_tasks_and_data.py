"""Task registry and data loading on the real glue_data copy (counts from its MANIFEST)."""
from __future__ import annotations

import numpy as np
import pytest

from robustbench_match.data import load_split
from robustbench_match.errors import DataError
from robustbench_match.registry import UnknownNameError
from robustbench_match.tasks import GLUE_TASKS, get_task

# (task, split) -> (rows, label counts by label id) from ../shared/data/MANIFEST.md
EXPECTED = {
    ("cola", "train"): (8551, {1: 6023, 0: 2528}),
    ("cola", "validation"): (1043, {1: 721, 0: 322}),
    ("sst2", "train"): (67349, {1: 37569, 0: 29780}),
    ("sst2", "validation"): (872, {1: 444, 0: 428}),
    ("mrpc", "train"): (3668, {1: 2474, 0: 1194}),
    ("mrpc", "validation"): (408, {1: 279, 0: 129}),
    ("rte", "train"): (2490, {0: 1249, 1: 1241}),
    ("rte", "validation"): (277, {0: 146, 1: 131}),
    ("wnli", "train"): (635, {1: 312, 0: 323}),
    ("wnli", "validation"): (71, {1: 31, 0: 40}),
    ("qnli", "validation"): (5463, {0: 2702, 1: 2761}),
    ("mnli", "validation_matched"): (9815, {0: 3479, 1: 3123, 2: 3213}),
    ("mnli", "validation_mismatched"): (9832, {0: 3463, 1: 3129, 2: 3240}),
}


def test_all_nine_glue_tasks_with_hf_label_order():
    assert len(GLUE_TASKS) == 9
    assert get_task("mnli").label_names == ("entailment", "neutral", "contradiction")
    assert get_task("rte").label_names == ("entailment", "not_entailment")
    assert get_task("wnli").label_names == ("not_entailment", "entailment")
    assert get_task("cola").label_names == ("unacceptable", "acceptable")
    assert get_task("stsb").is_regression and get_task("stsb").num_labels == 1
    assert get_task("mnli").eval_splits() == {"mnli-m": "validation_matched", "mnli-mm": "validation_mismatched"}


@pytest.mark.parametrize("alias", ["SST-2", "sst2", "Sst-2", " sst2 "])
def test_task_names_are_case_insensitive_and_accept_glue_data_folders(alias):
    assert get_task(alias).name == "sst2"


def test_unknown_task_suggests_a_name():
    with pytest.raises(UnknownNameError, match="did you mean 'mrpc'"):
        get_task("mrcp")


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_local_splits_match_the_manifest(data_dir, key):
    task, split = key
    rows, counts = EXPECTED[key]
    ex = load_split(task, split, data_dir)
    assert len(ex) == rows
    assert dict(zip(*np.unique(ex.labels, return_counts=True))) == counts
    assert all(isinstance(t, str) and t for t in ex.text_a[:50])


def test_stsb_scores_are_floats_in_range(data_dir):
    ex = load_split("stsb", "validation", data_dir)
    assert len(ex) == 1500 and ex.labels.dtype == np.float32
    assert ex.labels.min() >= 0 and ex.labels.max() <= 5 and ex.labels[0] == 5.0


def test_quirks_bom_and_leading_quotes_are_read_verbatim(data_dir):
    mrpc = load_split("mrpc", "train", data_dir)  # header starts with a UTF-8 BOM
    assert mrpc.text_a[0].startswith("Amrozi accused his brother")
    rte = load_split("rte", "train", data_dir)  # quoting off: a field may start with '"'
    assert any(t.startswith('"') for t in rte.text_a + rte.text_b)
    assert len(rte) == 2490


def test_hash_is_content_based_and_stable(data_dir):
    a = load_split("rte", "validation", data_dir)
    b = load_split("RTE", "validation", data_dir)
    assert a.sha256 == b.sha256
    c = a.with_labels(1 - a.labels, "flipped")
    assert c.sha256 != a.sha256


def _write(tmp_path, task_dir, name, text):
    d = tmp_path / task_dir
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_malformed_tsv_row_is_one_clear_error(tmp_path):
    root = _write(tmp_path, "SST-2", "dev.tsv", "sentence\tlabel\ngood film\t1\nbad\tfilm\t0\n")
    with pytest.raises(DataError, match=r"dev.tsv: malformed TSV .*line 3"):
        load_split("sst2", "validation", root)


def test_label_outside_the_label_set_names_file_and_line(tmp_path):
    root = _write(tmp_path, "RTE", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\td\tmaybe\n")
    with pytest.raises(DataError, match=r"dev.tsv: line 3: label 'maybe' is not one of"):
        load_split("rte", "validation", root)
    root = _write(tmp_path, "SST-2", "dev.tsv", "sentence\tlabel\ngood\t1\nbad\t7\n")
    with pytest.raises(DataError, match=r"line 3: label 7 is not a label id in 0..1"):
        load_split("sst2", "validation", root)


def test_missing_folder_file_and_column(tmp_path):
    with pytest.raises(DataError, match="no folder for task cola"):
        load_split("cola", "validation", tmp_path)
    _write(tmp_path, "CoLA", "train.tsv", "x\t1\t\tok\n")
    with pytest.raises(DataError, match=r"no validation data \(expected dev.tsv"):
        load_split("cola", "validation", tmp_path)
    _write(tmp_path, "QNLI", "dev.tsv", "index\tquestion\tlabel\n0\tq\tentailment\n")
    with pytest.raises(DataError, match="no column 'sentence'"):
        load_split("qnli", "validation", tmp_path)


def test_data_dir_from_environment(monkeypatch, data_dir):
    monkeypatch.setenv("RBM_DATA_DIR", data_dir)
    assert len(load_split("wnli", "validation")) == 71


def test_hub_path_offline_gives_one_line_error(monkeypatch, hub_offline):
    monkeypatch.delenv("RBM_DATA_DIR", raising=False)
    with pytest.raises(DataError, match=r"hub dataset nyu-mll/glue/wnli .*--data-dir"):
        load_split("wnli", "validation")
