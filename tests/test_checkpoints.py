"""Label orders are checked against id2label: remapped by name, generic accepted, mismatch refused."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from robustbench_match.checkpoints import HFCheckpoint, PredictionsFile, label_mapping, open_checkpoint
from robustbench_match.data import load_split
from robustbench_match.errors import CheckpointError
from robustbench_match.tasks import get_task

MNLI = get_task("mnli")


def test_mapping_by_name_in_another_order():
    id2label = {0: "contradiction", 1: "ENTAILMENT", 2: "Neutral"}
    mapping, how = label_mapping(id2label, 3, MNLI, "x")
    assert how == "by-name" and mapping.tolist() == [2, 0, 1]


def test_generic_labels_are_accepted_with_a_warning(caplog):
    mapping, how = label_mapping({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, 3, MNLI, "ckpt")
    assert how == "generic" and mapping.tolist() == [0, 1, 2]
    assert "generic labels" in caplog.text


def test_synonyms_and_identity():
    mapping, how = label_mapping({0: "neg", 1: "pos"}, 2, get_task("sst2"), "x")
    assert how == "identity" and mapping.tolist() == [0, 1]


def test_mismatches_are_one_clear_error():
    with pytest.raises(CheckpointError, match="has 2 labels, task mnli expects 3"):
        label_mapping({0: "a", 1: "b"}, 2, MNLI, "x")
    with pytest.raises(CheckpointError, match=r"id2label .* does not match task rte"):
        label_mapping({0: "positive", 1: "negative"}, 2, get_task("rte"), "x")
    with pytest.raises(CheckpointError, match="regression task"):
        label_mapping({0: "a", 1: "b"}, 2, get_task("stsb"), "x")


def _permute_labels(src: str, dst) -> str:
    """The same model exported by 'other code' with the label order reversed."""
    shutil.copytree(src, dst)
    weights = load_file(f"{dst}/model.safetensors")
    for name in ("classifier.weight", "classifier.bias"):
        weights[name] = weights[name].flip(0).contiguous()
    save_file(weights, f"{dst}/model.safetensors", metadata={"format": "pt"})
    config = json.loads(open(f"{dst}/config.json").read())
    config["id2label"] = {"0": "positive", "1": "negative"}
    config["label2id"] = {"positive": 0, "negative": 1}
    open(f"{dst}/config.json", "w").write(json.dumps(config))
    return str(dst)


def test_permuted_checkpoint_gives_the_same_predictions(sst2_checkpoint, data_dir, tmp_path):
    dev = load_split("sst2", "validation", data_dir).subset(np.arange(200))
    original = HFCheckpoint("a", sst2_checkpoint, device="cpu").predict(dev, "sst2")
    permuted_ckpt = HFCheckpoint("b", _permute_labels(sst2_checkpoint, tmp_path / "perm"), device="cpu")
    assert permuted_ckpt.label_map(dev.task)[1] == "by-name"
    raw = permuted_ckpt.logits(dev).argmax(1)
    assert (raw != original).all()  # without remapping every prediction would flip
    assert (permuted_ckpt.predict(dev, "sst2") == original).all()


def test_pickle_only_checkpoint_is_refused(sst2_checkpoint, tmp_path):
    dst = tmp_path / "bin-only"
    shutil.copytree(sst2_checkpoint, dst)
    weights = load_file(dst / "model.safetensors")
    torch.save(weights, dst / "pytorch_model.bin")
    (dst / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="cannot load as a safetensors"):
        HFCheckpoint("bin", str(dst)).load()


def test_predictions_file_accepts_ids_and_names(tmp_path, data_dir):
    dev = load_split("rte", "validation", data_dir)
    preds = ["entailment" if i % 2 else 1 for i in range(len(dev))]
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"rte": preds}))
    ckpt = open_checkpoint("ext", str(path))
    assert isinstance(ckpt, PredictionsFile) and ckpt.tasks() == ["rte"]
    got = ckpt.predict(dev, "rte")
    assert got.tolist() == [0 if i % 2 else 1 for i in range(len(dev))]


def test_predictions_file_errors(tmp_path, data_dir):
    dev = load_split("rte", "validation", data_dir)
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"rte": [0, 1]}))
    with pytest.raises(CheckpointError, match=r"has 2 predictions, the GLUE dev rte set has 277 \(.*dev"):
        open_checkpoint("ext", str(path)).predict(dev, "rte")
    path.write_text(json.dumps({"rte": [5] * 277}))
    with pytest.raises(CheckpointError, match=r"'rte'\[0\] = 5 is not a label of rte"):
        open_checkpoint("ext", str(path)).predict(dev, "rte")
    path.write_text(json.dumps({"sentiment": [0]}))
    with pytest.raises(CheckpointError, match="unknown task key 'sentiment'"):
        open_checkpoint("ext", str(path)).tasks()
    with pytest.raises(CheckpointError, match="does not exist"):
        open_checkpoint("x", "./no/such/folder")


def test_predictions_file_keys_name_a_collection_and_an_eval_set(tmp_path):
    from robustbench_match.checkpoints import ADVGLUE, COLLECTIONS, GLUE_DEV, EvalSetRef, parse_prediction_key
    from robustbench_match.evaluators.advglue.evaluator import SUBSETS

    assert set(COLLECTIONS[ADVGLUE]) == set(SUBSETS)
    assert parse_prediction_key("mnli", "f") == (None, "mnli-m")
    assert parse_prediction_key("MNLI_mismatched", "f") == (None, "mnli-mm")
    assert parse_prediction_key("glue-dev/SST-2", "f") == (GLUE_DEV, "sst2")
    assert parse_prediction_key("advglue/mnli-mm", "f") == (ADVGLUE, "mnli-mm")
    with pytest.raises(CheckpointError, match="advglue has no cola set"):
        parse_prediction_key("advglue/cola", "f")
    with pytest.raises(CheckpointError, match="unknown prefix 'adv'"):
        parse_prediction_key("adv/sst2", "f")
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"sst2": [0], "glue-dev/sst2": [1], "advglue/rte": [0, 1], "mnli-mm": [2]}))
    ckpt = PredictionsFile("p", str(path))
    assert ckpt.tasks() == ["mnli", "rte", "sst2"]
    # in advglue, bare keys are the adversarial sets and GLUE dev needs its prefix
    assert ckpt.key_for(EvalSetRef(GLUE_DEV, "sst2", plain=False)) == "glue-dev/sst2"
    assert ckpt.key_for(EvalSetRef(ADVGLUE, "sst2")) == "sst2"
    assert ckpt.key_for(EvalSetRef(ADVGLUE, "rte")) == "advglue/rte"
    assert ckpt.key_for(EvalSetRef(GLUE_DEV, "rte")) is None and ckpt.key_for(EvalSetRef(ADVGLUE, "mnli-m")) is None
    with pytest.raises(CheckpointError, match="keys 'glue-dev/sst2' and 'sst2' both hold the GLUE dev sst2 set"):
        ckpt.key_for(EvalSetRef(GLUE_DEV, "sst2"))  # in glue-dev both mean GLUE dev
    path.write_text(json.dumps({"mnli": [0], "mnli-m": [1]}))
    with pytest.raises(CheckpointError, match="keys 'mnli' and 'mnli-m' both name mnli-m"):
        PredictionsFile("p", str(path)).tasks()
