"""Issue 39: ``--batch-size auto`` — on CPU the fastest size of a short probe, on CUDA the largest that fits
(accelerate's find_executable_batch_size); the predictions equal a fixed batch size's, and the size chosen is
recorded with the result."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cli_helpers import rbm
from robustbench_match.inference import AUTO_CANDIDATES, choose_batch_size


def _predictions(folder: Path) -> list[dict]:
    (path,) = folder.glob("predictions/**/*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_auto_gives_the_predictions_of_a_fixed_size_and_records_its_choice(sst2_checkpoint, data_dir, tmp_path, capsys):
    out = {}
    for size in ("auto", "64"):
        out[size] = tmp_path / size
        code, _, err = rbm(["run", "glue-dev", "--tasks", "sst2", "--checkpoint", f"sst2/m={sst2_checkpoint}",
                            "--data-dir", data_dir, "--limit", "200", "--batch-size", size, "--save-predictions",
                            "--format", "none", "--output", out[size]], capsys)
        assert code == 0, err
    assert _predictions(out["auto"]) == _predictions(out["64"])
    record = json.loads((out["auto"] / "results.jsonl").read_text().splitlines()[0])
    chosen = record["checkpoint"]["batch_size"]
    assert record["config"]["batch_size"] == "auto" and chosen["requested"] == "auto"
    assert chosen["batch_size"] in AUTO_CANDIDATES and set(chosen["examples_per_s"]) == {str(s) for s in AUTO_CANDIDATES}
    assert chosen["batch_size"] == int(max(chosen["examples_per_s"], key=chosen["examples_per_s"].get))
    fixed = json.loads((out["64"] / "results.jsonl").read_text().splitlines()[0])
    assert "batch_size" not in fixed["checkpoint"] and fixed["metrics"] == record["metrics"]


@pytest.mark.parametrize("value", ["0", "-3", "big", "1.5"])
def test_a_bad_batch_size_is_one_line(value, tmp_path, capsys):
    code, _, err = rbm(["run", "glue-dev", "--batch-size", value, "--checkpoint", f"sst2/m={tmp_path}",
                        "--output", tmp_path / "out"], capsys)
    assert code in (1, 2) and "--batch-size" in err and "whole number >= 1 or auto" in err  # 2: argparse's own exit
    assert not (tmp_path / "out").exists()


class _Shrinking(torch.nn.Module):
    """A stand-in model that runs out of CUDA memory above 96 rows per batch (what the CUDA path must survive)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Linear(2, 2)
        self.config = type("C", (), {"num_labels": 2})()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        if input_ids.shape[0] > 96:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        out = self.w(torch.zeros(input_ids.shape[0], 2, device=input_ids.device))
        return type("O", (), {"logits": out})()


def test_on_cuda_auto_halves_on_out_of_memory_until_a_batch_fits(sst2_checkpoint, monkeypatch):
    """The CUDA rule without a GPU: the device is reported as cuda and the model fails above 96 rows, so the
    size found from 1024 by halving is 64."""
    from transformers import AutoTokenizer

    import robustbench_match.inference as inference

    tokenizer = AutoTokenizer.from_pretrained(sst2_checkpoint)
    monkeypatch.setattr(inference, "resolve_device", lambda d: torch.device("cpu"))
    real_predict = inference.predict_logits

    def as_if_cuda(*args, **kwargs):
        kwargs["device"] = torch.device("cpu")
        return real_predict(*args, **kwargs)

    monkeypatch.setattr(inference, "predict_logits", as_if_cuda)
    fake = torch.device("cuda")
    texts = ["a fine film", "a dull , lifeless mess of a film that goes on", "ok"] * 10
    got = choose_batch_size(_Shrinking(), tokenizer, texts, None, max_length=32, device=fake)
    assert got["batch_size"] == 64 and "halved on out-of-memory" in got["how"]
