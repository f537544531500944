"""Table layouts: how a suite's records become tables. One registry; each suite's evaluator names
its layout, so `rbm table` draws every suite in the paper's form for it.

A layout is ``(records, baseline) -> list[TableSpec]``; rendering to Markdown/LaTeX/CSV is shared.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import numpy as np
import pandas as pd

from ..registry import Registry
from ..tasks import GLUE_TASKS, TASKS, eval_set_display, get_task


@dataclass
class TableSpec:
    title: str
    frame: pd.DataFrame  # display strings; index = row labels
    bold: Optional[pd.DataFrame] = None  # same shape, True where the value is the best in its column
    note: str = ""


Layout = Callable[[list[dict], Optional[str]], list[TableSpec]]
LAYOUTS: Registry[Layout] = Registry("table layout")


@dataclass
class SeedStats:
    mean: float
    sd: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> "SeedStats":
        arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
        if arr.size == 0:
            return cls(float("nan"), float("nan"), float("nan"), 0)
        sd = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        return cls(float(arr.mean()), sd, float(arr.max()), int(arr.size))

    def text(self, scale: float = 100.0, digits: int = 2) -> str:
        """``mean`` for one seed; ``mean ± sd (max)`` over several, as the paper's mean (max)."""
        if self.n == 0:
            return "–"
        m = f"{self.mean * scale:.{digits}f}"
        if self.n == 1:
            return m
        return f"{m} ± {self.sd * scale:.{digits}f} ({self.max * scale:.{digits}f})"


def eval_set_order(eval_set: str, task: str) -> tuple[int, str]:
    """GLUE's own task order, then the eval set name (mnli-m before mnli-mm)."""
    names = TASKS.names()
    return (GLUE_TASKS.index(task) if task in GLUE_TASKS else len(GLUE_TASKS) + names.index(task), eval_set)


def row_label(record: dict) -> str:
    cond = record.get("condition") or "clean"
    return record["model"] if cond == "clean" else f"{record['model']} [{cond}]"


def main_value(record: dict) -> float:
    value = record["metrics"].get(record["main_metric"])
    return float("nan") if value is None else float(value)


def pivot_seeds(records: list[dict], value: Callable[[dict], float] = main_value,
                row: Callable[[dict], str] = row_label) -> dict[tuple[str, str], SeedStats]:
    """(row, eval set) → statistics over seeds."""
    groups: dict[tuple[str, str], list[float]] = {}
    for r in records:
        groups.setdefault((row(r), r["eval_set"]), []).append(value(r))
    return {k: SeedStats.of(v) for k, v in groups.items()}


def bold_best(frame_values: pd.DataFrame, higher_is_better: bool = True) -> pd.DataFrame:
    """True where a numeric cell equals its column's best (ties all bold)."""
    best = frame_values.max() if higher_is_better else frame_values.min()
    return frame_values.eq(best) & frame_values.notna()


def pick_baseline(rows: list[str], baseline: Optional[str]) -> Optional[str]:
    if baseline:
        if baseline not in rows:
            from ..errors import RBMError

            raise RBMError(f"--baseline {baseline!r}: no such row (rows: {', '.join(rows)})")
        return baseline
    return "vanilla" if "vanilla" in rows else (rows[0] if rows else None)


def tasks_layout(records: list[dict], baseline: Optional[str]) -> list[TableSpec]:
    """Table 1 of the paper: checkpoints × tasks (main metric), Avg and Δ vs the baseline row."""
    sets = sorted({(r["eval_set"], r["task"]) for r in records}, key=lambda x: eval_set_order(*x))
    columns = [eval_set_display(get_task(t), e) for e, t in sets]
    stats = pivot_seeds(records)
    rows = sorted({row_label(r) for r in records})
    base = pick_baseline(rows, baseline)
    rows = [base] + [r for r in rows if r != base] if base else rows
    means = pd.DataFrame(index=rows, columns=columns, dtype=float)
    text = pd.DataFrame(index=rows, columns=columns, dtype=object)
    for (row, eval_set), st in stats.items():
        task = next(t for e, t in sets if e == eval_set)
        col = eval_set_display(get_task(task), eval_set)
        means.loc[row, col] = st.mean * 100
        text.loc[row, col] = st.text()
    text = text.fillna("–")
    avg = means.mean(axis=1, skipna=True)
    complete = means.notna().all(axis=1)
    text["Avg"] = [f"{a:.2f}" + ("" if c else "*") for a, c in zip(avg, complete)]
    means["Avg"] = avg
    if base is not None:
        delta = avg - avg[base]
        text["Δ"] = [f"{d:+.2f}" for d in delta]
        means["Δ"] = delta
    note = "* averaged over the tasks this row has." if not complete.all() else ""
    metric_note = ", ".join(sorted({f"{eval_set_display(get_task(t), e)}: {get_task(t).main_metric}" for e, t in sets}))
    note = " ".join(x for x in (f"Metric ×100 ({metric_note}); mean ± sd (max) over seeds where several.", note) if x)
    return [TableSpec(title=_suite_title(records), frame=text, bold=bold_best(means), note=note)]


def _suite_title(records: list[dict]) -> str:
    suites = sorted({r["suite"] for r in records})
    return ", ".join(suites)


LAYOUTS.register("tasks", tasks_layout)
# Layouts of other suites live beside their evaluators' reports and load lazily.
LAYOUTS.register("advglue", "robustbench_match.reports.layouts_robustness:advglue_layout")
LAYOUTS.register("label-noise", "robustbench_match.reports.layouts_robustness:label_noise_layout")
LAYOUTS.register("minority", "robustbench_match.reports.layouts_robustness:minority_layout")
LAYOUTS.register("groups", "robustbench_match.reports.layouts_robustness:groups_layout")
LAYOUTS.register("attack", "robustbench_match.reports.layout_attack:attack_layout")
