"""Table layout for the ``textattack`` suite: one table per recipe; rows are checkpoints and, per
eval set, clean accuracy on the attacked sample, accuracy under attack, their drop and the attack
success rate (×100; mean ± sd (max) over seeds where several); n, †
and bold as every table (:class:`~robustbench_match.tabulation.TableBuilder`)."""
from __future__ import annotations

from typing import Optional

from ...tasks import eval_set_display, get_task
from ...tabulation import (Cell, TableBuilder, TableSpec, eval_set_order, group_records, majority_score, pick_baseline,
                           seen_in_training)

COLUMNS = (("original_accuracy", "clean", True), ("accuracy_under_attack", "attacked", True),
           ("accuracy_drop", "drop", False), ("attack_success_rate", "success", False))


def recipe_of(record: dict) -> str:
    condition = record.get("condition") or ""
    return condition.split("attack:", 1)[1] if "attack:" in condition else condition


def base_condition(record: dict) -> str:
    """What was attacked: ``clean`` for a plain checkpoint, else its training condition."""
    condition = record.get("condition") or ""
    head = condition.split("+attack:", 1)[0] if "+attack:" in condition else "clean"
    return head


def attack_row(record: dict) -> str:
    cond = base_condition(record)
    return record["model"] if cond == "clean" else f"{record['model']} [{cond}]"


def _recipe_table(records: list[dict], recipe: str, baseline: Optional[str]) -> TableSpec:
    sets = sorted({(r["eval_set"], r["task"]) for r in records}, key=lambda x: eval_set_order(*x))
    rows = sorted({attack_row(r) for r in records})
    base = pick_baseline(rows, baseline)
    rows = [base] + [r for r in rows if r != base] if base else rows
    columns = [f"{eval_set_display(get_task(t), e)} {label}" for e, t in sets for _, label, _ in COLUMNS]
    table = TableBuilder(f"{', '.join(sorted({r['suite'] for r in records}))}: {recipe}", rows, columns)
    for eval_set, task in sets:
        on_set = [r for r in records if r["eval_set"] == eval_set]
        by_row = group_records(on_set, attack_row)
        for metric, label, higher in COLUMNS:
            col = f"{eval_set_display(get_task(task), eval_set)} {label}"
            for row in rows:
                group = by_row.get(row, [])
                if group:
                    table.cell(row, col, Cell.of(group, lambda r, m=metric: r["metrics"].get(m)), higher)
                    if any(seen_in_training(r, "attacks", recipe) for r in group):
                        table.seen(row, col)
            if any(r.get("main_metric") == metric for r in on_set):
                table.majority[col] = majority_score(on_set)
    n = sorted({int(r.get("n_examples") or 0) for r in records})
    budgets = sorted({str(r.get("details", {}).get("query_budget") or "unlimited") for r in records})
    note = (f"TextAttack {recipe} on {', '.join(map(str, n))} dev examples per eval set (same seeded sample for every "
            f"checkpoint), query budget {', '.join(budgets)}. Accuracy ×100: clean = on the attacked sample, "
            f"attacked = under attack, drop = clean − attacked (lower is more robust), success = attack success "
            f"rate (lower is more robust)")
    return table.build(note)


def attack_layout(records: list[dict], baseline: Optional[str] = None) -> list[TableSpec]:
    """One table per recipe, in the order recipes first appear in the records."""
    recipes: list[str] = []
    for r in records:
        if recipe_of(r) not in recipes:
            recipes.append(recipe_of(r))
    return [_recipe_table([r for r in records if recipe_of(r) == recipe], recipe, baseline) for recipe in recipes]
