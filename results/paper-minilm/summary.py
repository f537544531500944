"""The study's headline numbers in one table, from the stored records only (no model is run).

    python results/paper-minilm/summary.py > results/paper-minilm/SUMMARY.md

Per (table, task, eval set, condition, method): seeds n, mean ± sd of the table's metric, the drop from
the same method's clean score (paired over seeds, exact sign-flip p), and the difference to the
reference method at the same condition (vanilla; full Match-Tuning in the ablation tables), paired over
the seeds both have, and for perturbed conditions the difference of the two drops ("drop minus
vanilla's drop": positive = this method lost less than vanilla); in a folder with a control method (issue 21:
dense-head, Match-Tuning's head with M = I) the same two comparisons against the control too. The paper's tables show these per table (``tables.md``); this page puts the answer
to "is Match-Tuning more robust?" in one place, with every drop measured against the method's own
clean score (Tables 3 and 5 as the issue asks) and degenerate (one-class) seeds counted and excluded —
and, wherever that exclusion changes a comparison, the same Δ with them kept. Every Δ carries its 95 %
t-interval over the paired seeds, and every p its Holm adjustment across all the comparisons on the page.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from robustbench_match.stats import holm, paired_test, t_interval

HERE = Path(__file__).resolve().parent
# folder: (title, metric name or None for the record's main metric, reference method, clean condition)
TABLES = {
    "table1-glue": ("Table 1 — GLUE dev", None, "vanilla", None),
    "table1-pertask-temperature": ("Table 1 — Match-Tuning at its task's held-out T (CoLA: T = 0.25)", None,
                                   "vanilla", None),
    "table2-advglue": ("Table 2 — AdvGLUE (same checkpoints)", "accuracy", "vanilla", "clean"),
    "table3-label-noise": ("Table 3 — label noise (clean dev)", None, "vanilla", "clean"),
    "table5-minority": ("Table 5 — minority reduction (dev accuracy on label 1)", "minority_accuracy", "vanilla",
                        "clean"),
    "table6-mnli-negation-proxy": ("Table 6 (proxy) — MNLI-m negation groups, worst-group accuracy", None,
                                   "vanilla", None),
    "table7-ablation": ("Table 7 — ablations, mask after the softmax (paper)", None, "match-tuning", None),
    "table7-ablation-presoftmax": ("Table 7 — ablations, mask before the softmax (renormalised)", None,
                                   "match-tuning", None),
    "attacks": ("Attacks — accuracy under attack (50 SST-2 dev sentences)", "accuracy_under_attack", "vanilla",
                None),
    "headline-chosen-t": ("Issue 21 — Match-Tuning at the held-out T = 4 beside its head control dense-head and "
                          "vanilla (main metric of each suite)", None, "vanilla", "clean"),
    "robust-baselines/glue": ("Robust baselines — SST-2 dev (issues 28, 35)", None, "vanilla", None),
    "robust-baselines/advglue": ("Robust baselines — AdvGLUE advSST-2 (same checkpoints)", "accuracy", "vanilla",
                                 "clean"),
    "robust-baselines/attacks": ("Robust baselines — accuracy under attack (50 SST-2 dev sentences)",
                                 "accuracy_under_attack", "vanilla", None),
}
# folder: the folder whose reference-method records it is compared with (the robust baselines were trained
# beside the stored vanilla models of Tables 1, 2 and the attacks, under the same suites and seeds)
REFERENCE_FROM = {"robust-baselines/glue": "table1-glue", "robust-baselines/advglue": "table2-advglue",
                  "robust-baselines/attacks": "attacks"}
# folder: a control method every other method of the folder is also compared with (issue 21: the matching
# against Match-Tuning's own head with M = I)
CONTROLS = {"headline-chosen-t": "dense-head"}
TESTS: list = []  # every test printed, in order: Holm's family


class Shown:
    """A comparison printed on the page; its text is filled in once Holm has seen the whole family."""

    def __init__(self, a: dict[int, float], b: dict[int, float]) -> None:
        seeds = sorted(set(a) & set(b))
        self.diff = [a[s] - b[s] for s in seeds]
        self.test = paired_test([a[s] for s in seeds], [b[s] for s in seeds])
        self.holm = float("nan")
        # what is compared: the same paired values printed twice (Table 2's clean SST-2 rows are Table 1's
        # models; a comparison with one-class seeds kept where none was excluded) are one test in Holm's family
        self.key = tuple((s, round(a[s], 9), round(b[s], 9)) for s in seeds)
        if self.test.n >= 2 and math.isfinite(self.test.p_value):
            TESTS.append(self)

    def __str__(self) -> str:
        t = self.test
        if t.n < 2 or not math.isfinite(t.p_value):
            return f"{t.mean_diff:+.2f} (n={t.n})" if t.n else "–"
        low, high = t_interval(self.diff)
        return f"{t.mean_diff:+.2f} [{low:+.2f}, {high:+.2f}], p={t.p_value:.3g}, Holm {self.holm:.3g} (n={t.n})"


def records(folder: Path) -> list[dict]:
    path = folder / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def value(record: dict, name: str | None) -> float:
    v = record["metrics"].get(name or record["main_metric"])
    return float("nan") if v is None else 100.0 * float(v)


def table(folder: str) -> list:
    """One table per suite stored in the folder (a folder may hold several: headline-chosen-t does)."""
    title, metric, reference, clean = TABLES[folder]
    by_suite: dict[str, list[dict]] = defaultdict(list)
    own = records(HERE / folder)
    tasks = {r["task"] for r in own}
    borrowed = [r for r in records(HERE / REFERENCE_FROM[folder]) if r["model"] == reference and r["task"] in tasks] \
        if folder in REFERENCE_FROM else []
    for r in borrowed + own:
        by_suite[r["suite"]].append(r)
    out: list = []
    for suite, recs in by_suite.items():
        shown_title = title if len(by_suite) == 1 else f"{title}: {suite}"
        out += suite_table(recs, shown_title, metric, reference, clean, CONTROLS.get(folder))
    return out


def versus(cells: dict, cell: tuple, other: str, clean: str | None) -> tuple:
    """(Δ to ``other`` at the same condition, difference of the two drops from their own clean score)."""
    task, eval_set, condition, model = cell
    seeds = cells.get(cell, {})
    theirs = cells.get((task, eval_set, condition, other))
    ref = did = "–"
    if theirs:
        ref = Shown(seeds, theirs)
    mine_clean = cells.get((task, eval_set, clean, model)) if clean and condition != clean else None
    theirs_clean = cells.get((task, eval_set, clean, other)) if clean and condition != clean else None
    if mine_clean and theirs and theirs_clean:  # (mine - my clean) - (theirs - their clean), per seed
        common = set(seeds) & set(mine_clean) & set(theirs) & set(theirs_clean)
        did = Shown({s: seeds[s] - mine_clean[s] for s in common}, {s: theirs[s] - theirs_clean[s] for s in common})
    return ref, did


def suite_table(recs: list[dict], title: str, metric: str | None, reference: str, clean: str | None,
                control: str | None = None) -> list:
    """One suite's rows; with a ``control`` method, each other method is also compared with it."""
    by_cell: dict[tuple, dict[int, float]] = defaultdict(dict)
    with_one_class: dict[tuple, dict[int, float]] = defaultdict(dict)  # the same, one-class seeds kept
    degenerate: dict[tuple, int] = defaultdict(int)
    for r in recs:
        cell = (r["task"], r["eval_set"], r["condition"], r["model"])
        with_one_class[cell][r["seed"]] = value(r, metric)
        if r.get("degenerate"):
            degenerate[cell] += 1
            continue  # a one-class model is not a result: counted, never averaged or tested
        by_cell[cell][r["seed"]] = value(r, metric)

    def order(cell: tuple) -> tuple:
        task, eval_set, condition, model = cell
        digits = "".join(ch for ch in condition if ch.isdigit())
        return (task, eval_set != task, condition != (clean or "clean"), condition.rstrip("0123456789"),
                int(digits) if digits else 0, model != reference, model != control, model)

    cells = sorted(set(by_cell) | set(degenerate), key=order)
    extra_head = (f" vs {control} (Δ, p) | drop minus {control}'s drop (Δ, p) |" if control else "")
    lines = [f"### {title}", "",
             f"| task | condition | method | n | mean ± sd | vs own clean (Δ, p) | vs {reference} (Δ, p) | "
             f"drop minus {reference}'s drop (Δ, p) |{extra_head} one-class seeds (vs {reference} with them kept) |",
             "|---|---|---|---|---|---|---|---|" + ("---|---|" if control else "") + "---|"]
    for cell in cells:
        task, eval_set, condition, model = cell
        seeds = by_cell.get(cell, {})
        vals = np.array(list(seeds.values()))
        stat = (f"{vals.mean():.2f} ± {vals.std(ddof=1):.2f}" if len(vals) > 1 else
                f"{vals.mean():.2f}" if len(vals) else "–")
        mine_clean = by_cell.get((task, eval_set, clean, model)) if clean and condition != clean else None
        own = Shown(seeds, mine_clean) if mine_clean else "–"
        ref, did = versus(by_cell, cell, reference, clean) if model != reference else ("–", "–")
        extra: list = []
        if control:
            vs_control = versus(by_cell, cell, control, clean) if model not in (reference, control) else ("–", "–")
            extra = [" | ", vs_control[0], " | ", vs_control[1]]
        shown_condition = condition if eval_set == task else f"{condition} ({eval_set})"
        n_one = degenerate.get(cell, 0)
        n_ref = degenerate.get((task, eval_set, condition, reference), 0) if model != reference else 0
        kept = "–"
        if (n_one or n_ref) and model != reference:  # the same comparison with the one-class seeds kept
            kept = Shown(with_one_class[cell], with_one_class.get((task, eval_set, condition, reference), {}))
        lines.append([f"| {task} | {shown_condition} | {model} | {len(vals)} | {stat} | ", own, " | ", ref, " | ",
                      did, *extra, f" | {n_one}" + (f" ({n_ref} of {reference}'s)" if n_ref else "") + "; ", kept,
                      " |"])
    return lines + [""]


def main() -> None:
    out = ["# paper-minilm: the headline numbers", "",
           "Generated by `summary.py` from the stored records. Values ×100, mean ± sd over seeds; Δ = mean of the",
           "per-seed differences over the seeds both rows have; p = exact two-sided paired sign-flip test over",
           "those seeds (with n = 3 the smallest possible p is 0.25, with n = 6 it is 0.031). One-class",
           "(degenerate) seeds are counted in the last column and left out of the mean and the tests.", ""]
    for folder in TABLES:
        out += table(folder)
    family = {t.key: t.test.p_value for t in TESTS}  # each distinct comparison once
    adjusted = dict(zip(family, holm(list(family.values()))))
    for shown in TESTS:
        shown.holm = adjusted[shown.key]
    out.append(f"Holm: every p above adjusted across the {len(family)} distinct comparisons on this page "
               f"(family-wise; {len(TESTS)} printed, {len(TESTS) - len(family)} of them repeats of another row's "
               "comparison: the same paired values, counted once); [a, b]: the 95 % t-interval of the per-seed "
               "differences.")
    print("\n".join("".join(map(str, line)) if isinstance(line, list) else line for line in out))


if __name__ == "__main__":
    main()
