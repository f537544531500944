"""Shared by test_executors.py and test_slurm.py: three tiny real RTE checkpoints (the packaged MiniLM
with a fresh two-label head, seeds 1-3) and the inline reference run they are compared with."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from paths import REPO

MAX_LENGTH = "32"  # RTE pairs cut to 32 tokens: the same for every executor, and fast
_cache: dict[str, object] = {}


def make_checkpoints(root: Path) -> dict[str, Path]:
    """The packaged MiniLM-L6 with a two-label head initialised from seeds 1, 2 and 3 (saved as safetensors)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from robustbench_match.models import resolve_base_model

    base = resolve_base_model(None)
    tokenizer = AutoTokenizer.from_pretrained(base)
    out = {}
    for name, seed in (("a", 1), ("b", 2), ("c", 3)):
        torch.manual_seed(seed)
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=2, id2label={0: "entailment", 1: "not_entailment"},
            label2id={"entailment": 0, "not_entailment": 1})
        folder = root / f"head-{seed}"
        model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        out[name] = folder
    return out


def checkpoints(tmp_path_factory) -> dict[str, Path]:
    if "ckpts" not in _cache:
        _cache["ckpts"] = make_checkpoints(tmp_path_factory.mktemp("tiny-heads"))
    return _cache["ckpts"]  # type: ignore[return-value]


def run_args(ckpts: dict[str, Path], data_dir: str, out: Path, *extra: str) -> list[str]:
    args = ["run", "glue-dev", "--tasks", "rte", "--data-dir", data_dir, "--output", str(out),
            "--max-length", MAX_LENGTH, "--format", "none"]
    for name, path in ckpts.items():
        args += ["--checkpoint", f"rte/{name}={path}"]
    return [*args, *extra]


def rbm_subprocess(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """`rbm ARGS` in a fresh process (as a user runs it), one intra-op thread, offline."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    return subprocess.run([sys.executable, "-m", "robustbench_match.cli", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, **kwargs)


def records(out: Path) -> dict[str, dict]:
    lines = (out / "results.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    assert len({r["key"] for r in recs}) == len(recs), "a key stored twice"
    return {r["key"]: r for r in recs}


def inline_reference(tmp_path_factory, data_dir: str) -> dict[str, dict]:
    """The three records of `rbm run glue-dev --tasks rte ... --executor inline` (computed once per session)."""
    if "inline" not in _cache:
        from robustbench_match.cli import main

        out = tmp_path_factory.mktemp("inline") / "run"
        assert main(run_args(checkpoints(tmp_path_factory), data_dir, out, "--executor", "inline")) == 0
        _cache["inline"] = records(out)
    return _cache["inline"]  # type: ignore[return-value]


KEYS = {f"glue-dev|{m}|rte|clean|-" for m in "abc"}


def assert_same_records(got: dict[str, dict], reference: dict[str, dict], kind: str) -> None:
    """Same cells, same metrics (exactly: the same model on the same data on CPU fp32), same fingerprints."""
    assert set(got) == set(reference) == KEYS
    for key, rec in got.items():
        ref = reference[key]
        assert rec["metrics"] == ref["metrics"], (key, rec["metrics"], ref["metrics"])
        assert rec["n_examples"] == ref["n_examples"] == 277
        assert rec["fingerprint"] == ref["fingerprint"]
        assert rec["data"]["sha256"] == ref["data"]["sha256"]
        assert rec["executor"]["kind"] == kind and rec["executor"]["host"]
        if kind != "inline":
            assert rec["executor"]["job_id"]
