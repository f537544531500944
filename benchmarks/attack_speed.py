"""Stock TextAttack wrapper vs ours: same recipe, same examples, same seeds, one run.

Each example is attacked twice in a row (stock, then ours) with the same per-example seed, so
machine noise hits both alike; the script checks that every outcome (result type, perturbed text,
query count) is identical and prints examples/s for both and the speed ratio.

    python benchmarks/attack_speed.py --checkpoint runs/rte-minilm --task rte --recipe deepwordbug \
        --num-examples 20 --data-dir ../shared/data --output results/attack_speed
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

from robustbench_match.attacks.environment import import_textattack
from robustbench_match.evaluators.textattack.evaluator import attack_example, sample_positions
from robustbench_match.attacks.recipes import build_attack
from robustbench_match.attacks.wrapper import fast_wrapper, stock_max_length, stock_wrapper
from robustbench_match.checkpoints import HFCheckpoint
from robustbench_match.data import load_split
from robustbench_match.tasks import get_task


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", action="append", required=True, metavar="[TASK=]PATH",
                   help="fine-tuned HF folder; repeat as TASK=PATH to benchmark several tasks")
    p.add_argument("--task", default="sst2", help="task when --checkpoint has no TASK= prefix")
    p.add_argument("--recipe", default="deepwordbug")
    p.add_argument("--num-examples", type=int, default=20)
    p.add_argument("--sample-seed", type=int, default=0)
    p.add_argument("--model-batch-size", type=int, default=128, help="TextAttack model_batch_size (both wrappers)")
    p.add_argument("--batch-size", type=int, default=64, help="our wrapper's forward batch")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--output", default=None, help="write OUTPUT.json and OUTPUT.md")
    return p.parse_args(argv)


def outcome(row: dict) -> tuple:
    return (row["result"], row["perturbed_text"], row["perturbed_text_b"], row["num_queries"], row["perturbed_output"])


def bench_task(task_name: str, path: str, args: argparse.Namespace) -> dict:
    task = get_task(task_name)
    checkpoint = HFCheckpoint(task.name, path, device="cpu")
    model, tokenizer = checkpoint.load()
    mapping, how = checkpoint.label_map(task)
    if how not in ("identity", "generic"):
        raise SystemExit(f"{path}: label order {how}; the stock wrapper cannot remap, use a checkpoint in task order")
    examples = load_split(task, next(iter(task.eval_splits().values())), args.data_dir)
    sample = examples.subset(sample_positions(len(examples), args.num_examples, args.sample_seed))
    wrappers = {"stock": stock_wrapper(model, tokenizer),
                "ours": fast_wrapper(model, tokenizer, label_map=mapping, batch_size=args.batch_size,
                                     max_length=stock_max_length(tokenizer), device="cpu", precision="fp32")}
    attacks = {name: build_attack(args.recipe, w, model_batch_size=args.model_batch_size, data_dir=args.data_dir)
               for name, w in wrappers.items()}
    seconds = {name: 0.0 for name in attacks}
    rows: dict[str, list[dict]] = {name: [] for name in attacks}
    for position in range(len(sample)):
        for name, attack in attacks.items():
            row = attack_example(attack, sample, position, args.sample_seed)
            rows[name].append(row)
            seconds[name] += float(row["seconds"])
        print(f"  {task.name} example {position + 1}/{len(sample)}: "
              + ", ".join(f"{k} {rows[k][-1]['seconds']:.2f}s" for k in attacks), flush=True)
    same = [outcome(a) == outcome(b) for a, b in zip(rows["stock"], rows["ours"])]
    n = len(sample)
    return {"task": task.name, "checkpoint": path, "recipe": args.recipe, "n_examples": n,
            "sample_indices": [int(i) for i in sample.idx],
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
            "examples_per_s": {k: round(n / v, 3) for k, v in seconds.items()},
            "speedup": round(seconds["stock"] / seconds["ours"], 2),
            "outcomes_identical": all(same), "n_identical": int(sum(same)),
            "queries": {k: int(sum(int(r["num_queries"]) for r in v)) for k, v in rows.items()},
            "results": {k: {t: sum(r["result"] == t for r in v) for t in ("successful", "failed", "skipped")}
                        for k, v in rows.items()}}


def markdown(report: dict) -> str:
    lines = [f"# Attack speed: TextAttack's HuggingFaceModelWrapper vs ours ({report['recipe']})", "",
             f"Machine: {report['machine']}; torch {report['torch']}, {report['threads']} threads; "
             f"model_batch_size {report['model_batch_size']}. Each example attacked by both, same seed, in one run.", "",
             "| task | examples | stock s | ours s | stock ex/s | ours ex/s | speedup | identical outcomes | queries |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report["tasks"]:
        lines.append(f"| {r['task']} | {r['n_examples']} | {r['seconds']['stock']} | {r['seconds']['ours']} | "
                     f"{r['examples_per_s']['stock']} | {r['examples_per_s']['ours']} | **{r['speedup']}×** | "
                     f"{r['n_identical']}/{r['n_examples']} | {r['queries']['ours']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    import_textattack(args.data_dir)
    report = {"recipe": args.recipe, "model_batch_size": args.model_batch_size, "machine": platform.processor() or platform.machine(),
              "torch": torch.__version__, "threads": torch.get_num_threads(), "command": " ".join(sys.argv), "tasks": []}
    for spec in args.checkpoint:
        task, path = spec.split("=", 1) if "=" in spec else (args.task, spec)
        result = bench_task(task, path, args)
        report["tasks"].append(result)
        print(f"{result['task']}: stock {result['examples_per_s']['stock']} ex/s, ours {result['examples_per_s']['ours']} "
              f"ex/s, speedup {result['speedup']}x, identical outcomes {result['n_identical']}/{result['n_examples']}",
              flush=True)
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
        out.with_suffix(".md").write_text(markdown(report))
    return 0 if all(r["outcomes_identical"] for r in report["tasks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
