"""Table layout of the ``perturbation`` suite: per eval set, one table with a column per family and, per MFT file,
one with a column per test. Rows are checkpoints; values are means ± sd (max) over training seeds, each training
seed's value first averaged over its perturbation seeds (so several perturbation seeds sharpen a seed's value
without counting as more models); n, † and bold as every table (:class:`~robustbench_match.tabulation.TableBuilder`).

What a family column shows is chosen by ``rbm table --perturbation-metric``: ``flip_rate`` (default: the share of
changed rows whose prediction changed; label-free), ``drop`` (the task's main metric, clean − perturbed, over
all rows) or ``perturbed`` (the main metric on the perturbed set). A directional family shows its violation rate
under ``flip_rate``; a regression task (no flips) shows the drop. A family that changed no row of a model's input shows "no change" — never a flip rate of 0.
"""
from __future__ import annotations

import contextvars
from typing import Optional

import numpy as np

from ...tabulation import (Cell, TableBuilder, TableSpec, eval_set_order, group_records, is_degenerate, pick_baseline,
                           seen_in_training)
from ...tasks import eval_set_display, get_task

PERTURBATION_METRICS = ("flip_rate", "drop", "perturbed")
PERTURBATION_METRIC: contextvars.ContextVar[str] = contextvars.ContextVar("rbm_perturbation_metric", default="flip_rate")
NO_CHANGE = "no change"


def family_of(record: dict) -> Optional[str]:
    return (record.get("details") or {}).get("family")


def _value(record: dict, what: str) -> float:
    m = record["metrics"]
    if what == "drop":
        value = m.get("drop")
    elif what == "perturbed":
        value = m.get(record["main_metric"])
    elif (record.get("details") or {}).get("test") == "DIR":
        value = m.get("violation_rate")
    else:
        value = m.get("flip_rate")
    return float("nan") if value is None else float(value)


def _per_training_seed(records: list[dict], what: str) -> Cell:
    """One value per training seed: the mean over that seed's perturbation seeds (degenerate if any is)."""
    cell = Cell()
    for seed, group in group_records(records, lambda r: r.get("seed")).items():
        values = [_value(r, what) for r in group]
        cell.add(seed, float(np.mean(values)) if all(np.isfinite(values)) else float("nan"),
                 any(is_degenerate(r) for r in group))
    return cell


def _no_change(records: list[dict]) -> bool:
    return all(float(r["metrics"].get("n_changed") or 0) == 0 for r in records)


def _family_table(records: list[dict], eval_set: str, task: str, baseline: Optional[str], what: str) -> TableSpec:
    from ...perturbations import FAMILY_ORDER

    spec = get_task(task)
    if spec.is_regression and what == "flip_rate":
        what = "drop"  # a score has no flips: a regression task's columns show the drop (records: mean_abs_change)
    families = [f for f in FAMILY_ORDER if any(family_of(r) == f for r in records)]
    rows = sorted({r["model"] for r in records})
    base = pick_baseline(rows, baseline)
    rows = [base] + [r for r in rows if r != base] if base else rows
    clean_col = f"clean {spec.main_metric}"
    label = {"flip_rate": "flip %", "drop": "drop", "perturbed": spec.main_metric}[what]
    columns = [clean_col] + [f"{f} ({'DIR viol. %' if what == 'flip_rate' and _is_dir(records, f) else label})"
                             for f in families]
    title = f"{', '.join(sorted({r['suite'] for r in records}))}: {eval_set_display(spec, eval_set)} perturbations"
    table = TableBuilder(title, rows, columns)
    by_key = group_records(records, lambda r: (r["model"], family_of(r)))
    for row in rows:
        mine = [r for f in families for r in by_key.get((row, f), [])]
        if mine:  # every family scores the same clean set: its clean value from one family's records
            first = next(f for f in families if by_key.get((row, f)))
            table.cell(row, clean_col, Cell.of(_one_per_seed(by_key[(row, first)]),
                                               lambda r: r["metrics"].get(f"clean_{r['main_metric']}")), True)
        for f, col in zip(families, columns[1:]):
            group = by_key.get((row, f), [])
            if not group:
                continue
            if any(seen_in_training(r, "families", f) for r in group):
                table.seen(row, col)
            if what == "flip_rate" and _no_change(group):
                table.put(row, col, NO_CHANGE, degenerate=any(is_degenerate(r) for r in group))
                continue
            table.cell(row, col, _per_training_seed(group, what), what == "perturbed")
    changed = []
    for f in families:
        shares = [float(r["metrics"].get("changed_share") or 0) for r in records if family_of(r) == f]
        changed.append(f"{f} {100 * np.mean(shares):.1f}")
    n = sorted({int(r.get("n_examples") or 0) for r in records})
    pseeds = sorted({(r.get("details") or {}).get("perturbation_seed") for r in records
                     if (r.get("details") or {}).get("perturbation_seed") is not None})
    what_text = {"flip_rate": "flip % = share of the rows whose model input the family changed where the prediction "
                              "changed (lower is more robust); a DIR family shows the share of its checked rows that "
                              "violate the task's expectation",
                 "drop": f"drop = clean − perturbed {spec.main_metric} ×100 over all rows (lower is more robust; a DIR "
                         f"family's drop is against the original labels, which its change may invert)",
                 "perturbed": f"{spec.main_metric} ×100 on the perturbed set"}[what]
    note = (f"Perturbation families on {', '.join(map(str, n))} rows of {eval_set_display(spec, eval_set)}; "
            f"{what_text}; clean = the same rows unperturbed. Each training seed's value is the mean over its "
            f"perturbation seeds ({', '.join(map(str, pseeds))}). Rows whose model input changed, % (mean over "
            f"models and seeds): {', '.join(changed)}; '{NO_CHANGE}': the family changed no row of that model's "
            f"input (e.g. case for an uncased tokenizer), so no flip rate is claimed")
    return table.build(note)


def _is_dir(records: list[dict], family: str) -> bool:
    return any(family_of(r) == family and (r.get("details") or {}).get("test") == "DIR" for r in records)


def _one_per_seed(records: list[dict]) -> list[dict]:
    """One record per training seed (perturbation seeds share the clean score)."""
    return list({r.get("seed"): r for r in records}.values())


def _mft_table(records: list[dict], mft: str, task: str, baseline: Optional[str]) -> TableSpec:
    spec = get_task(task)
    tests = []
    for r in records:
        for t in r["details"].get("tests", []):
            if t["name"] not in tests:
                tests.append(t["name"])
    rows = sorted({r["model"] for r in records})
    base = pick_baseline(rows, baseline)
    rows = [base] + [r for r in rows if r != base] if base else rows
    columns = ["all tests"] + tests
    table = TableBuilder(f"{', '.join(sorted({r['suite'] for r in records}))}: MFT {mft} on {spec.display}", rows,
                         columns)
    by_row = group_records(records, lambda r: r["model"])
    for row in rows:
        group = by_row.get(row, [])
        if not group:
            continue
        table.cell(row, "all tests", Cell.of(group, lambda r: r["metrics"].get("failure_rate")), False)
        for name in tests:
            table.cell(row, name, Cell.of(group, lambda r, n=name: _test_rate(r, n)), False)
    sizes = {t["name"]: t["n"] for r in records for t in r["details"].get("tests", [])}
    single = [r for r in records if r.get("seed") is None] or records
    ci = ""
    if len({r.get("seed") for r in records}) == 1:
        parts = [f"{t['name']} [{100 * t['ci_low']:.1f}, {100 * t['ci_high']:.1f}]" for r in single[:1]
                 for t in r["details"]["tests"]]
        ci = f" Clopper–Pearson 95 % intervals of {single[0]['model']}: {'; '.join(parts)}."
    note = (f"Minimum functionality tests ({mft}): failure rate ×100 = share of a test's template cases the model "
            f"labels outside the expected label (lower is better); cases per test: "
            f"{', '.join(f'{k} {v}' for k, v in sizes.items())}; † judged on the model's clean eval set.{ci}")
    return table.build(note)


def _test_rate(record: dict, name: str) -> Optional[float]:
    for t in record["details"].get("tests", []):
        if t["name"] == name:
            return t["failure_rate"]
    return None


def perturbation_layout(records: list[dict], baseline: Optional[str] = None) -> list[TableSpec]:
    """One family table per eval set, then one table per (MFT file, task)."""
    what = PERTURBATION_METRIC.get()
    families = [r for r in records if family_of(r)]
    mfts = [r for r in records if (r.get("details") or {}).get("mft")]
    specs = []
    for (eval_set, task), group in sorted(group_records(families, lambda r: (r["eval_set"], r["task"])).items(),
                                          key=lambda kv: eval_set_order(*kv[0])):
        specs.append(_family_table(group, eval_set, task, baseline, what))
    for (mft, task, eval_set), group in sorted(group_records(mfts, lambda r: (r["details"]["mft"], r["task"],
                                                                              r["eval_set"])).items()):
        specs.append(_mft_table(group, mft, task, baseline))
    return specs
