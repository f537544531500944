"""Budget check for the paper-minilm grid: does vanilla MiniLM learn each task at the grid's budget,
and which learning rate (and, with ``--method``, which method hyperparameter)? Chosen on a HELD-OUT SLICE OF THE TRAINING SET, never on dev.

The grid trains every method on ``training_pool(train, N)`` (a seeded sample, the same for every
method and seed). Here vanilla (seed 1) trains on exactly that pool and is scored on ``HELDOUT``
other training rows (seeded, disjoint from the pool), beside the held-out majority-class score.

    python results/paper-minilm/budget_check.py --task mrpc --lr 1e-4 --out results/paper-minilm/budget
One JSON per (task, lr); an existing one is skipped (resumable). ``--summary`` prints the table.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

HELDOUT = 500
HELDOUT_SEED = 12345


def split(task: str, data_dir: str, n_train: int):
    from robustbench_match.conditions.base import training_pool
    from robustbench_match.data import load_split

    train = load_split(task, "train", data_dir)
    pool = training_pool(train, n_train)
    rest = np.setdiff1d(np.arange(len(train)), np.searchsorted(train.idx, pool.idx))
    rng = np.random.default_rng(HELDOUT_SEED)
    held = train.subset(np.sort(rng.choice(rest, size=min(HELDOUT, len(rest)), replace=False)))
    assert not set(held.idx.tolist()) & set(pool.idx.tolist())
    return pool, held


def majority_score(task, labels: np.ndarray) -> float:
    from robustbench_match.metrics import compute_metrics

    if task.is_regression:
        const = np.full(len(labels), float(np.mean(labels)))
    else:
        const = np.full(len(labels), np.bincount(labels.astype(int)).argmax())
    return compute_metrics([task.main_metric], labels, const)[task.main_metric]


def run(args) -> dict:
    import torch

    from robustbench_match.checkpoints import open_checkpoint
    from robustbench_match.metrics import compute_metrics
    from robustbench_match.tasks import get_task
    from robustbench_match.training import TrainConfig, train

    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    pool, held = split(task.name, args.data_dir, args.n_train)
    ckpt = Path(args.out) / "checkpoints" / stem(args)
    cfg = TrainConfig(method=args.method, task=task.name, seed=args.seed, output=str(ckpt), data_dir=args.data_dir,
                      method_args=method_args(args),
                      epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, max_length=args.max_length,
                      group_by_length=False, overwrite=True)
    start = time.perf_counter()
    train(cfg, train_examples=pool)
    seconds = time.perf_counter() - start
    logs = Path(args.out) / "training-logs"  # per-step loss (and M's masses): committed, unlike the checkpoint
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{stem(args)}.jsonl").write_bytes((ckpt / "training_log.jsonl").read_bytes())
    pred = open_checkpoint("check", str(ckpt)).predict(held)  # a LoRA run writes an adapter folder
    score = compute_metrics([task.main_metric], held.labels, pred)[task.main_metric]
    share = None if task.is_regression else float(np.bincount(pred.astype(int)).max() / len(pred))
    return {"task": task.name, "method": args.method, "seed": args.seed, "method_args": method_args(args), "lr": args.lr, "n_train": len(pool), "n_heldout": len(held), "epochs": args.epochs,
            "batch_size": args.batch_size, "max_length": args.max_length, "metric": task.main_metric,
            "heldout_score": score, "heldout_majority": majority_score(task, held.labels),
            "prediction_share": share, "train_seconds": round(seconds, 1), "threads": args.threads,
            "card": json.loads((ckpt / "rbm_card.json").read_text())}


def method_args(args) -> dict:
    """``--method-arg temperature=0.25`` → {"temperature": 0.25} (numbers parsed, the rest kept as text)."""
    out = {}
    for item in args.method_arg or []:
        key, _, raw = item.partition("=")
        try:
            out[key] = float(raw)
        except ValueError:
            out[key] = raw
    return out


def stem(args) -> str:
    """File stem of one check: vanilla keeps the original names; other methods add method and args."""
    base = f"{args.task}-lr{args.lr:g}-n{args.n_train}"
    seed = "" if args.seed == 1 else f"-seed{args.seed}"  # seed 1 keeps the first checks' names
    if args.method == "vanilla" and not args.method_arg:
        return base + seed
    extra = "".join(f"-{k}{v:g}" if isinstance(v, float) else f"-{k}{v}" for k, v in method_args(args).items())
    return f"{base}-{args.method}{extra}{seed}"


def summary(out: Path) -> str:
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    lines = ["| task | method | training rows | lr | metric | held-out score | majority | top-class share | train wall s (1 thread) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["task"], r.get("method", "vanilla"), str(r.get("method_args")),
                                          r["n_train"], r["lr"])):
        method = r.get("method", "vanilla") + "".join(f" {k}={v:g}" if isinstance(v, float) else f" {k}={v}"
                                                      for k, v in (r.get("method_args") or {}).items())
        share = "–" if r["prediction_share"] is None else f"{r['prediction_share']:.2f}"
        majority = r["heldout_majority"]
        majority = "– (constant: undefined)" if majority != majority else f"{100 * majority:.1f}"
        lines.append(f"| {r['task']} | {method} | {r['n_train']} | {r['lr']:g} | {r['metric']} | {100 * r['heldout_score']:.1f} | "
                     f"{majority} | {share} | {r['train_seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task")
    p.add_argument("--lr", type=float)
    p.add_argument("--out", default="results/paper-minilm/budget")
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1, help="training seed (the pool and the held-out rows stay the same)")
    p.add_argument("--method", default="vanilla", help="the grid chooses lr with vanilla; other methods check "
                                                      "their own hyperparameters (e.g. Match-Tuning's T per task)")
    p.add_argument("--method-arg", action="append", metavar="KEY=VALUE")
    p.add_argument("--summary", action="store_true")
    args = p.parse_args()
    out = Path(args.out)
    if args.summary:
        print(summary(out))
        return
    dest = out / f"{stem(args)}.json"
    if dest.exists():
        print(f"{dest} exists; skipped")
        return
    out.mkdir(parents=True, exist_ok=True)
    result = run(args)
    tmp = dest.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.rename(dest)
    print(json.dumps({k: v for k, v in result.items() if k != "card"}))


if __name__ == "__main__":
    main()
