"""Throughput of our evaluation path vs ``transformers.pipeline("text-classification")``.

Same checkpoint, same examples, one run. Prints examples/s for each and the ratio, and checks the
predictions are identical. Writes a JSON + text copy of the output under results/.

    python benchmarks/eval_throughput.py --checkpoint PATH --data-dir ../shared/data
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import pipeline

from robustbench_match.checkpoints import HFCheckpoint
from robustbench_match.data import load_split
from robustbench_match.results import atomic_write_text, versions

REPO = Path(__file__).resolve().parent.parent


def quick_checkpoint(data_dir: str, task: str) -> str:
    """A briefly fine-tuned MiniLM when no checkpoint is given (throughput does not need a good one)."""
    from robustbench_match.training import TrainConfig, train

    out = Path(tempfile.mkdtemp()) / "ckpt"
    return str(train(TrainConfig(method="vanilla", task=task, output=str(out), data_dir=data_dir, max_steps=30,
                                 batch_size=16, max_train_examples=480, max_length=128)))


def make_pipeline(path: str):
    return pipeline("text-classification", model=path, tokenizer=path, device=-1, truncation=True, max_length=128)


def pipeline_predictions(clf, examples, batch_size: int) -> np.ndarray:
    inputs = (examples.text_a if examples.text_b is None else
              [{"text": a, "text_pair": b} for a, b in zip(examples.text_a, examples.text_b)])
    outputs = clf(inputs, batch_size=batch_size)
    label2id = clf.model.config.label2id
    return np.asarray([label2id[o["label"]] for o in outputs])


def timed(fn, repeats: int):
    """Best of ``repeats`` wall times (the machine is shared; the minimum is the least disturbed)."""
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return value, best


def bench_task(path: str, task: str, data_dir: str, batch_size: int, repeats: int) -> dict:
    examples = load_split(task, "validation", data_dir)
    ckpt = HFCheckpoint("bench", path, device="cpu", precision="fp32", batch_size=batch_size, max_length=128)
    ckpt.load()
    bf16 = HFCheckpoint("bench", path, device="cpu", precision="bf16", batch_size=batch_size, max_length=128)
    bf16._model, bf16._tokenizer = ckpt.load()
    mapping, _ = ckpt.label_map(examples.task)
    clf = make_pipeline(path)  # loading is not throughput, for either path
    warm = examples.subset(range(min(64, len(examples))))  # nor is one-time kernel set-up
    ckpt.logits(warm, progress=False)
    bf16.logits(warm, progress=False)
    pipeline_predictions(clf, warm, batch_size)
    ours, t_ours = timed(lambda: mapping[ckpt.logits(examples, progress=False).argmax(1)], repeats)
    ours_bf16, t_bf16 = timed(lambda: mapping[bf16.logits(examples, progress=False).argmax(1)], repeats)
    pipe1, t_pipe1 = timed(lambda: mapping[pipeline_predictions(clf, examples, 1)], repeats)
    pipeb, t_pipeb = timed(lambda: mapping[pipeline_predictions(clf, examples, batch_size)], repeats)
    n = len(examples)
    return {
        "task": task, "n": n, "batch_size": batch_size,
        "ours_ex_per_s": n / t_ours, "pipeline_default_ex_per_s": n / t_pipe1,
        "pipeline_batched_ex_per_s": n / t_pipeb,
        "ratio_vs_pipeline_default": t_pipe1 / t_ours, "ratio_vs_pipeline_batched": t_pipeb / t_ours,
        "identical_vs_pipeline_default": bool((ours == pipe1).all()),
        "identical_vs_pipeline_batched": bool((ours == pipeb).all()),
        "ours_bf16_ex_per_s": n / t_bf16, "ratio_bf16_vs_pipeline_default": t_pipe1 / t_bf16,
        "bf16_agreement_with_fp32": float((ours_bf16 == ours).mean()),
        "accuracy_fp32": float((ours == examples.labels).mean()),
        "accuracy_bf16": float((ours_bf16 == examples.labels).mean()),
    }


def cpu_flags() -> str:
    """Whether the CPU has native bf16 (without it, bf16 autocast is emulated and slower than fp32)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "flags unknown"
    return ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in ("avx512f", "avx512_bf16", "amx_bf16"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="HF folder (default: a briefly fine-tuned MiniLM per task)")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--tasks", default="sst2,mrpc")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per path; the best is kept")
    parser.add_argument("--out", default=str(REPO / "results" / "eval_throughput"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for task in args.tasks.split(","):
        path = args.checkpoint or quick_checkpoint(args.data_dir, task)
        rows.append(bench_task(path, task, args.data_dir, args.batch_size, args.repeats))
    lines = [f"eval throughput, CPU fp32, {args.threads} threads, {platform.machine()} ({cpu_flags()}), "
             f"best of {args.repeats} after a warm-up; ratio = pipeline time / our time"]
    for r in rows:
        lines.append(f"{r['task']:5s} n={r['n']:4d}  ours {r['ours_ex_per_s']:7.1f} ex/s | pipeline(batch 1, default) "
                     f"{r['pipeline_default_ex_per_s']:6.1f} ex/s → ×{r['ratio_vs_pipeline_default']:.2f} | "
                     f"pipeline(batch {r['batch_size']}) {r['pipeline_batched_ex_per_s']:6.1f} ex/s → "
                     f"×{r['ratio_vs_pipeline_batched']:.2f} | identical predictions: "
                     f"{r['identical_vs_pipeline_default'] and r['identical_vs_pipeline_batched']}")
        lines.append(f"      --precision bf16 (CPU autocast): {r['ours_bf16_ex_per_s']:7.1f} ex/s → "
                     f"×{r['ratio_bf16_vs_pipeline_default']:.2f} vs pipeline default | agrees with fp32 on "
                     f"{100 * r['bf16_agreement_with_fp32']:.1f}% | accuracy {100 * r['accuracy_bf16']:.2f} "
                     f"vs fp32 {100 * r['accuracy_fp32']:.2f}")
    text = "\n".join(lines)
    print(text)
    atomic_write_text(Path(args.out + ".txt"), text + "\n")
    atomic_write_text(Path(args.out + ".json"), json.dumps({"rows": rows, "threads": args.threads,
                                                             "versions": versions()}, indent=2) + "\n")
    return 0 if all(r["identical_vs_pipeline_default"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
