"""Table layouts of the robustness suites, in the paper's forms (Tables 2, 3, 5, 6) plus seed statistics.

Every number is a stored metric ×100, averaged over seeds (``mean ± sd (max)`` where there are
several). Where two methods share seeds, the exact paired sign-flip test across seeds
(``robustbench_match.stats.paired_test``) gives the p-value of the difference to the reference row, in
its own column with its n. n, NaN seeds, ``†`` for degenerate models and bold are decided by
:class:`~robustbench_match.reports.layouts.TableBuilder`, the same for every layout.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Optional

import numpy as np

from ..conditions.base import parse_condition
from ..evaluators.advglue import SUBSETS, official_score, subset_score
from ..tasks import GLUE_TASKS, get_task
from .layouts import (DAGGER, SHOW_CI, UNPAIRED, Cell, Delta, TableBuilder, TableSpec, _drop_empty, delta_text,
                      higher_is_better, is_degenerate, majority_score, num, paired_delta, pick_baseline, seed_average, group_records)

Value = Callable[[dict], float]

# ---------------------------------------------------------------------------- shared helpers


def metric(name: Optional[str] = None) -> Value:
    """A record's metric ``name`` (default: its main metric); NaN when absent."""
    def get(record: dict) -> float:
        value = record["metrics"].get(name or record["main_metric"])
        return float("nan") if value is None else float(value)
    return get


def ordered_methods(records: Iterable[dict], baseline: Optional[str]) -> tuple[list[str], Optional[str]]:
    """Method rows, the baseline (``--baseline``, else vanilla, else the first) first."""
    rows = sorted({r["model"] for r in records})
    base = pick_baseline(rows, baseline) if rows else None
    return ([base] + [r for r in rows if r != base] if base else rows), base


def ordered_tasks(records: Iterable[dict]) -> list[str]:
    tasks = {r["task"] for r in records}
    return sorted(tasks, key=lambda t: (GLUE_TASKS.index(t) if t in GLUE_TASKS else 99, t))


def arrow(delta: Optional[Delta], digits: int = 2, usual_n: Optional[int] = None) -> str:
    """``(↑ 1.15)`` / ``(↓ 4.87)`` as the paper prints a difference; ``( - )`` for none; ``(↓ 4.87; n=2)``
    when it pairs fewer seeds than ``usual_n``; ``(↓ 4.87; unpaired)`` when the cells share no seed."""
    if delta is None or not np.isfinite(delta.value):
        return "( - )"
    extra = f"; {UNPAIRED}" if not delta.paired else (f"; n={delta.n}" if usual_n and delta.n != usual_n else "")
    if SHOW_CI.get() and np.isfinite(delta.low):  # --ci: the signed interval of the difference
        extra += f"; [{num(delta.low * 100, digits, sign=True)}, {num(delta.high * 100, digits, sign=True)}]"
    return f"({'↑' if delta.value >= 0 else '↓'} {num(abs(delta.value) * 100, digits)}{extra})"


def pct(value: Optional[float], digits: int = 2) -> str:
    """A 0..1 value ×100; ``NaN`` for NaN, ``–`` for none."""
    return num(None if value is None else value * 100, digits)


def condition_ratio(condition: str) -> float:
    return parse_condition(condition)[1]


def _by_column(records: list[dict], column: Callable[[dict], str]) -> dict[str, Optional[float]]:
    out: dict[str, list[dict]] = {}
    for r in records:
        out.setdefault(column(r), []).append(r)
    return {c: majority_score(rs) for c, rs in out.items()}


def _with_avg(majority: dict[str, Optional[float]], columns: list[str]) -> dict[str, Optional[float]]:
    values = [majority.get(c) for c in columns]
    if values and all(v is not None for v in values):
        majority["Avg"] = float(np.mean(values))
    return majority


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
    majority = _with_avg(_by_column(records, lambda r: get_task(r["task"]).display), columns)
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
        specs.append(_drop_empty(table.build(note), "p"))
    return specs


def label_noise_layout(records: list[dict], baseline: Optional[str]) -> list[TableSpec]:
    """Table 3: per noise ratio, methods × (CoLA MCC, MRPC F1, RTE acc) + Avg (↓ drop from clean)."""
    return condition_blocks(records, baseline, metric(), "Label noise (clean dev; task metric)", "clean")


def minority_layout(records: list[dict], baseline: Optional[str]) -> list[TableSpec]:
    """Table 5: per reduction ratio, accuracy on dev rows labelled 1, Avg (↑/↓ vs the baseline)."""
    return condition_blocks(records, baseline, metric("minority_accuracy"),
                            "Minority class (accuracy on dev rows labelled 1)", "baseline", "minority_accuracy")


# ---------------------------------------------------------------------------- Table 2

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
    table.majority = _with_avg(table.majority, cols)
    tasks_seen = official_score({r["eval_set"]: r["metrics"] for r in adv})[1]
    note = ("Accuracy ×100 (advQQP: accuracy/F1), mean over seeds. Avg: the official AdvGLUE score — QQP counts as "
            "the mean of accuracy and F1, MNLI m and mm are averaged into one task, then the mean over "
            f"{len(tasks_seen)} task(s) ({', '.join(tasks_seen)}); mean ± sd (max) over seeds. "
            f"Δ: vs {base}, the mean per-seed difference over the seeds both have" + (f"; p: exact paired sign-flip test across seeds of the Avg vs {base} (two-sided)"
                               if table.has("p") else ""))
    return _drop_empty(table.build(note), "p")


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


# ---------------------------------------------------------------------------- Table 6

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
    return _drop_empty(table.build(note), "p (worst)")


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
