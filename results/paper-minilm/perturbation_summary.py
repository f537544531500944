"""Issue 36's numbers from the stored perturbation records (no model is run): per family, what every checkpoint
loses (McNemar per cell) and how each method's flip rate (DIR: violation rate) and drop differ from vanilla's,
paired by training seed (each seed's value the mean over its perturbation seeds) — mean Δ ×100, 95 % t-interval,
exact sign-flip p with n, Holm over the page's comparisons; then the MFT failure rates. Usage: RUN_DIR..."""
from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np

from robustbench_match.perturbations import FAMILY_ORDER
from robustbench_match.results import load_records
from robustbench_match.stats import holm, paired_test, t_interval

METHODS = ["vanilla", "match-tuning", "dense-head", "freelb", "smart", "lora"]


def per_seed(records, family, metric):
    out = defaultdict(dict)
    groups = defaultdict(list)
    for r in records:
        if (r.get("details") or {}).get("family") == family:
            groups[(r["model"], r["seed"])].append(r["metrics"].get(metric, float("nan")))
    for (model, seed), values in groups.items():
        out[model][seed] = float(np.mean(values))
    return out


def fmt(x, digits=2):
    return "NaN" if not np.isfinite(x) else f"{x:+.{digits}f}".replace("-", "−")


def main(run_dirs: list[str]) -> None:
    records = load_records(run_dirs)
    fam = [f for f in FAMILY_ORDER if any((r.get("details") or {}).get("family") == f for r in records)]
    methods = [m for m in METHODS if any(r["model"] == m for r in records)] + \
        sorted({r["model"] for r in records} - set(METHODS))
    print("# Perturbation suite on SST-2 dev — summary\n")
    counts = {m: len({r["seed"] for r in records if r["model"] == m}) for m in methods}
    print(f"Records: {len(records)}; checkpoints (seeds): {', '.join(f'{m} {n}' for m, n in counts.items())}.\n")
    print("## What each family does to every checkpoint\n")
    print("Over all checkpoints and perturbation seeds: rows whose model input changed, the mean accuracy drop "
          "(clean − perturbed, ×100, all 872 rows) with its range, the mean flip rate over changed rows, and in how "
          "many cells the drop is significant by the exact McNemar test on the same rows (p < 0.05, unadjusted).\n")
    print("| family | rows changed | drop ×100 mean [min, max] | flip % mean | cells McNemar p < 0.05 (drop > 0 / < 0) |")
    print("|---|---|---|---|---|")
    for f in fam:
        rs = [r for r in records if (r.get("details") or {}).get("family") == f]
        m = [r["metrics"] for r in rs]
        drops = np.array([x["drop"] for x in m]) * 100
        flips = np.array([x.get("violation_rate" if rs[0]["details"]["test"] == "DIR" else "flip_rate", np.nan)
                          for x in m]) * 100
        sig = [x for x in m if x["drop_p"] < 0.05]
        changed = np.mean([x["n_changed"] for x in m])
        flip = f"{np.nanmean(flips):.2f}" if np.isfinite(flips).any() else "no change"
        if rs[0]["details"]["test"] == "DIR":  # negation may invert the gold label: a drop against it means nothing
            print(f"| {f} (DIR: violation %) | {changed:.0f} | n/a (the original labels need not hold) | {flip} | n/a |")
            continue
        print(f"| {f} | {changed:.0f} | {fmt(drops.mean())} [{fmt(drops.min())}, {fmt(drops.max())}] | {flip} | "
              f"{len(sig)} of {len(m)} ({sum(x['drop'] > 0 for x in sig)} / {sum(x['drop'] < 0 for x in sig)}) |")
    rows, ps = [], []
    for f in fam:
        if all(r["metrics"].get("n_changed", 0) == 0 for r in records if (r.get("details") or {}).get("family") == f):
            continue  # changed no model input (case, for an uncased tokenizer): nothing to compare
        is_dir = next(r for r in records if (r.get("details") or {}).get("family") == f)["details"]["test"] == "DIR"
        for metric in (("violation_rate",) if is_dir else ("flip_rate", "drop")):
            values = per_seed(records, f, metric)
            base = values.get("vanilla", {})
            for m in methods:
                if m == "vanilla" or m not in values:
                    continue
                seeds = sorted(set(base) & set(values[m]))
                a = [values[m][s] * 100 for s in seeds]
                b = [base[s] * 100 for s in seeds]
                if not seeds or not np.isfinite(a + b).all():
                    continue
                test = paired_test(a, b)
                low, high = t_interval(np.subtract(a, b))
                rows.append((f, metric, m, np.mean(b), np.mean(a), np.mean(np.subtract(a, b)), low, high, test))
                ps.append(test.p_value)
    adjusted = holm(ps)
    print("\n## Each method against vanilla (paired by training seed)\n")
    print(f"Δ = method − vanilla ×100 (lower flip/violation and lower drop = more robust); {len(rows)} comparisons, "
          f"Holm over all of them; with n = 3 seeds the exact sign-flip test cannot go below p = 0.25.\n")
    print("| family | metric | method | vanilla | method | Δ [95 % t-interval] | p (n) | Holm |")
    print("|---|---|---|---|---|---|---|---|")
    for (f, metric, m, b, a, d, low, high, test), adj in zip(rows, adjusted):
        print(f"| {f} | {metric} | {m} | {fmt(b).lstrip('+')} | {fmt(a).lstrip('+')} | {fmt(d)} [{fmt(low)}, {fmt(high)}] | "
              f"{test.p_value:.3g} ({test.n}) | {adj:.3g} |")
    mft = [r for r in records if (r.get("details") or {}).get("mft")]
    if mft:
        print("\n## MFT (sentiment): failure rate ×100, mean over training seeds (min–max)\n")
        tests = [t["name"] for t in mft[0]["details"]["tests"]]
        print("| test | " + " | ".join(methods) + " |")
        print("|---|" + "---|" * len(methods))
        for name in ["all tests"] + tests:
            cells = []
            for m in methods:
                vals = [100 * (r["metrics"]["failure_rate"] if name == "all tests" else
                               next(t["failure_rate"] for t in r["details"]["tests"] if t["name"] == name))
                        for r in mft if r["model"] == m]
                cells.append(f"{np.mean(vals):.1f} ({min(vals):.1f}–{max(vals):.1f})" if vals else "–")
            print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
