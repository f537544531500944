"""The advglue suite's tables (paper Table 2): adversarial accuracy in the paper's forms with the official
AdvGLUE average, Δ and p; and clean vs adversarial with the drop."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...tabulation import (DAGGER, Cell, TableBuilder, TableSpec, delta_text, drop_empty, is_degenerate,
                           majority_score, metric, num, ordered_methods, paired_delta, pct, seed_average, with_avg)
from ...tasks import get_task
from .scoring import SUBSETS, official_score, subset_score


_ADV_COLUMNS = [("advSST-2", ["sst2"]), ("advMNLI (m/mm)", ["mnli-m", "mnli-mm"]), ("advRTE", ["rte"]),
                ("advQNLI", ["qnli"]), ("advQQP (acc/F1)", ["qqp"])]


def _official_by_seed(records: list[dict]) -> Cell:
    """Per seed, the official AdvGLUE score of one model's records (over the subsets it has); a seed is
    degenerate when any of its subsets' models is."""
    seeds: dict = {}
    flags: dict = {}
    for r in records:
        seeds.setdefault(r.get("seed"), {})[r["eval_set"]] = r["metrics"]
        flags[r.get("seed")] = flags.get(r.get("seed"), False) or is_degenerate(r)
    cell = Cell()
    for s, sets in seeds.items():
        with np.errstate(all="ignore"):
            cell.add(s, official_score(sets)[0], flags[s])
    return cell


def _adv_cell(records: list[dict], eval_sets: list[str]) -> tuple[str, Cell]:
    """The paper's form of one column — accuracy, ``m/mm`` for MNLI, ``acc/F1`` for QQP, means over
    seeds, NaN seeds counted — and the column's per-seed AdvGLUE score (for ranking and p)."""
    parts, per_set, n_nan = [], [], 0
    for eval_set in eval_sets:
        mine = [r for r in records if r["eval_set"] == eval_set]
        if not mine:
            parts.append("–")
            continue
        shown = [Cell.of(mine, metric("accuracy"))] + ([Cell.of(mine, metric("f1"))] if eval_set == "qqp" else [])
        parts.extend(pct(c.mean) for c in shown)
        n_nan = max([n_nan, *(c.summary.n_nan for c in shown)])
        per_set.append(Cell.of(mine, lambda r: subset_score(SUBSETS[r["eval_set"]][0], r["metrics"])))
    score = seed_average(per_set) if per_set else Cell()
    text = "/".join(parts) + (f" ({n_nan} of {score.n_total} seeds NaN)" if n_nan else "")
    return text + (DAGGER if score.n_degenerate else ""), score


def advglue_layout(records: list[dict], baseline: Optional[str]) -> list[TableSpec]:
    """Table 2 (adversarial, paper forms, official Avg, Δ, p) and clean vs adversarial with the drop."""
    adv = [r for r in records if r["condition"] == "adversarial"]
    clean = [r for r in records if r["condition"] == "clean"]
    specs = []
    if adv:
        specs.append(_advglue_table(adv, baseline))
    if adv and clean:
        specs.append(_clean_vs_adv_table(adv, clean, baseline))
    return specs


def _advglue_table(adv: list[dict], baseline: Optional[str]) -> TableSpec:
    methods, base = ordered_methods(adv, baseline)
    cols = [c for c, sets in _ADV_COLUMNS if any(r["eval_set"] in sets for r in adv)]
    table = TableBuilder("AdvGLUE dev (adversarial)", methods, [*cols, "Avg", "Δ", "p"])
    official = {m: _official_by_seed([r for r in adv if r["model"] == m]) for m in methods}
    for m in methods:
        mine = [r for r in adv if r["model"] == m]
        for col, sets in _ADV_COLUMNS:
            if col in cols:
                text, score = _adv_cell(mine, sets)
                table.put(m, col, text, n=score.n_total or None)
                if score.n_total:
                    table.rank(col, m, score)
        table.cell(m, "Avg", official[m])
        delta = paired_delta(official[m], official[base])
        table.put(m, "Δ", delta_text(delta), n=(delta.n or None) if m != base else None,
                  degenerate=bool(official[m].n_degenerate or official[base].n_degenerate))
        if m != base:
            table.put(m, "p", table.p_text(official[m], official[base]))
    for col, sets in _ADV_COLUMNS:
        if col in cols:
            table.majority[col] = majority_score([r for r in adv if r["eval_set"] in sets])
    table.majority = with_avg(table.majority, cols)
    tasks_seen = official_score({r["eval_set"]: r["metrics"] for r in adv})[1]
    note = ("Accuracy ×100 (advQQP: accuracy/F1), mean over seeds. Avg: the official AdvGLUE score — QQP counts as "
            "the mean of accuracy and F1, MNLI m and mm are averaged into one task, then the mean over "
            f"{len(tasks_seen)} task(s) ({', '.join(tasks_seen)}); mean ± sd (max) over seeds. "
            f"Δ: vs {base}, the mean per-seed difference over the seeds both have" + (f"; p: exact paired sign-flip test across seeds of the Avg vs {base} (two-sided)"
                               if table.has("p") else ""))
    return drop_empty(table.build(note), "p")


def _clean_vs_adv_table(adv: list[dict], clean: list[dict], baseline: Optional[str]) -> TableSpec:
    methods, _ = ordered_methods(adv + clean, baseline)
    tasks = [t for t in ("sst2", "mnli", "rte", "qnli", "qqp") if any(SUBSETS[r["eval_set"]][0] == t for r in adv)]
    cols = [get_task(t).display for t in tasks]
    table = TableBuilder("AdvGLUE: clean GLUE dev vs adversarial", methods, [*cols, "Avg"])
    for m in methods:
        pairs = {}
        for t, col in zip(tasks, cols):
            sets = [e for e, v in SUBSETS.items() if v[0] == t]
            a = _adv_cell([r for r in adv if r["model"] == m], sets)[1]
            c = _adv_cell([r for r in clean if r["model"] == m], sets)[1]
            pairs[t] = (c, a)
            table.put(m, col, _drop_text(c, a), n=a.n_total or None, degenerate=bool(c.n_degenerate or a.n_degenerate))
        both = [t for t, (c, a) in pairs.items() if c.n_total and a.n_total and np.isfinite(c.mean) and np.isfinite(a.mean)]
        if both:
            c_avg = float(np.mean([pairs[t][0].mean for t in both])) * 100
            a_avg = float(np.mean([pairs[t][1].mean for t in both])) * 100
            degenerate = any(pairs[t][0].n_degenerate or pairs[t][1].n_degenerate for t in both)
            table.put(m, "Avg", _drop_values(c_avg, a_avg) + ("" if len(both) == len(tasks) else "*"),
                      degenerate=degenerate)
    note = ("clean → adversarial (↓ drop), AdvGLUE scoring on both (accuracy; QQP mean of accuracy and F1; MNLI m/mm "
            "averaged), ×100, mean over seeds. Clean = GLUE dev of the same checkpoint. "
            "* Avg over the tasks with both scores")
    spec = table.build(note)
    spec.bold = None
    return spec


def _drop_text(clean: Cell, adv: Cell) -> str:
    if not adv.n_total:
        return "–"
    if not clean.n_total:
        return f"– → {pct(adv.mean)}"
    if not (np.isfinite(clean.mean) and np.isfinite(adv.mean)):
        return f"{pct(clean.mean)} → {pct(adv.mean)}"
    return _drop_values(clean.mean * 100, adv.mean * 100)


def _drop_values(clean: float, adv: float) -> str:
    return f"{num(clean)} → {num(adv)} ({'↓' if clean >= adv else '↑'} {num(abs(clean - adv))})"


