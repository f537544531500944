"""Issue 39: ``--log-to`` — what ``rbm run`` and ``rbm train`` log to TensorBoard, MLflow and W&B (offline), read
back with each library's own reader (TensorBoard's EventAccumulator, MLflow's client on its file store, W&B's
own record schema over its offline run file) and compared with the stored records; a missing extra is one line
before anything runs; a tracker that fails never costs a record."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import rbm
from robustbench_match.trackers import metric_name, record_metrics

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")
pytest.importorskip("wandb")


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def logged(sst2_checkpoint, data_dir, tmp_path_factory):
    """One glue-dev run on 100 SST-2 rows, logged to all three trackers."""
    import _pytest.capture  # noqa: F401 - the in-process runner below captures nothing itself

    from robustbench_match.cli import main

    root = tmp_path_factory.mktemp("trackers")
    code = main(["run", "glue-dev", "--tasks", "sst2", "--checkpoint", f"sst2/m={sst2_checkpoint}", "--data-dir",
                 data_dir, "--limit", "100", "--format", "none", "--output", str(root / "run"), "--log-to",
                 "tensorboard,mlflow,wandb", "--log-dir", str(root / "logs")])
    assert code == 0
    return root


def test_tensorboard_event_files_hold_exactly_the_stored_metrics(logged):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    (folder,) = (logged / "logs" / "tensorboard").glob("*/*")
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    want = record_metrics(_records(logged / "run"))
    assert set(want) <= set(events.Tags()["tensors"])
    got = {tag: float(tensor_util.make_ndarray(events.Tensors(tag)[-1].tensor_proto).reshape(-1)[0]) for tag in want}
    assert got == want and len(want) >= 2
    accuracy = [k for k in want if k.endswith("/accuracy")]
    assert accuracy and any(k.endswith("/accuracy_stderr") for k in want)


def test_the_mlflow_file_store_holds_exactly_the_stored_metrics_and_the_suite(logged):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=(logged / "logs" / "mlruns").resolve().as_uri())
    (experiment,) = [e for e in client.search_experiments() if e.name == "robustbench-match"]
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.metrics == record_metrics(_records(logged / "run"))
    assert run.data.params["suite"] == "glue-dev" and run.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"tables.md", "cells.json"} <= artifacts


def _wandb_records(path: Path):
    """The protobuf records of a W&B offline run file, decoded with W&B's own schema (wandb_internal_pb2). The
    framing is the LevelDB log format W&B writes: a 7-byte header, 32 KiB blocks, records of crc32 (4 bytes),
    length (2), type (1: full, 2: first, 3: middle, 4: last)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        room = block - pos % block
        if room < 7:
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def test_the_wandb_offline_run_holds_exactly_the_stored_metrics_and_the_examples_table(logged):
    (run_file,) = (logged / "logs" / "wandb").glob("offline-run-*/run-*.wandb")
    got: dict[str, float] = {}
    for record in _wandb_records(run_file):
        if record.WhichOneof("record_type") == "history":
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                value = json.loads(item.value_json)
                if isinstance(value, (int, float)):
                    got[key] = float(value)
    want = record_metrics(_records(logged / "run"))
    assert {k: got[k] for k in want} == want
    (table,) = (logged / "logs" / "wandb").glob("offline-run-*/files/media/table/cells_*.table.json")
    cells = json.loads(table.read_text())
    assert len(cells["data"]) == len(_records(logged / "run"))


def test_rbm_train_logs_its_loss_curve_and_card(tmp_path, data_dir, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    out = tmp_path / "model"
    code, _, err = rbm(["train", "--method", "vanilla", "--task", "sst2", "--data-dir", data_dir, "--max-train-examples",
                        "64", "--max-steps", "4", "--batch-size", "16", "--max-length", "32", "--output", out,
                        "--log-to", "tensorboard", "--log-dir", tmp_path / "logs"], capsys)
    assert code == 0, err
    (folder,) = (tmp_path / "logs" / "tensorboard").glob("*/*")
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    loss = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto).reshape(-1)[0])) for e in events.Tensors("train/loss")]
    logged = [(r["step"], r["loss"]) for r in map(json.loads, (out / "training_log.jsonl").read_text().splitlines())]
    assert loss == logged and len(loss) == 4
    tag = next(t for t in events.Tags()["tensors"] if t.startswith("rbm_card.json"))
    card = json.loads(tensor_util.make_ndarray(events.Tensors(tag)[-1].tensor_proto).reshape(-1)[0].decode())
    assert card == json.loads((out / "rbm_card.json").read_text())  # the finished card, as written


@pytest.mark.parametrize("argv", [["run", "glue-dev", "--checkpoint", "sst2/m=x"], ["train", "--method", "vanilla",
                                                                                    "--task", "sst2"]])
def test_an_unknown_or_missing_tracker_is_one_line_before_anything_runs(argv, tmp_path, capsys, monkeypatch):
    import robustbench_match.trackers as trackers

    code, _, err = rbm([*argv, "--output", tmp_path / "out", "--log-to", "tensorbored"], capsys)
    assert code == 1 and "unknown tracker" in err and len(err.strip().splitlines()) == 1
    real = trackers.importlib.util.find_spec
    monkeypatch.setattr(trackers.importlib.util, "find_spec", lambda name: None if name == "wandb" else real(name))
    code, _, err = rbm([*argv, "--output", tmp_path / "out", "--log-to", "wandb"], capsys)
    assert code == 1 and "pip install 'robustbench-match[wandb]'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_failing_tracker_is_switched_off_and_no_record_is_lost(sst2_checkpoint, data_dir, tmp_path, capsys,
                                                                  monkeypatch, caplog):
    import robustbench_match.trackers as trackers

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(trackers.TensorBoard, "log_metrics", broken)
    code, _, err = rbm(["run", "glue-dev", "--tasks", "sst2", "--checkpoint", f"sst2/m={sst2_checkpoint}", "--data-dir",
                        data_dir, "--limit", "50", "--format", "none", "--output", tmp_path / "run", "--log-to",
                        "tensorboard", "--log-dir", tmp_path / "logs"], capsys)
    warned = " ".join(r.getMessage() for r in caplog.records) + err
    assert code == 0 and "disk full" in warned and "the records are stored" in warned
    assert len(_records(tmp_path / "run")) == 1


def test_metric_names_are_ones_every_tracker_accepts():
    assert metric_name("pm", "vanilla", "sst2", "sst2", "attack:pwws", "seed-1", "accuracy") == \
        "pm/vanilla/sst2/sst2/attack_pwws/seed-1/accuracy"
    assert np.all([c.isalnum() or c in "_-./ " for c in metric_name("a|b", "perturb:typo:seed-0")])


def test_the_python_api_logs_as_rbm_run_does(sst2_checkpoint, data_dir, tmp_path):
    from mlflow.tracking import MlflowClient

    from robustbench_match import evaluate

    result = evaluate(sst2_checkpoint, "glue-dev", tasks=["sst2"], data_dir=data_dir, limit=50, log_to="mlflow",
                      log_dir=tmp_path / "logs")
    client = MlflowClient(tracking_uri=(tmp_path / "logs" / "mlruns").resolve().as_uri())
    (experiment,) = [e for e in client.search_experiments() if e.name == "robustbench-match"]
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.metrics == record_metrics(result.records) and len(result.records) == 1


def test_trackio_holds_exactly_the_stored_metrics_and_stdout_stays_the_tables(sst2_checkpoint, data_dir, tmp_path,
                                                                              capsys, monkeypatch):
    pytest.importorskip("trackio")
    monkeypatch.setenv("TRACKIO_DIR", str(tmp_path / "trackio"))  # read by trackio when first imported (here)
    code, out, err = rbm(["run", "glue-dev", "--tasks", "sst2", "--checkpoint", f"sst2/m={sst2_checkpoint}",
                          "--data-dir", data_dir, "--limit", "50", "--format", "markdown", "--output",
                          tmp_path / "run", "--log-to", "trackio", "--log-dir", tmp_path / "logs"], capsys)
    assert code == 0, err
    assert "Trackio" not in out and out.lstrip().startswith("###")  # trackio's prints went to stderr
    from trackio.sqlite_storage import SQLiteStorage

    logs = SQLiteStorage.get_logs("robustbench-match", "glue-dev-run")
    got = {k: v for row in logs for k, v in row.items() if isinstance(v, float)}
    want = record_metrics(_records(tmp_path / "run"))
    assert {k: got[k] for k in want} == want
    assert SQLiteStorage.get_run_config("robustbench-match", "glue-dev-run")["suite"] == "glue-dev"
