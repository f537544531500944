"""What every results table is made of: cells over seeds, Δ with its p and interval, the majority-class
reference, and the builder that decides n, †, bold and footnotes. Each suite kind draws its own tables
(``evaluators/<kind>/layout.py``: ``(records, baseline) -> list[TableSpec]``) from these parts; rendering
to Markdown/LaTeX/CSV is ``reports.tables``.

Why a :class:`TableBuilder` between the two: a table must not claim more than its seeds show. Every
layout hands its cells (a score per seed, with each seed's degenerate flag) to one builder, which alone
decides what is printed around them — n, NaN, the † of a one-class model, which value (if any) is
bold, and the footnotes that say so — so that no layout can bold a degenerate model or a difference
that three seeds cannot establish.
"""
from __future__ import annotations

import contextvars
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterable, Optional

import numpy as np
import pandas as pd

from .metrics import DEGENERATE_SHARE
from .stats import PairedTest, Summary, format_p, paired_test, summarize, t_interval
from .tasks import GLUE_TASKS, TASKS

DAGGER = "†"
MINUS = "\u2212"  # a true minus sign; LaTeX gets $-$, Markdown shows it as typeset
ALPHA = 0.05  # significance level of the bolding rule
MAJORITY_ROW = "majority class"
UNPAIRED = "unpaired"
DAGGER_NOTE = (f"{DAGGER} a degenerate model among the seeds: ≥ {DEGENERATE_SHARE * 100:g} % of its predictions in "
               "one class (regression: a near-constant output); such a value, and any Avg, Δ or p computed from it, "
               "is never bold or ranked")
SEEN = "‡"
SEEN_NOTE = (f"{SEEN} not held out: the method trained on this kind of edit (its augmentation recipe or the attack "
             f"in its training loop makes the same transformations; card field seen_in_training)")
BOLD_NOTE = (f"Bold: the best value of a column among non-degenerate rows, only where it beats the next one with "
             f"p < {ALPHA:g} (exact paired sign-flip test over the seeds both share); otherwise nothing is bold")
NAN_NOTE = ("NaN: the stored metric is undefined for that seed; a mean over the other seeds says "
            "(n=k of N; j NaN), and a cell with no finite seed prints NaN (n=N)")
MAJORITY_NOTE = (f"Row '{MAJORITY_ROW}': the score of always predicting the eval set's most frequent label "
                 "(details.majority_score of the records), a floor every real model should clear")


@dataclass
class TableSpec:
    title: str
    frame: pd.DataFrame  # display strings; index = row labels
    bold: Optional[pd.DataFrame] = None  # same shape, True where a value is significantly the best of its column
    note: str = ""
    #: display strings of the "majority class" reference row (``rbm table --majority-row``), by column
    majority: Optional[dict[str, str]] = None


Layout = Callable[[list[dict], Optional[str]], list[TableSpec]]


# ---------------------------------------------------------------------------- numbers and cells


def num(value: Optional[float], digits: int = 2, sign: bool = False) -> str:
    """A number as tables print it: ``NaN`` for NaN, ``–`` for none, a true minus sign, no ``-0.00``."""
    if value is None:
        return "–"
    if not math.isfinite(value):
        return "NaN"
    if abs(value) < 0.5 * 10 ** -digits:
        value = 0.0
    return (f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}").replace("-", MINUS)


def is_degenerate(record: dict) -> bool:
    """The record's guard flag (records written before the guard count as not degenerate)."""
    return bool(record.get("degenerate"))


def main_value(record: dict) -> float:
    value = record["metrics"].get(record["main_metric"])
    return float("nan") if value is None else float(value)


@dataclass
class Cell:
    """One value of a table over seeds: each seed's score (NaN kept, never dropped) and whether that
    seed's model was degenerate. Seeds pair cells for the exact sign-flip test."""

    values: dict[Hashable, float] = field(default_factory=dict)
    degenerate: dict[Hashable, bool] = field(default_factory=dict)
    _summary: Optional[Summary] = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, records: list[dict], value: Callable[[dict], Optional[float]] = main_value) -> "Cell":
        cell = cls()
        for r in records:
            cell.add(r.get("seed"), value(r), is_degenerate(r))
        return cell

    def add(self, seed: Hashable, value: Optional[float], degenerate: bool = False) -> None:
        key = seed
        while key in self.values:  # a repeated seed (e.g. two unseeded checkpoints) is its own sample
            key = (key, len(self.values))
        self.values[key] = float("nan") if value is None else float(value)
        self.degenerate[key] = bool(degenerate)
        self._summary = None

    @property
    def summary(self) -> Summary:
        if self._summary is None:  # computed once per cell: a table reads it for text, rank, bold and notes
            self._summary = summarize(list(self.values.values()))
        return self._summary

    @property
    def n_total(self) -> int:
        return len(self.values)

    @property
    def n_degenerate(self) -> int:
        return sum(self.degenerate.values())

    @property
    def mean(self) -> float:
        return self.summary.mean

    def text(self, scale: float = 100.0, digits: int = 2, show_n: bool = False) -> str:
        """``mean`` for one seed, ``mean ± sd (max)`` over several (the paper's mean (max)); ``NaN (n=3)``
        when no seed is finite, ``(n=2 of 3; 1 NaN)`` when some are not; ``†`` when a seed is degenerate."""
        s = self.summary
        if self.n_total == 0:
            return "–"
        if s.n == 0:
            out = f"NaN (n={self.n_total})"
        else:
            out = num(s.mean * scale, digits)
            if s.n > 1:
                out += f" ± {num(s.sd * scale, digits)} ({num(s.max * scale, digits)})"
            if s.n_nan:
                out += f" (n={s.n} of {self.n_total}; {s.n_nan} NaN)"
            elif show_n:
                out += f" (n={s.n})"
        return out + (DAGGER if self.n_degenerate else "")


def seed_average(cells: list[Cell]) -> Cell:
    """Per seed, the mean over ``cells`` (one per task) — only seeds that every cell has; a seed whose
    score is NaN in any cell stays NaN (counted, not dropped), and is degenerate if any of its models is."""
    out = Cell()
    if not cells or any(c.n_total == 0 for c in cells):
        return out
    seeds = set.intersection(*(set(c.values) for c in cells))
    order = sorted(seeds, key=lambda x: (x is None, str(x)))
    if not order:
        return out
    means = np.mean(np.array([[c.values[s] for c in cells] for s in order]), axis=1)  # one call, not one per seed
    for s, mean in zip(order, means):
        out.add(s, float(mean), any(c.degenerate[s] for c in cells))
    return out


def paired(a: Cell, b: Cell) -> PairedTest:
    """The exact paired sign-flip test of ``a`` vs ``b`` over the seeds both have."""
    common = sorted(set(a.values) & set(b.values), key=lambda s: (s is None, str(s)))
    return paired_test([a.values[s] for s in common], [b.values[s] for s in common])


@dataclass(frozen=True)
class Delta:
    """``a − b`` as a table prints it beside the paired p: the mean per-seed difference over the seeds both
    cells have (finite pairs only — the very sample the sign-flip test sees), so that a row with extra seeds
    cannot make Δ and p describe different samples. Cells that share no seed fall back to the difference of
    their means, marked ``paired=False``."""

    value: float
    n: int
    paired: bool
    low: float = float("nan")  # 95 % t-interval of the per-seed differences (NaN below two pairs)
    high: float = float("nan")


#: ``rbm table --ci``: every paired Δ printed with its 95 % interval over seeds (set by ``tables_for``)
SHOW_CI: contextvars.ContextVar[bool] = contextvars.ContextVar("rbm_show_ci", default=False)
CI_NOTE = ("[a, b] after a Δ: its 95 % t-interval over the paired seeds (mean per-seed difference ± t(0.975, n−1) × sd / sqrt(n)); "
           "a wide interval means the run could have missed a difference of that size, not that there is none")


def paired_delta(a: Cell, b: Cell) -> Delta:
    """:class:`Delta` of ``a`` vs ``b`` (see there); NaN when neither a pair nor both means exist."""
    common = sorted(set(a.values) & set(b.values), key=lambda s: (s is None, str(s)))
    test = paired(a, b)
    if test.n:
        low, high = t_interval([a.values[s] - b.values[s] for s in common])
        return Delta(test.mean_diff, test.n, True, low, high)
    value = a.mean - b.mean if a.n_total and b.n_total else float("nan")
    return Delta(value, 0, False)


def delta_text(delta: Delta, digits: int = 2, scale: float = 100.0) -> str:
    """``+1.23`` for a paired Δ; ``+1.23 (unpaired)`` where the rows share no seed; ``NaN`` for NaN; with
    ``--ci`` a paired Δ over two or more seeds reads ``+1.23 [-0.50, +2.96]``."""
    if not math.isfinite(delta.value):
        return num(delta.value)
    text = num(delta.value * scale, digits, sign=True) + ("" if delta.paired else f" ({UNPAIRED})")
    if SHOW_CI.get() and math.isfinite(delta.low) and delta.high > delta.low:  # (a row against itself: none)
        text += f" [{num(delta.low * scale, digits, sign=True)}, {num(delta.high * scale, digits, sign=True)}]"
    return text


def majority_score(records: list[dict], key: str = "majority_score") -> Optional[float]:
    """``details.majority_score`` of records on one eval set (the same for every model; None if absent)."""
    values = [r.get("details", {}).get(key) for r in records]
    values = [float(v) for v in values if v is not None]
    return float(np.mean(values)) if values else None


# ---------------------------------------------------------------------------- the builder


@dataclass
class _Text:
    text: str
    n: Optional[int] = None  # seeds behind the value, shown when it differs from the table's usual n
    degenerate: bool = False


class TableBuilder:
    """Collects one table's cells and turns them into a :class:`TableSpec` that cannot overclaim.

    * n (seeds) is printed for every cell: once in the footnote where the whole table shares it,
      else ``(n=k)`` in each cell that differs; NaN seeds are printed, never averaged away.
    * ``†`` follows every value with a degenerate seed (and every Δ/p/Avg made from one); the footnote
      says what it means and which cells have how many such seeds. Those values are never bold.
    * Bold marks only the best non-degenerate value of a ranked column, and only where the exact paired
      test against the runner-up gives p < 0.05; a one-row table bolds nothing.
    * Where n is too small for any p < 0.05 (2/2ⁿ ≥ 0.05), the footnote says so.
    """

    def __init__(self, title: str, rows: list[str], columns: list[str], scale: float = 100.0, digits: int = 2):
        self.title, self.rows, self.columns = title, list(rows), list(columns)
        self.scale, self.digits = scale, digits
        self._cells: dict[tuple[str, str], Cell] = {}
        self._text: dict[tuple[str, str], _Text] = {}
        self._rank: dict[str, tuple[bool, dict[str, Cell]]] = {}
        self._tests: list[PairedTest] = []
        self._seen: set[tuple[str, str]] = set()
        self.majority: dict[str, Optional[float]] = {}

    # -- filling
    def cell(self, row: str, col: str, cell: Cell, higher_is_better: Optional[bool] = True) -> None:
        """Show ``cell`` (mean ± sd (max)); rank it for bold unless ``higher_is_better`` is None."""
        self._cells[(row, col)] = cell
        if higher_is_better is not None:
            self.rank(col, row, cell, higher_is_better)

    def put(self, row: str, col: str, text: str, n: Optional[int] = None, degenerate: bool = False) -> None:
        """A derived value (Avg with an arrow, Δ, a CI) shown as given; ``†`` added when ``degenerate``."""
        self._text[(row, col)] = _Text(text, n, degenerate)

    def seen(self, row: str, col: str) -> None:
        """Mark ``row``'s value in ``col`` ``‡``: the method trained on that family's / attack's edits."""
        self._seen.add((row, col))

    def rank(self, col: str, row: str, cell: Cell, higher_is_better: bool = True) -> None:
        """Let ``row``'s ``cell`` compete for bold in ``col`` (its seeds pair it with the runner-up)."""
        self._rank.setdefault(col, (higher_is_better, {}))[1][row] = cell

    def p_text(self, a: Cell, b: Cell) -> str:
        """``0.250 (n=3)``: the exact paired test of ``a`` vs ``b``; ``†`` if either has a degenerate seed;
        ``–`` where they share fewer than two seeds."""
        test = paired(a, b)
        if test.n < 2:  # no test at one shared seed: the column says nothing (and is dropped if all such)
            return "–"
        self._tests.append(test)
        return f"{format_p(test.p_value)} (n={test.n})" + (DAGGER if a.n_degenerate or b.n_degenerate else "")

    # -- output
    def usual_n(self) -> Optional[int]:
        counts = Counter(c.n_total for c in self._cells.values() if c.n_total)
        counts.update(t.n for t in self._text.values() if t.n)
        return counts.most_common(1)[0][0] if counts else None

    def _bold(self) -> pd.DataFrame:
        marks: set[tuple[str, str]] = set()
        for col, (higher, cells) in self._rank.items():
            ok = {r: c for r, c in cells.items() if not c.n_degenerate and math.isfinite(c.mean)}
            if len(ok) < 2 or col not in self.columns:
                continue
            order = sorted(ok, key=lambda r: ok[r].mean, reverse=higher)
            best, second = order[0], order[1]
            if ok[best].mean == ok[second].mean:
                continue
            test = paired(ok[best], ok[second])
            if test.n >= 2:
                self._tests.append(test)
            if math.isfinite(test.p_value) and test.p_value < ALPHA:
                marks.add((best, col))
        return pd.DataFrame([[(r, c) in marks for c in self.columns] for r in self.rows], index=self.rows,
                            columns=self.columns, dtype=bool)

    def build(self, note: str = "") -> TableSpec:
        usual = self.usual_n()
        shown: dict[tuple[str, str], str] = {}  # filled as a dict, framed once (a cell-by-cell .loc is slow)
        for (row, col), cell in self._cells.items():
            shown[(row, col)] = cell.text(self.scale, self.digits, show_n=cell.n_total != usual)
        for (row, col), t in self._text.items():
            text = t.text + (f" (n={t.n})" if t.n is not None and t.n != usual else "")
            shown[(row, col)] = text + (DAGGER if t.degenerate and not text.endswith(DAGGER) else "")
        marked = {key for key in self._seen if key in shown}
        for key in marked:
            shown[key] += SEEN
        frame = pd.DataFrame([[shown.get((r, c), "–") for c in self.columns] for r in self.rows], index=self.rows,
                             columns=self.columns, dtype=object)
        bold = self._bold()
        notes = [note] if note else []
        if marked:
            notes.append(SEEN_NOTE)
        if usual is not None:
            notes.append(f"Seeds: n = {usual} per value"
                         + (" unless it says (n=k)" if self._n_varies(usual) else ""))
        if any(c.summary.n_nan for c in self._cells.values()):
            notes.append(NAN_NOTE)
        notes.extend(self._dagger_notes(frame))
        if self._rank and len(self.rows) > 1:
            notes.append(BOLD_NOTE)
        notes.extend(self._min_p_notes())
        majority = None
        if any(v is not None for v in self.majority.values()):
            majority = {c: num(None if v is None else v * self.scale, self.digits) for c, v in self.majority.items()}
        text = ". ".join(n.rstrip(".") for n in notes) + "."
        return TableSpec(self.title, frame, bold, text, majority)

    def has(self, col: str) -> bool:
        """Whether any derived value was put in ``col`` (a layout drops an empty p column and its note)."""
        return any(c == col and t.text != "–" for (_, c), t in self._text.items())

    def _n_varies(self, usual: int) -> bool:
        return (any(c.n_total not in (0, usual) for c in self._cells.values())
                or any(t.n not in (None, usual) for t in self._text.values()))

    def _dagger_notes(self, frame: pd.DataFrame) -> list[str]:
        own = {(r, c): cell for (r, c), cell in self._cells.items() if cell.n_degenerate}
        for c, (_, cells) in self._rank.items():  # ranked values shown as text (e.g. AdvGLUE's m/mm)
            own.update({(r, c): cell for r, cell in cells.items() if cell.n_degenerate and (r, c) not in own})
        own = [(r, c, own[(r, c)]) for r in self.rows for c in self.columns if (r, c) in own]
        shown = any(str(v).endswith(DAGGER) or DAGGER + " " in str(v) for v in frame.to_numpy().ravel())
        if not own and not shown:
            return []
        listed = [f"{r} / {c}: {cell.n_degenerate} of {cell.n_total} seeds" for r, c, cell in own[:8]]
        if len(own) > 8:
            listed.append(f"{len(own) - 8} more")
        return [DAGGER_NOTE + (f" (degenerate seeds: {'; '.join(listed)})" if listed else "")]

    def _min_p_notes(self) -> list[str]:
        small = sorted({t.n for t in self._tests if t.n >= 2 and not (t.min_p < ALPHA)})
        if not small:
            return []
        need = next(n for n in range(2, 64) if 2.0 / 2 ** n < ALPHA)
        parts = [f"{'with' if i else 'With'} n={n} seeds the exact test cannot go below p = {2.0 / 2 ** n:.3g}"
                 for i, n in enumerate(small)]
        return ["; ".join(parts) + f", so no difference here can reach p < {ALPHA:g} (that takes n ≥ {need} seeds)"]


# ---------------------------------------------------------------------------- shared helpers


def eval_set_order(eval_set: str, task: str) -> tuple[int, str]:
    """GLUE's own task order, then the eval set name (mnli-m before mnli-mm)."""
    names = TASKS.names()
    return (GLUE_TASKS.index(task) if task in GLUE_TASKS else len(GLUE_TASKS) + names.index(task), eval_set)


def group_records(records: list[dict], key: Callable[[dict], Hashable]) -> dict[Hashable, list[dict]]:
    """Records by ``key`` in one pass (a leaderboard has thousands of rows: filtering per cell is quadratic)."""
    out: dict[Hashable, list[dict]] = {}
    for r in records:
        out.setdefault(key(r), []).append(r)
    return out


def seen_in_training(record: dict, kind: str, name: str) -> bool:
    """Whether the record's checkpoint trained on ``name``'s edits (kind: ``families`` or ``attacks``)."""
    seen = (record.get("checkpoint") or {}).get("seen_in_training") or {}
    return isinstance(seen, dict) and name in (seen.get(kind) or [])


def row_label(record: dict) -> str:
    cond = record.get("condition") or "clean"
    return record["model"] if cond == "clean" else f"{record['model']} [{cond}]"


def pick_baseline(rows: list[str], baseline: Optional[str]) -> Optional[str]:
    if baseline:
        if baseline not in rows:
            from .errors import RBMError

            raise RBMError(f"--baseline {baseline!r}: no such row (rows: {', '.join(rows)})")
        return baseline
    return "vanilla" if "vanilla" in rows else (rows[0] if rows else None)


def higher_is_better(records: list[dict], metric: Optional[str] = None) -> bool:
    """The direction the records store for ``metric`` (default: their main metric); higher when unknown."""
    for r in records:
        name = metric or r.get("main_metric")
        value = (r.get("higher_is_better") or {}).get(name)
        if value is not None:
            return bool(value)
    return True


def drop_empty(spec: TableSpec, col: str) -> TableSpec:
    """Drop a column that says nothing (every value ``–``), e.g. p with one seed."""
    if col in spec.frame.columns and (spec.frame[col] == "–").all():
        spec.frame = spec.frame.drop(columns=col)
        if spec.bold is not None:
            spec.bold = spec.bold.drop(columns=col)
    return spec


def suite_title(records: list[dict]) -> str:
    suites = sorted({r["suite"] for r in records})
    return ", ".join(suites)


# ---------------------------------------------------------------------------- helpers of the robustness layouts
Value = Callable[[dict], float]


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
    if SHOW_CI.get() and np.isfinite(delta.low) and delta.high > delta.low:  # --ci: the signed interval of the difference
        extra += f"; [{num(delta.low * 100, digits, sign=True)}, {num(delta.high * 100, digits, sign=True)}]"
    return f"({'↑' if delta.value >= 0 else '↓'} {num(abs(delta.value) * 100, digits)}{extra})"


def pct(value: Optional[float], digits: int = 2) -> str:
    """A 0..1 value ×100; ``NaN`` for NaN, ``–`` for none."""
    return num(None if value is None else value * 100, digits)


def majority_by_column(records: list[dict], column: Callable[[dict], str]) -> dict[str, Optional[float]]:
    """The majority-class score per table column (a column = ``column(record)``)."""
    out: dict[str, list[dict]] = {}
    for r in records:
        out.setdefault(column(r), []).append(r)
    return {c: majority_score(rs) for c, rs in out.items()}


def with_avg(majority: dict[str, Optional[float]], columns: list[str]) -> dict[str, Optional[float]]:
    """``majority`` with its mean over ``columns`` as "Avg" (when every column has one)."""
    values = [majority.get(c) for c in columns]
    if values and all(v is not None for v in values):
        majority["Avg"] = float(np.mean(values))
    return majority
