"""The label-noise and minority suites' tables (paper Tables 3 and 5): per condition, each method's clean and
perturbed scores, the drop, and the exact paired p across seeds."""
from __future__ import annotations

from typing import Optional


from ...conditions.base import parse_condition
from ...tabulation import (DAGGER, Cell, TableBuilder, TableSpec, Value, arrow, drop_empty, higher_is_better,
                           is_degenerate, metric, ordered_methods, ordered_tasks, paired_delta, pct, seed_average,
                           majority_by_column, with_avg)
from ...tasks import get_task


def condition_ratio(condition: str) -> float:
    return parse_condition(condition)[1]


# ---------------------------------------------------------------------------- Tables 3 and 5


def condition_blocks(records: list[dict], baseline: Optional[str], value: Value, title: str,
                     reference: str, metric_name: Optional[str] = None) -> list[TableSpec]:
    """One table per condition (clean first, then by ratio): methods × tasks + Avg with a delta.

    ``reference="clean"``: Avg's delta is the drop from the same method's clean Avg (Table 3).
    ``reference="baseline"``: the delta is vs the baseline method at the same condition (Table 5).
    """
    tasks = ordered_tasks(records)
    methods, base = ordered_methods(records, baseline)
    cells: dict[tuple[str, str, str], Cell] = {}
    for r in records:
        cells.setdefault((r["model"], r["condition"], r["task"]), Cell()).add(r.get("seed"), value(r), is_degenerate(r))
    conditions = sorted({r["condition"] for r in records}, key=condition_ratio)
    avg = {(m, c): seed_average([cells.get((m, c, t), Cell()) for t in tasks]) for m in methods for c in conditions}
    columns = [get_task(t).display for t in tasks]
    majority = with_avg(majority_by_column(records, lambda r: get_task(r["task"]).display), columns)
    higher = higher_is_better(records, metric_name)
    specs = []
    for cond in conditions:
        rows = [m for m in methods if any((m, cond, t) in cells for t in tasks)]
        label = "clean" if cond == "clean" else f"{condition_ratio(cond) * 100:g} %"
        table = TableBuilder(f"{title} — {label}", rows, [*columns, "Avg", "p"])
        for m in rows:
            for t, col in zip(tasks, columns):
                if (m, cond, t) in cells:
                    table.cell(m, col, cells[(m, cond, t)], higher)
            mine = avg[(m, cond)]
            ref = avg.get((m, "clean")) if reference == "clean" else avg.get((base, cond))
            is_ref = (reference == "clean" and cond == "clean") or (reference == "baseline" and m == base)
            has_ref = not is_ref and ref is not None and ref.n_total > 0
            delta = paired_delta(mine, ref) if has_ref else None
            dagger = DAGGER if mine.n_degenerate or (has_ref and ref.n_degenerate) else ""
            shown = pct(mine.mean) if mine.n_total else "–"
            text = f"{shown}{dagger} {arrow(delta, usual_n=mine.n_total)}" if not is_ref or reference == "baseline" else f"{shown}{dagger}"
            table.put(m, "Avg", text, n=mine.n_total or None)
            if mine.n_total:
                table.rank("Avg", m, mine, higher)
            if has_ref and mine.n_total:
                table.put(m, "p", table.p_text(mine, ref))
        table.majority = dict(majority)
        vs = "the same method's clean Avg" if reference == "clean" else f"{base}"
        note = (f"Avg: mean over tasks per seed (seeds with every task), ×100; arrows: difference to {vs}, "
                "averaged over the seeds both have (n=k where that is fewer than the row's own). "
                + (f"p: exact paired sign-flip test across seeds of the per-seed Avg vs {vs} (two-sided). "
                   if table.has("p") else "") + "mean ± sd (max) over seeds")
        specs.append(drop_empty(table.build(note), "p"))
    return specs


def label_noise_layout(records: list[dict], baseline: Optional[str]) -> list[TableSpec]:
    """Table 3: per noise ratio, methods × (CoLA MCC, MRPC F1, RTE acc) + Avg (↓ drop from clean)."""
    return condition_blocks(records, baseline, metric(), "Label noise (clean dev; task metric)", "clean")


def minority_layout(records: list[dict], baseline: Optional[str]) -> list[TableSpec]:
    """Table 5: per reduction ratio, accuracy on dev rows labelled 1, Avg (↑/↓ vs the baseline)."""
    return condition_blocks(records, baseline, metric("minority_accuracy"),
                            "Minority class (accuracy on dev rows labelled 1)", "baseline", "minority_accuracy")
