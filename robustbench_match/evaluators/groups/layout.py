"""The mnli-negation (group) suite's tables (paper Table 6): average and worst-group accuracy with the worst
group's interval, then every group's accuracy and size."""
from __future__ import annotations

import math
from typing import Optional


from ...tabulation import (DAGGER, Cell, TableBuilder, TableSpec, arrow, drop_empty, is_degenerate,
                           majority_score, metric, num, ordered_methods, paired_delta, pct, group_records)


_MT_SUFFIXES = ("+match-tuning", "+match_tuning", "+mt", "-mt", "_mt")


def counterpart(method: str, methods: list[str]) -> Optional[str]:
    """``group-dro+match-tuning`` → ``group-dro``: the row a ± Match-Tuning row is compared with."""
    low = method.lower().replace(" ", "")
    for suffix in _MT_SUFFIXES:
        if low.endswith(suffix) and low != suffix:
            stem = low[: -len(suffix)]
            return next((m for m in methods if m.lower().replace(" ", "") == stem), None)
    if low in ("match-tuning", "mt"):
        return next((m for m in methods if m.lower() in ("vanilla", "erm")), None)
    return None


def groups_layout(records: list[dict], baseline: Optional[str]) -> list[TableSpec]:
    """Table 6 per eval set: Avg / worst-group accuracy (↑/↓ vs the method without MT) with the worst
    group's 95 % interval; then each group's accuracy (with its interval at one seed) and size."""
    specs = []
    for eval_set in sorted({r["eval_set"] for r in records}):
        mine = [r for r in records if r["eval_set"] == eval_set]
        specs.append(_groups_summary(mine, baseline, eval_set))
        specs.append(_groups_detail(mine, baseline, eval_set))
    return specs


def _interval_kind(records: list[dict]) -> str:
    """How the stored intervals were made, as the records say: an exact (or Wilson) interval per group
    since issue 8, a stratified bootstrap in older records."""
    details = records[0].get("details", {})
    interval = details.get("interval") or {}
    if interval.get("method"):
        return f"{interval['method']} {float(interval.get('level', 0.95)) * 100:g} % interval"
    boot = details.get("bootstrap") or {}
    return f"stratified-bootstrap interval ({boot.get('n')} resamples within groups, seed {boot.get('seed')})"


def _groups_summary(records: list[dict], baseline: Optional[str], eval_set: str) -> TableSpec:
    methods, _ = ordered_methods(records, baseline)
    by_model = group_records(records, lambda r: r["model"])
    per = {m: by_model.get(m, []) for m in methods}
    avg = {m: Cell.of(per[m], metric("accuracy")) for m in methods}
    worst = {m: Cell.of(per[m], metric("worst_group_accuracy")) for m in methods}
    cols = ["Avg Acc", "Worst-group Acc", "95 % CI (worst)", "p (worst)"]
    display = "MNLI-m" if eval_set == "mnli-m" else "MNLI-mm" if eval_set == "mnli-mm" else eval_set
    table = TableBuilder(f"Group robustness, {display}", methods, cols, digits=1)
    for m in methods:
        ref = counterpart(m, methods)
        for col, values in (("Avg Acc", avg), ("Worst-group Acc", worst)):
            mine = values[m]
            delta = paired_delta(mine, values[ref]) if ref else None
            dagger = DAGGER if mine.n_degenerate or (ref and values[ref].n_degenerate) else ""
            table.put(m, col, f"{pct(mine.mean, 1)}{dagger} {arrow(delta, 1, mine.n_total)}", n=mine.n_total or None)
            table.rank(col, m, mine)
        if len(per[m]) == 1:
            met = per[m][0]["metrics"]
            table.put(m, "95 % CI (worst)",
                      f"[{pct(met.get('worst_group_ci_low'), 1)}, {pct(met.get('worst_group_ci_high'), 1)}]")
        else:
            table.put(m, "95 % CI (worst)", "sd " + num(worst[m].summary.sd * 100, 1))
        if ref:
            table.put(m, "p (worst)", table.p_text(worst[m], worst[ref]))
    table.majority = {"Avg Acc": majority_score(records, "majority_share"),
                      "Worst-group Acc": majority_score(records)}
    words = records[0].get("details", {}).get("words")
    note = (f"Accuracy ×100, mean over seeds. Groups: label × hypothesis contains one of {words}. "
            "Arrows: difference to the same method without Match-Tuning over the seeds both have "
            "(`( - )` for rows without one). "
            f"CI: the worst group's {_interval_kind(records)}; with several seeds, the sd over seeds instead"
            + (". p: exact paired sign-flip test across seeds of the worst-group accuracy (two-sided)"
               if table.has("p (worst)") else ""))
    return drop_empty(table.build(note), "p (worst)")


def _groups_detail(records: list[dict], baseline: Optional[str], eval_set: str) -> TableSpec:
    methods, _ = ordered_methods(records, baseline)
    names = [g["name"] for g in records[0]["details"]["groups"]]
    sizes = {g["name"]: g["size"] for g in records[0]["details"]["groups"]}
    cols = [f"{n} (n={sizes[n]})" for n in names]
    display = "MNLI-m" if eval_set == "mnli-m" else "MNLI-mm" if eval_set == "mnli-mm" else eval_set
    table = TableBuilder(f"Per-group accuracy, {display}", methods, cols, digits=1)
    with_ci = False
    by_model = group_records(records, lambda r: r["model"])
    for m in methods:
        mine = by_model.get(m, [])
        for n, col in zip(names, cols):
            cell = Cell()
            for r in mine:
                group = next(g for g in r["details"]["groups"] if g["name"] == n)
                cell.add(r.get("seed"), group.get("accuracy"), is_degenerate(r))
            table.rank(col, m, cell)
            group = next(g for g in mine[0]["details"]["groups"] if g["name"] == n)
            low, high = group.get("ci_low"), group.get("ci_high")
            if len(mine) == 1 and low is not None and high is not None and math.isfinite(cell.mean):
                with_ci = True
                table.put(m, col, f"{pct(cell.mean, 1)} [{pct(low, 1)}, {pct(high, 1)}]", n=1,
                          degenerate=bool(cell.n_degenerate))
            else:
                table.cell(m, col, cell, higher_is_better=None)
    note = "Accuracy ×100 per group (label/negation), group sizes (examples) in the header"
    if with_ci:
        note += f"; [low, high]: the group's {_interval_kind(records)} (one seed)"
    return table.build(note)
