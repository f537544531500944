"""The ``glue`` suite's table (paper Table 1): checkpoints × tasks (main metric), Avg, Δ vs the baseline row
and its exact paired p."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ...tabulation import (UNPAIRED, Cell, TableBuilder, TableSpec, delta_text, drop_empty, eval_set_order,
                           group_records, higher_is_better, majority_score, num, paired_delta, pick_baseline,
                           row_label, seed_average, suite_title)
from ...tasks import eval_set_display, get_task


def _scored(cell: Cell) -> bool:
    return bool(cell.n_total) and math.isfinite(cell.mean)


def tasks_layout(records: list[dict], baseline: Optional[str]) -> list[TableSpec]:
    """Table 1 of the paper: checkpoints × tasks (main metric), Avg, Δ vs the baseline row and its p."""
    sets = sorted({(r["eval_set"], r["task"]) for r in records}, key=lambda x: eval_set_order(*x))
    columns = [eval_set_display(get_task(t), e) for e, t in sets]
    rows = sorted({row_label(r) for r in records})
    base = pick_baseline(rows, baseline)
    rows = [base] + [r for r in rows if r != base] if base else rows
    by_cell = group_records(records, lambda r: (row_label(r), r["eval_set"]))
    by_set = group_records(records, lambda r: r["eval_set"])
    direction = {e: higher_is_better(by_set[e]) for e, _ in sets}
    cells = {(row, e): Cell.of(by_cell.get((row, e), [])) for row in rows for e, _ in sets}
    table = TableBuilder(suite_title(records), rows, [*columns, "Avg", "Δ", "p"])
    avg_cells: dict[str, Cell] = {}
    avg: dict[str, float] = {}
    incomplete = False
    for row in rows:
        mine = [cells[(row, e)] for e, _ in sets]
        for (e, t), col, cell in zip(sets, columns, mine):
            if cell.n_total:
                table.cell(row, col, cell, direction[e])
        means = [c.mean for c in mine if c.n_total and math.isfinite(c.mean)]
        complete = len(means) == len(mine)
        incomplete |= not complete
        avg[row] = float(np.mean(means)) * 100 if means else float("nan")
        degenerate = any(c.n_degenerate for c in mine)
        table.put(row, "Avg", num(avg[row]) + ("" if complete else "*"), degenerate=degenerate)
        avg_cells[row] = seed_average(mine)
        if complete:  # only rows with every task compete on Avg
            table.rank("Avg", row, avg_cells[row])
    partial_delta = unpaired = False
    if base is not None:
        for row in rows:
            # Δ and p over the tasks both rows have: an Avg over fewer tasks is not comparable to the full one
            shared = [e for e, _ in sets if _scored(cells[(row, e)]) and _scored(cells[(base, e)])]
            if not shared:
                table.put(row, "Δ", "–")
                continue
            partial = len(shared) < len(sets) and row != base
            partial_delta |= partial
            mine, theirs = [cells[(row, e)] for e in shared], [cells[(base, e)] for e in shared]
            degenerate = any(c.n_degenerate for c in mine + theirs)
            if row == base:
                table.put(row, "Δ", num(0.0, sign=True), degenerate=degenerate)
                continue
            delta = paired_delta(seed_average(mine), seed_average(theirs))
            unpaired |= not delta.paired
            table.put(row, "Δ", delta_text(delta) + ("*" if partial else ""),
                      n=delta.n or None, degenerate=degenerate)
            table.put(row, "p", table.p_text(seed_average(mine), seed_average(theirs)))
    for (e, _), col in zip(sets, columns):
        table.majority[col] = majority_score(by_set[e])
    if all(v is not None for v in table.majority.values()) and table.majority:
        table.majority["Avg"] = float(np.mean([v for v in table.majority.values()]))
    metric_note = ", ".join(sorted({f"{eval_set_display(get_task(t), e)}: {get_task(t).main_metric}" for e, t in sets}))
    note = (f"Metric ×100 ({metric_note}); mean ± sd (max) over seeds where several. Avg: mean over tasks"
            + ("; * averaged over the tasks this row has (missing or NaN cells left out)" if incomplete else "")
            + f". Δ: per-seed Avg minus {base}'s, averaged over the seeds both rows have (the sample p tests; "
              "with extra seeds in one row it differs from the Avg column's difference)"
            + ("; Δ* over the tasks both rows have" if partial_delta else "")
            + (f"; {UNPAIRED}: the rows share no seed, so Δ is the difference of their means" if unpaired else "")
            + (f"; p: exact paired sign-flip test of the per-seed Avg vs {base} over the seeds both share (two-sided)"
               if table.has("p") else ""))
    spec = table.build(note)
    return [drop_empty(spec, "p")]
