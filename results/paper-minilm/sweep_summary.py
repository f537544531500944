"""Issue 21's held-out sweep, summarised: Match-Tuning's T and lr, its dense init, the dense-head control and
vanilla, each over its seeds, on 500 held-out SST-2 training rows (budget_check.py; never dev).

    python results/paper-minilm/sweep_summary.py > results/paper-minilm/temperature_sweep.md

Choice rule (written before the numbers were read): the configuration with the best mean held-out accuracy
over 3 seeds; a configuration within one standard error of the mean *difference* to the best (paired by
seed) counts as tied, and among ties the paper's grid (T in 1..6) wins, then the larger T (more in-batch
mixing). lr is chosen the same way for every method from vanilla's candidates {5e-5, 1e-4}. Added after the
sweep, before any dev number: among ties the grid's lr (1e-4) comes first, so that vanilla keeps the lr its
stored records were trained with (its two lrs are 0.07 ± 0.70 apart); it changes no Match-Tuning choice.
The dense initialisation is swept at the chosen T and lr; torch's default replaces the project's normal
init only if it is better by more than one paired standard error.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BUDGET = HERE / "budget"
PAPER_GRID = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}
GRID_LR = 1e-4  # the lr of the stored grid (budget.md)


def rows() -> list[dict]:
    out = []
    for path in sorted(BUDGET.glob("sst2-*-n1000*.json")):
        r = json.loads(path.read_text())
        if r.get("method", "vanilla") not in ("vanilla", "match-tuning", "dense-head"):
            continue
        if r.get("epochs") != 3 or r.get("batch_size") != 16:
            continue
        r["seed"] = r.get("seed", 1)
        r["log"] = BUDGET / "training-logs" / (path.stem + ".jsonl")
        out.append(r)
    return out


def config(r: dict) -> tuple:
    args = r.get("method_args") or {}
    return (r.get("method", "vanilla"), args.get("temperature"), args.get("dense_init", "normal"), r["lr"])


def masses(log: Path) -> tuple[float, float]:
    """M's mean self mass over the first and the last 10 logged steps (NaN without a log or M)."""
    if not log.is_file():
        return float("nan"), float("nan")
    vals = [json.loads(line).get("m_self") for line in log.read_text().splitlines()]
    vals = [v for v in vals if v is not None]
    if not vals:
        return float("nan"), float("nan")
    return float(np.mean(vals[:10])), float(np.mean(vals[-10:]))


def summarise(all_rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in all_rows:
        groups.setdefault(config(r), []).append(r)
    out = []
    for key, rs in groups.items():
        rs.sort(key=lambda r: r["seed"])
        acc = np.array([r["heldout_score"] for r in rs]) * 100
        starts, ends = zip(*(masses(r["log"]) for r in rs))
        starts, ends = [v for v in starts if v == v] or [float("nan")], [v for v in ends if v == v] or [float("nan")]
        out.append({"method": key[0], "T": key[1], "init": key[2], "lr": key[3], "seeds": [r["seed"] for r in rs],
                    "scores": dict(zip([r["seed"] for r in rs], acc)), "mean": float(acc.mean()),
                    "sd": float(acc.std(ddof=1)) if len(acc) > 1 else float("nan"),
                    "share": max(r["prediction_share"] for r in rs), "m_self_start": float(np.mean(starts)),
                    "m_self_end": float(np.mean(ends)), "seconds": float(np.mean([r["train_seconds"] for r in rs]))})
    return sorted(out, key=lambda g: (g["method"], g["init"], g["T"] or 0, g["lr"]))


def paired_se(a: dict, b: dict) -> tuple[float, float, int]:
    seeds = sorted(set(a["scores"]) & set(b["scores"]))
    d = np.array([a["scores"][s] - b["scores"][s] for s in seeds])
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("inf")
    return float(d.mean()), se, len(d)


def choose(groups: list[dict], method: str, init: str = "normal") -> dict | None:
    cands = [g for g in groups if g["method"] == method and g["init"] == init and len(g["seeds"]) >= 3]
    if not cands:
        return None
    best = max(cands, key=lambda g: g["mean"])
    tied = [g for g in cands if g is best or paired_se(best, g)[0] <= paired_se(best, g)[1]]
    return max(tied, key=lambda g: (g["lr"] == GRID_LR, (g["T"] in PAPER_GRID) if g["T"] is not None else False,
                                    g["T"] or 0, g["mean"]))


def fmt(v: float, d: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}f}"


def main() -> None:
    groups = summarise(rows())
    print("# Issue 21: Match-Tuning's T, lr and dense init, chosen on held-out training rows\n")
    print(__doc__.split("\n\n")[2].strip() + "\n")
    print("SST-2, the grid's budget: the same 1,000-row pool, 3 epochs, batch 16, max length 128, linear schedule with "
          "10 % warm-up; scored on 500 other SST-2 training rows (majority class 57.6 %). One-thread CPU runs, two at a "
          "time (train s under that load). m_self: M's mean diagonal over the first / last 10 logged steps "
          "(1/16 = 0.06 is uniform, 1 is no mixing).\n")
    print("| method | T | dense init | lr | seeds | held-out acc (mean ± sd) | per seed | top-class share (max) | m_self start → end | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for g in groups:
        per = ", ".join(f"{g['scores'][s]:.1f}" for s in g["seeds"])
        print(f"| {g['method']} | {fmt(g['T'], 2) if g['T'] is not None else '–'} | {g['init'] if g['method'] != 'vanilla' else '–'} | "
              f"{g['lr']:g} | {len(g['seeds'])} | {fmt(g['mean'])} ± {fmt(g['sd'])} | {per} | {g['share']:.2f} | "
              f"{fmt(g['m_self_start'], 2)} → {fmt(g['m_self_end'], 2)} | {g['seconds']:.0f} |")
    print()
    for method in ("vanilla", "match-tuning", "dense-head"):
        c = choose(groups, method)
        if c is None:
            continue
        what = f"T = {c['T']:g}, lr {c['lr']:g}" if c["T"] is not None else f"lr {c['lr']:g}"
        print(f"- **{method}** (normal init): {what} — held-out {c['mean']:.1f} ± {c['sd']:.1f} over {len(c['seeds'])} seeds")
    mt = choose(groups, "match-tuning")
    if mt:
        best = max((g for g in groups if g["method"] == "match-tuning" and g["init"] == "normal"), key=lambda g: g["mean"])
        if best is not mt:
            d, se, n = paired_se(best, mt)
            print(f"  (best mean: T = {best['T']:g}, lr {best['lr']:g}, {best['mean']:.1f}; the chosen T is {d:+.2f} ± {se:.2f} "
                  f"(paired SE, n = {n}) from it: tied, so the rule prefers the paper's grid / larger T)")
    alt = [g for g in groups if g["init"] == "torch-default"]
    for g in alt:
        ref = next((h for h in groups if h["method"] == g["method"] and h["T"] == g["T"] and h["lr"] == g["lr"]
                    and h["init"] == "normal"), None)
        if ref:
            d, se, n = paired_se(g, ref)
            print(f"- dense init torch-default vs normal, {g['method']}"
                  f"{' T = ' + format(g['T'], 'g') if g['T'] is not None else ''}, lr {g['lr']:g}: "
                  f"{g['mean']:.1f} vs {ref['mean']:.1f} (Δ {d:+.2f} ± {se:.2f} paired SE, n = {n})")


def chosen_init(groups: list[dict]) -> str:
    """normal unless torch-default beats it at the chosen T and lr by more than one paired SE (3+ seeds)."""
    mt = choose(groups, "match-tuning")
    alt = next((g for g in groups if g["method"] == "match-tuning" and g["init"] == "torch-default" and mt
                and g["T"] == mt["T"] and g["lr"] == mt["lr"] and len(g["seeds"]) >= 3), None)
    if not alt:
        return "normal"
    d, se, _ = paired_se(alt, mt)
    return "torch-default" if d > se else "normal"


if __name__ == "__main__":
    if sys.argv[1:] == ["--chosen"]:  # "T LR INIT" of Match-Tuning, for the scripts
        g = summarise(rows())
        c = choose(g, "match-tuning")
        print(f"{c['T']:g} {c['lr']:g} {chosen_init(g)}")
        sys.exit(0)
    sys.exit(main())
