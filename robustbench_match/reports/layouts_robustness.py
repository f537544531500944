"""Table layouts of the robustness suites, in the paper's forms (Tables 2, 3, 5, 6) plus seed statistics.

Every number is a stored metric ×100, averaged over seeds (``mean ± sd (max)`` where there are
several). Where two methods share ≥2 seeds, a paired t-test across seeds (``robustbench_match.stats``)
gives the p-value of the difference to the reference row, in its own column.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

import numpy as np
import pandas as pd

from ..conditions.base import parse_condition
from ..evaluators.advglue import SUBSETS, official_score, subset_score
from ..stats import format_p, paired_test
from ..tasks import GLUE_TASKS, get_task
from .layouts import SeedStats, TableSpec, bold_best, pick_baseline

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


def by_seed(records: Iterable[dict], value: Value) -> dict[Optional[int], float]:
    return {r.get("seed"): value(r) for r in records}


def seed_means(per_task: dict[str, dict], tasks: list[str]) -> dict:
    """Per seed, the mean over ``tasks`` of that seed's scores (only seeds that have every task)."""
    seeds = set.intersection(*(set(per_task[t]) for t in tasks)) if tasks and all(t in per_task for t in tasks) else set()
    return {s: float(np.mean([per_task[t][s] for t in tasks])) for s in seeds}


def p_value(a: dict, b: dict) -> str:
    """Paired t-test over the seeds two rows share (``–`` with fewer than two)."""
    common = sorted(set(a) & set(b), key=lambda s: (s is None, s))
    if len(common) < 2:
        return "–"
    return format_p(paired_test([a[s] for s in common], [b[s] for s in common]).p_value)


def arrow(delta: float, digits: int = 2) -> str:
    """``(↑ 1.15)`` / ``(↓ 4.87)`` as the paper prints a difference; ``( - )`` for none."""
    if delta is None or not np.isfinite(delta):
        return "( - )"
    return f"({'↑' if delta >= 0 else '↓'} {abs(delta):.{digits}f})"


def pct(value: float, digits: int = 2) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value * 100:.{digits}f}"


def condition_ratio(condition: str) -> float:
    return parse_condition(condition)[1]


# ---------------------------------------------------------------------------- Tables 3 and 5


def condition_blocks(records: list[dict], baseline: Optional[str], value: Value, title: str,
                     reference: str) -> list[TableSpec]:
    """One table per condition (clean first, then by ratio): methods × tasks + Avg with a delta.

    ``reference="clean"``: Avg's delta is the drop from the same method's clean Avg (Table 3).
    ``reference="baseline"``: the delta is vs the baseline method at the same condition (Table 5).
    """
    tasks = ordered_tasks(records)
    methods, base = ordered_methods(records, baseline)
    cells: dict[tuple[str, str, str], dict] = {}
    for r in records:
        cells.setdefault((r["model"], r["condition"], r["task"]), {})[r.get("seed")] = value(r)
    conditions = sorted({r["condition"] for r in records}, key=condition_ratio)
    avg = {(m, c): seed_means({t: cells.get((m, c, t), {}) for t in tasks}, tasks)
           for m in methods for c in conditions}
    columns = [get_task(t).display for t in tasks]
    specs = []
    for cond in conditions:
        rows = [m for m in methods if any((m, cond, t) in cells for t in tasks)]
        text = pd.DataFrame(index=rows, columns=[*columns, "Avg", "p"], dtype=object)
        means = pd.DataFrame(index=rows, columns=[*columns, "Avg"], dtype=float)
        for m in rows:
            for t, col in zip(tasks, columns):
                st = SeedStats.of(cells.get((m, cond, t), {}).values())
                text.loc[m, col], means.loc[m, col] = st.text(), st.mean * 100
            mean_avg = _mean(avg[(m, cond)])
            ref = avg.get((m, "clean")) if reference == "clean" else avg.get((base, cond))
            is_ref = (reference == "clean" and cond == "clean") or (reference == "baseline" and m == base)
            delta = float("nan") if is_ref or not ref else (mean_avg - _mean(ref)) * 100
            text.loc[m, "Avg"] = f"{pct(mean_avg)} {arrow(delta)}" if not is_ref or reference == "baseline" else pct(mean_avg)
            means.loc[m, "Avg"] = mean_avg * 100
            text.loc[m, "p"] = "–" if is_ref or not ref else p_value(avg[(m, cond)], ref)
        if (text["p"] == "–").all():
            text = text.drop(columns="p")
        label = "clean" if cond == "clean" else f"{condition_ratio(cond) * 100:g} %"
        vs = "the same method's clean Avg" if reference == "clean" else f"{base}"
        note = (f"Avg: mean over tasks (seeds with every task), ×100; arrows: difference to {vs}. "
                f"p: paired t-test across seeds of the per-seed Avg vs {vs}. mean ± sd (max) over seeds.")
        specs.append(TableSpec(f"{title} — {label}", text.fillna("–"), bold_best(means), note))
    return specs


def _mean(per_seed: dict) -> float:
    return float(np.mean(list(per_seed.values()))) if per_seed else float("nan")


def label_noise_layout(records: list[dict], baseline: Optional[str]) -> list[TableSpec]:
    """Table 3: per noise ratio, methods × (CoLA MCC, MRPC F1, RTE acc) + Avg (↓ drop from clean)."""
    return condition_blocks(records, baseline, metric(), "Label noise (clean dev; task metric)", "clean")


def minority_layout(records: list[dict], baseline: Optional[str]) -> list[TableSpec]:
    """Table 5: per reduction ratio, accuracy on dev rows labelled 1, Avg (↑/↓ vs the baseline)."""
    return condition_blocks(records, baseline, metric("minority_accuracy"),
                            "Minority class (accuracy on dev rows labelled 1)", "baseline")


# ---------------------------------------------------------------------------- Table 2

_ADV_COLUMNS = [("advSST-2", ["sst2"]), ("advMNLI (m/mm)", ["mnli-m", "mnli-mm"]), ("advRTE", ["rte"]),
                ("advQNLI", ["qnli"]), ("advQQP (acc/F1)", ["qqp"])]


def _official_by_seed(records: list[dict]) -> dict:
    """Per seed, the official AdvGLUE score of one model's records (over the subsets it has)."""
    seeds: dict = {}
    for r in records:
        seeds.setdefault(r.get("seed"), {})[r["eval_set"]] = r["metrics"]
    return {s: official_score(sets)[0] for s, sets in seeds.items()}


def _adv_cell(records: list[dict], eval_sets: list[str]) -> tuple[str, float]:
    """The paper's form of one column: accuracy, ``m/mm`` for MNLI, ``acc/F1`` for QQP."""
    parts, scores = [], []
    for eval_set in eval_sets:
        mine = [r for r in records if r["eval_set"] == eval_set]
        if not mine:
            parts.append("–")
            continue
        acc = SeedStats.of(r["metrics"]["accuracy"] for r in mine)
        parts.append(pct(acc.mean))
        if eval_set == "qqp":
            parts.append(pct(SeedStats.of(r["metrics"].get("f1") for r in mine).mean))
        scores.append(np.mean([subset_score(SUBSETS[eval_set][0], r["metrics"]) for r in mine]))
    return "/".join(parts), (float(np.mean(scores)) * 100 if scores else float("nan"))


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
    text = pd.DataFrame(index=methods, columns=[*cols, "Avg", "Δ", "p"], dtype=object)
    means = pd.DataFrame(index=methods, columns=[*cols, "Avg", "Δ"], dtype=float)
    official = {m: _official_by_seed([r for r in adv if r["model"] == m]) for m in methods}
    for m in methods:
        mine = [r for r in adv if r["model"] == m]
        for col, sets in _ADV_COLUMNS:
            if col in cols:
                text.loc[m, col], means.loc[m, col] = _adv_cell(mine, sets)
        st = SeedStats.of(official[m].values())
        text.loc[m, "Avg"], means.loc[m, "Avg"] = st.text(), st.mean * 100
        delta = (st.mean - _mean(official[base])) * 100
        text.loc[m, "Δ"], means.loc[m, "Δ"] = f"{delta:+.2f}", delta
        text.loc[m, "p"] = "–" if m == base else p_value(official[m], official[base])
    if (text["p"] == "–").all():
        text = text.drop(columns="p")
    tasks_seen = official_score({r["eval_set"]: r["metrics"] for r in adv})[1]
    note = ("Accuracy ×100 (advQQP: accuracy/F1). Avg: the official AdvGLUE score — QQP counts as the mean of "
            "accuracy and F1, MNLI m and mm are averaged into one task, then the mean over "
            f"{len(tasks_seen)} task(s) ({', '.join(tasks_seen)}); mean ± sd (max) over seeds. "
            f"Δ: vs {base}; p: paired t-test across seeds vs {base}.")
    return TableSpec("AdvGLUE dev (adversarial)", text.fillna("–"), bold_best(means), note)


def _clean_vs_adv_table(adv: list[dict], clean: list[dict], baseline: Optional[str]) -> TableSpec:
    methods, _ = ordered_methods(adv + clean, baseline)
    tasks = [t for t in ("sst2", "mnli", "rte", "qnli", "qqp") if any(SUBSETS[r["eval_set"]][0] == t for r in adv)]
    cols = [get_task(t).display for t in tasks]
    text = pd.DataFrame(index=methods, columns=[*cols, "Avg"], dtype=object)
    for m in methods:
        pairs = {}
        for t, col in zip(tasks, cols):
            sets = [e for e, v in SUBSETS.items() if v[0] == t]
            a = _adv_cell([r for r in adv if r["model"] == m], sets)[1]
            c = _adv_cell([r for r in clean if r["model"] == m], sets)[1]
            pairs[t] = (c, a)
            text.loc[m, col] = _drop_text(c, a)
        both = [t for t, (c, a) in pairs.items() if np.isfinite(c) and np.isfinite(a)]
        text.loc[m, "Avg"] = (_drop_text(np.mean([pairs[t][0] for t in both]), np.mean([pairs[t][1] for t in both]))
                              + ("" if len(both) == len(tasks) else "*")) if both else "–"
    note = ("clean → adversarial (↓ drop), AdvGLUE scoring on both (accuracy; QQP mean of accuracy and F1; MNLI m/mm "
            "averaged), ×100, mean over seeds. Clean = GLUE dev of the same checkpoint. "
            "* Avg over the tasks with both scores.")
    return TableSpec("AdvGLUE: clean GLUE dev vs adversarial", text.fillna("–"), None, note)


def _drop_text(clean: float, adv: float) -> str:
    if not (np.isfinite(clean) and np.isfinite(adv)):
        return "–" if not np.isfinite(adv) else f"– → {adv:.2f}"
    return f"{clean:.2f} → {adv:.2f} ({'↓' if clean >= adv else '↑'} {abs(clean - adv):.2f})"


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
    group's bootstrap CI; then each group's accuracy and size."""
    specs = []
    for eval_set in sorted({r["eval_set"] for r in records}):
        mine = [r for r in records if r["eval_set"] == eval_set]
        specs.append(_groups_summary(mine, baseline, eval_set))
        specs.append(_groups_detail(mine, baseline, eval_set))
    return specs


def _groups_summary(records: list[dict], baseline: Optional[str], eval_set: str) -> TableSpec:
    methods, _ = ordered_methods(records, baseline)
    per = {m: [r for r in records if r["model"] == m] for m in methods}
    avg = {m: by_seed(per[m], metric("accuracy")) for m in methods}
    worst = {m: by_seed(per[m], metric("worst_group_accuracy")) for m in methods}
    cols = ["Avg Acc", "Worst-group Acc", "95 % CI (worst)", "p (worst)"]
    text = pd.DataFrame(index=methods, columns=cols, dtype=object)
    means = pd.DataFrame(index=methods, columns=cols[:2], dtype=float)
    for m in methods:
        ref = counterpart(m, methods)
        for col, values in (("Avg Acc", avg), ("Worst-group Acc", worst)):
            mean = _mean(values[m])
            delta = (mean - _mean(values[ref])) * 100 if ref else float("nan")
            text.loc[m, col] = f"{pct(mean, 1)} {arrow(delta, 1)}"
            means.loc[m, col] = mean * 100
        if len(per[m]) == 1:
            met = per[m][0]["metrics"]
            text.loc[m, "95 % CI (worst)"] = f"[{pct(met.get('worst_group_ci_low'), 1)}, {pct(met.get('worst_group_ci_high'), 1)}]"
        else:
            text.loc[m, "95 % CI (worst)"] = "sd " + f"{SeedStats.of(worst[m].values()).sd * 100:.1f}"
        text.loc[m, "p (worst)"] = p_value(worst[m], worst[ref]) if ref else "–"
    if (text["p (worst)"] == "–").all():
        text = text.drop(columns="p (worst)")
    words = records[0].get("details", {}).get("words")
    boot = records[0].get("details", {}).get("bootstrap", {})
    note = (f"Accuracy ×100, mean over seeds. Groups: label × hypothesis contains one of {words}. "
            "Arrows: difference to the same method without Match-Tuning (`( - )` for rows without one). "
            f"CI: stratified bootstrap over examples within groups ({boot.get('n')} resamples, seed "
            f"{boot.get('seed')}); with several seeds, the sd over seeds instead.")
    display = "MNLI-m" if eval_set == "mnli-m" else "MNLI-mm" if eval_set == "mnli-mm" else eval_set
    return TableSpec(f"Group robustness, {display}", text.fillna("–"), bold_best(means), note)


def _groups_detail(records: list[dict], baseline: Optional[str], eval_set: str) -> TableSpec:
    methods, _ = ordered_methods(records, baseline)
    names = [g["name"] for g in records[0]["details"]["groups"]]
    sizes = {g["name"]: g["size"] for g in records[0]["details"]["groups"]}
    cols = [f"{n} (n={sizes[n]})" for n in names]
    text = pd.DataFrame(index=methods, columns=cols, dtype=object)
    means = pd.DataFrame(index=methods, columns=cols, dtype=float)
    for m in methods:
        for n, col in zip(names, cols):
            values = [next(g["accuracy"] for g in r["details"]["groups"] if g["name"] == n)
                      for r in records if r["model"] == m]
            st = SeedStats.of(values)
            text.loc[m, col], means.loc[m, col] = st.text(digits=1), st.mean * 100
    display = "MNLI-m" if eval_set == "mnli-m" else "MNLI-mm" if eval_set == "mnli-mm" else eval_set
    return TableSpec(f"Per-group accuracy, {display}", text.fillna("–"), bold_best(means),
                     "Accuracy ×100 per group (label/negation), group sizes in the header.")
