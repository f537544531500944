"""Issue 37's numbers from the stored records of loop.sh (no model is run): for every method, clean SST-2 dev,
advSST-2, DeepWordBug and PWWS accuracy under attack and each perturbation family's flip rate; then each method
against vanilla — per-seed mean Δ ×100 with its 95 % t-interval and the exact sign-flip p (n = 3 seeds: p ≥ 0.25),
and, for the accuracies, the exact McNemar test on the same rows pooled over the three seed pairs (rows of
different seeds are not independent draws, so read it as a per-row check, not a population claim), Holm-adjusted
over the page. ‡ marks a column the method trained on (its card's seen_in_training). Usage: LOOP_DIR"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from robustbench_match.perturbations import FAMILY_ORDER
from robustbench_match.results import load_records, predictions_path
from robustbench_match.stats import holm, mcnemar_exact, paired_test, t_interval

METHODS = ["vanilla", "match-tuning", "freelb", "augment-eda", "augment-charswap", "adv-train-dwb"]
ACCURACIES = {"clean": ("clean", "accuracy"), "advSST-2": ("advglue", "accuracy"),
              "DeepWordBug": ("attacks-deepwordbug", "accuracy_under_attack"),
              "PWWS": ("attacks-pwws", "accuracy_under_attack")}
ATTACK_OF = {"DeepWordBug": "deepwordbug", "PWWS": "pwws"}
PERTURBATION_RUNS = ("perturbation-baselines", "perturbation-answers")


def fmt(x: float, digits: int = 2, sign: bool = True) -> str:
    if not np.isfinite(x):
        return "NaN"
    return (f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}").replace("-", "−")


class Loop:
    """The records of one loop.sh output folder, by column, method and training seed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs = {name: load_records([root / name]) for name in
                     ("clean", "advglue", "attacks-deepwordbug", "attacks-pwws")
                     if (root / name / "results.jsonl").is_file()}
        # the perturbation records, in one run folder per group of checkpoints (each results.jsonl under 2 MB)
        parts = [root / n for n in PERTURBATION_RUNS if (root / n / "results.jsonl").is_file()]
        if parts:
            self.runs["perturbation"] = load_records(parts)
        self.seen: dict[str, dict] = {}
        for records in self.runs.values():
            for r in records:
                seen = (r.get("checkpoint") or {}).get("seen_in_training")
                if seen:
                    self.seen[r["model"]] = seen
        models = {r["model"] for rs in self.runs.values() for r in rs}
        self.methods = [m for m in METHODS if m in models] + sorted(models - set(METHODS))

    def accuracy_records(self, column: str) -> dict[str, dict[int, dict]]:
        run, _ = ACCURACIES[column]
        out: dict[str, dict[int, dict]] = defaultdict(dict)
        for r in self.runs.get(run, []):
            if r["task"] != "sst2" or (run == "advglue" and r["condition"] != "adversarial"):
                continue
            out[r["model"]][r["seed"]] = r
        return out

    def accuracy(self, column: str) -> dict[str, dict[int, float]]:
        metric = ACCURACIES[column][1]
        return {m: {s: float(r["metrics"][metric]) for s, r in seeds.items()}
                for m, seeds in self.accuracy_records(column).items()}

    def correct(self, column: str, record: dict) -> dict[int, bool]:
        """Row id → correct, from the record's saved predictions."""
        path = predictions_path(self.root / ACCURACIES[column][0], record)
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return {int(r["idx"]): int(r["prediction"]) == int(r["label"]) for r in rows}

    def families(self) -> list[str]:
        present = {(r.get("details") or {}).get("family") for r in self.runs.get("perturbation", [])}
        return [f for f in FAMILY_ORDER if f in present]

    def family(self, family: str) -> tuple[dict[str, dict[int, float]], str]:
        """Per method and training seed: the flip rate (DIR: violation rate), mean over perturbation seeds."""
        groups: dict[tuple[str, int], list[float]] = defaultdict(list)
        metric = "flip_rate"
        for r in self.runs.get("perturbation", []):
            d = r.get("details") or {}
            if d.get("family") != family:
                continue
            metric = "violation_rate" if d.get("test") == "DIR" else "flip_rate"
            value = r["metrics"].get(metric)
            groups[(r["model"], r["seed"])].append(np.nan if value is None else float(value))
        out: dict[str, dict[int, float]] = defaultdict(dict)
        for (model, seed), values in groups.items():
            out[model][seed] = float(np.mean(values))
        return out, metric

    def is_seen(self, method: str, column: str) -> bool:
        seen = self.seen.get(method) or {}
        if column in ATTACK_OF:
            return ATTACK_OF[column] in (seen.get("attacks") or [])
        return column in (seen.get("families") or [])


def cell(values: dict[int, float]) -> str:
    v = np.array(list(values.values())) * 100
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1 else (f"{v[0]:.2f}" if len(v) else "–")


def main(root: Path) -> None:
    loop = Loop(root)
    columns = list(ACCURACIES) + loop.families()
    values = {c: loop.accuracy(c) for c in ACCURACIES}
    directions = {c: True for c in ACCURACIES}
    for f in loop.families():
        values[f], metric = loop.family(f)
        directions[f] = False
    usable = [f for f in loop.families()  # a family that changed no model input (no flip rate) is left out
              if any(np.isfinite(x) and x > 0 for v in values[f].values() for x in v.values())]
    print("# Training that answers a failure — SST-2, MiniLM-L6, grid budget, seeds 1–3\n")
    print(f"Folder: `{root.name}/` (records of `loop.sh`). Methods and checkpoints (seeds): " + ", ".join(
        f"{m} {len(values['clean'].get(m, {}))}" for m in loop.methods) + ".\n")
    print("## Every method on every column (mean ± sd over training seeds, ×100)\n")
    print("Accuracy columns (higher is better): clean SST-2 dev (872 rows), advSST-2 (148 rows), accuracy under "
          "DeepWordBug (100 dev rows) and PWWS (50 dev rows), the same seeded sample for every checkpoint. Family "
          "columns (lower is better): flip rate over the rows whose model input the family changed (negate: DIR "
          "violation rate), mean over 3 perturbation seeds. ‡: not held out — the method trained on that kind of "
          "edit. Families that changed no model input (case changes under an uncased tokenizer) are left out.\n")
    shown = list(ACCURACIES) + usable
    print("| method | " + " | ".join(shown) + " |")
    print("|---|" + "---|" * len(shown))
    for m in loop.methods:
        cells = [cell(values[c].get(m, {})) + (" ‡" if loop.is_seen(m, c) else "") for c in shown]
        print(f"| {m} | " + " | ".join(cells) + " |")
    print()
    comparisons = []
    for c in shown:
        base = values[c].get("vanilla", {})
        for m in loop.methods:
            if m == "vanilla" or m not in values[c]:
                continue
            seeds = sorted(set(base) & set(values[c][m]))
            a = np.array([values[c][m][s] for s in seeds]) * 100
            b = np.array([base[s] for s in seeds]) * 100
            if len(seeds) < 2 or not np.isfinite(np.concatenate([a, b])).all():
                continue
            diff = a - b
            low, high = t_interval(diff)
            test = paired_test(list(a), list(b))
            row = {"column": c, "method": m, "delta": diff.mean(), "low": low, "high": high, "p": test.p_value,
                   "n": len(seeds), "seen": loop.is_seen(m, c), "better": directions[c]}
            if c in ACCURACIES:
                recs_m, recs_b = loop.accuracy_records(c)[m], loop.accuracy_records(c)["vanilla"]
                ca, cb = [], []
                for s in seeds:
                    got_m, got_b = loop.correct(c, recs_m[s]), loop.correct(c, recs_b[s])
                    common = sorted(set(got_m) & set(got_b))
                    ca += [got_m[i] for i in common]
                    cb += [got_b[i] for i in common]
                mc = mcnemar_exact(ca, cb)
                row.update(mcnemar_p=mc.p_value, rows=len(ca), wins=int(np.sum(np.array(ca) & ~np.array(cb))),
                           losses=int(np.sum(~np.array(ca) & np.array(cb))))
            comparisons.append(row)
    adjusted = holm([r.get("mcnemar_p") for r in comparisons])
    for r, adj in zip(comparisons, adjusted):
        r["mcnemar_holm"] = adj
    print("## Each method against vanilla\n")
    print("Δ = method − vanilla ×100, paired by training seed (accuracies: higher is better; flip rates: lower is "
          "better), 95 % t-interval over the seed differences, exact sign-flip p (n = 3: never below 0.25). "
          "Accuracies also get the exact McNemar test on the same rows pooled over the three seed pairs (rows the "
          "method gets right and vanilla wrong / the reverse), Holm-adjusted over every McNemar test of this page. "
          "Held out = the method never trained on that kind of edit.\n")
    print("| column | method | held out | Δ ×100 [95 % CI] | sign-flip p (n) | rows won / lost | McNemar p (Holm) |")
    print("|---|---|---|---|---|---|---|")
    for r in comparisons:
        mc = (f"{r['wins']} / {r['losses']} of {r['rows']}", f"{r['mcnemar_p']:.3g} ({r['mcnemar_holm']:.3g})") \
            if "mcnemar_p" in r else ("–", "–")
        print(f"| {r['column']} | {r['method']} | {'no ‡' if r['seen'] else 'yes'} | {fmt(r['delta'])} "
              f"[{fmt(r['low'])}, {fmt(r['high'])}] | {r['p']:.3g} ({r['n']}) | {mc[0]} | {mc[1]} |")
    print()
    print("## What training cost and what the attack found (from the checkpoints' cards)\n")
    print("Seconds per epoch as the cards measured them while two runs trained side by side at one thread each on a "
          "2-core machine (comparable with each other, not with an idle machine's). adv-train: per attack epoch, "
          "training rows attacked by DeepWordBug with the current model, successful (added with weight alpha = 1), "
          "failed, skipped (already misclassified).\n")
    print("| method | seed | rows trained | s / epoch (each epoch) | attack epochs: attacked → successful / failed / "
          "skipped (s) |")
    print("|---|---|---|---|---|")
    for m in loop.methods:
        for s, rec in sorted(loop.accuracy_records("clean").get(m, {}).items()):
            card = checkpoint_card(root, rec)
            if not card:
                continue
            epochs = ", ".join(f"{t:.0f}" for t in card.get("epoch_times_s") or [])
            adv = card.get("adversarial_training") or {}
            attack = "; ".join(f"e{e['epoch']}: {e['attacked']} → {e['successful']} / {e['failed']} / {e['skipped']} "
                               f"({e['seconds']:.0f} s)" for e in adv.get("epochs") or []) or "–"
            print(f"| {m} | {s} | {card.get('n_train')} | {card.get('train_time_per_epoch_s') or float('nan'):.0f} "
                  f"({epochs}) | {attack} |")


def checkpoint_card(root: Path, record: dict) -> dict:
    """The card of the record's checkpoint: the copy in ``cards/`` (loop.sh copies the new checkpoints' cards there:
    the weights are not committed), else the one beside the checkpoint (the record's path is relative to its run)."""
    path = Path((record.get("checkpoint") or {}).get("path") or "")
    copy = root / "cards" / f"{path.parent.name}-{path.name}.json"
    if copy.is_file():
        return json.loads(copy.read_text())
    for candidate in (root / "clean" / path, root.parent / path, path):
        if (candidate / "rbm_card.json").is_file():
            return json.loads((candidate / "rbm_card.json").read_text())
    return {}


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
