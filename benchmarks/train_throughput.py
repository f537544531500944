"""`rbm train` against the obvious alternative, a plain `transformers.Trainer`, on the same work.

Same model (the packaged MiniLM), same training rows (the grid's seeded 1,000-row SST-2 pool), same batch
size, max length, AdamW, linear schedule with 10 % warm-up, grad-norm clip 1.0, and the same random batch
order (Trainer reads the rows in ``rbm train``'s epoch order through a sequential sampler), with
``DataCollatorWithPadding``. Runs alternate A B A B in one process, so machine noise hits both alike; each
side is timed end to end (load, tokenise, train, save) and for its training loop alone. The machine's fp32
matmul peak (GEMMs of the model's own shapes, same thread count) is measured in the same run, and each
side's loop is given as a fraction of that bound over the tokens it really computed (padding included)
and over the useful (unpadded) tokens.

    python benchmarks/train_throughput.py --data-dir ../shared/data --rounds 2 --output results/train_throughput
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench_common import cpu_model, load_average, publish
from robustbench_match.conditions.base import training_pool
from robustbench_match.data import load_split
from robustbench_match.models import default_base_model
from robustbench_match.training import TrainConfig, train
from robustbench_match.training.trainer import epoch_batches


def gemm_peak(hidden: int, inter: int, tokens: int = 2048, seconds: float = 3.0) -> float:
    """Best fp32 GFLOP/s over the model's linear-layer shapes (tokens × hidden × {hidden, inter})."""
    best = 0.0
    for k, n in ((hidden, hidden), (hidden, inter), (inter, hidden)):
        a, b = torch.randn(tokens, k), torch.randn(k, n)
        for _ in range(3):
            a @ b
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            a @ b
            reps += 1
        best = max(best, 2 * tokens * k * n * reps / (time.perf_counter() - start) / 1e9)
    return best


def train_flops_per_token(config, seq_len: float) -> float:
    """Forward + backward (3× forward) matmul FLOPs per token: the layers' linear maps and attention."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    linear = 2 * (4 * h * h + 2 * h * i)
    attention = 2 * 2 * seq_len * h
    return 3 * layers * (linear + attention)


def token_counts(examples, tokenizer, order: list[np.ndarray], max_length: int) -> tuple[int, int, float]:
    """(padded tokens computed, real tokens, mean padded length) over one epoch in this batch order."""
    args = (list(examples.text_a),) if examples.text_b is None else (list(examples.text_a), list(examples.text_b))
    enc = tokenizer(*args, truncation=True, max_length=max_length)
    lengths = np.array([len(x) for x in enc["input_ids"]])
    padded = sum(int(lengths[b].max()) * len(b) for b in order)
    sq = sum(int(lengths[b].max()) ** 2 * len(b) for b in order)
    return padded, int(lengths.sum()), sq / padded


def run_rbm(examples, args, out: Path) -> dict:
    cfg = TrainConfig(method="vanilla", task="sst2", seed=args.seed, output=str(out), epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, max_length=args.max_length, group_by_length=False,
                      overwrite=True, log_every=1)
    start = time.perf_counter()
    train(cfg, train_examples=examples)
    total = time.perf_counter() - start
    card = json.loads((out / "rbm_card.json").read_text())
    losses = [json.loads(l)["loss"] for l in (out / "training_log.jsonl").read_text().splitlines()]
    return {"total_s": total, "loop_s": sum(card["epoch_times_s"]), "losses": losses}


def run_trainer(examples, args, out: Path, order: np.ndarray) -> dict:
    from datasets import Dataset
    from torch.utils.data import SequentialSampler
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments)

    class OrderedTrainer(Trainer):
        def _get_train_sampler(self, *a, **k):  # the rows are already in rbm train's epoch order
            return SequentialSampler(self.train_dataset)

    start = time.perf_counter()
    torch.manual_seed(args.seed)
    base = default_base_model()
    tokenizer = AutoTokenizer.from_pretrained(base)
    names = examples.task.label_names
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    ds = Dataset.from_dict({"sentence": [examples.text_a[i] for i in order],
                            "label": [int(examples.labels[i]) for i in order]})
    ds = ds.map(lambda b: tokenizer(b["sentence"], truncation=True, max_length=args.max_length), batched=True,
                remove_columns=["sentence"])
    targs = TrainingArguments(output_dir=str(out), per_device_train_batch_size=args.batch_size,
                              num_train_epochs=args.epochs, learning_rate=args.lr, warmup_ratio=0.1,
                              lr_scheduler_type="linear", weight_decay=0.0, max_grad_norm=1.0, logging_steps=1,
                              save_strategy="no", report_to=[], use_cpu=True, seed=args.seed, dataloader_num_workers=0,
                              disable_tqdm=True)
    trainer = OrderedTrainer(model=model, args=targs, train_dataset=ds,
                             data_collator=DataCollatorWithPadding(tokenizer))
    loop_start = time.perf_counter()
    result = trainer.train()
    loop = time.perf_counter() - loop_start
    trainer.save_model(str(out / "final"))
    total = time.perf_counter() - start
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return {"total_s": total, "loop_s": loop, "train_runtime": result.metrics.get("train_runtime"), "losses": losses}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--epochs", type=float, default=1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--output", help="write OUTPUT.json and OUTPUT.md")
    args = p.parse_args(argv)
    from transformers import AutoConfig, AutoTokenizer

    examples = training_pool(load_split("sst2", "train", args.data_dir), args.rows)
    batches = epoch_batches(np.zeros(len(examples)), args.batch_size, np.random.default_rng(args.seed), False)
    order = np.concatenate(batches)
    config = AutoConfig.from_pretrained(default_base_model())
    padded, real, seq = token_counts(examples, AutoTokenizer.from_pretrained(default_base_model()), batches,
                                     args.max_length)
    peak = gemm_peak(config.hidden_size, config.intermediate_size)
    flops = train_flops_per_token(config, seq) * args.epochs
    load = load_average()
    runs: dict[str, list[dict]] = {"rbm train": [], "Trainer": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name in runs:
                out = Path(tmp, f"{name.replace(' ', '-')}-{r}")
                res = run_rbm(examples, args, out) if name == "rbm train" else run_trainer(examples, args, out, order)
                runs[name].append(res)
                print(f"round {r + 1} {name}: total {res['total_s']:.1f} s, loop {res['loop_s']:.1f} s", flush=True)
    best = {n: {k: min(x[k] for x in rs) for k in ("total_s", "loop_s")} for n, rs in runs.items()}
    rows = []
    for name, b in best.items():
        rows.append({"side": name, **b, "bound_padded": flops * padded / b["loop_s"] / 1e9 / peak,
                     "bound_useful": flops * real / b["loop_s"] / 1e9 / peak})
    la, lb = runs["rbm train"][0]["losses"], runs["Trainer"][0]["losses"]
    result = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
                          "load_1min_at_start": round(load, 2), "torch": torch.__version__},
              "settings": {k: getattr(args, k) for k in ("rows", "epochs", "batch_size", "max_length", "lr", "seed")},
              "gemm_peak_gflops": peak, "tokens": {"padded": padded, "real": real}, "rows": rows, "runs": runs,
              "ratio_total": best["Trainer"]["total_s"] / best["rbm train"]["total_s"],
              "ratio_loop": best["Trainer"]["loop_s"] / best["rbm train"]["loop_s"],
              "first_losses": {"rbm train": la[:5], "Trainer": lb[:5]}}
    publish(result, render(result), args.output)


def render(r: dict) -> str:
    m, s = r["machine"], r["settings"]
    lines = ["# Training throughput: `rbm train` vs `transformers.Trainer` (`benchmarks/train_throughput.py`)", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} with {m['threads']} threads; 1-minute load "
             f"average at start {m['load_1min_at_start']}. Work: {s['rows']:,} SST-2 training rows × {s['epochs']:g} epoch, "
             f"batch {s['batch_size']}, max length {s['max_length']}, lr {s['lr']:g}, same batch order; fp32. fp32 GEMM "
             f"peak of this machine (same run, model shapes): {r['gemm_peak_gflops']:.0f} GFLOP/s. Best of "
             f"{len(r['runs']['rbm train'])} alternating rounds.", "",
             "| side | end to end s | training loop s | loop, share of the matmul bound (tokens computed) | (useful tokens) |",
             "|---|---:|---:|---:|---:|"]
    for row in r["rows"]:
        lines.append(f"| {row['side']} | {row['total_s']:.1f} | {row['loop_s']:.1f} | {100 * row['bound_padded']:.0f} % | "
                     f"{100 * row['bound_useful']:.0f} % |")
    lines += ["", f"Trainer / rbm train: **{r['ratio_total']:.2f}×** end to end, **{r['ratio_loop']:.2f}×** for the "
              f"training loop. Padded tokens computed {r['tokens']['padded']:,}, useful {r['tokens']['real']:,}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
