"""Degradation plot: score vs noise ratio / reduction ratio, one line per method (``rbm plot degradation``).

One figure per training-time suite in the results (label-noise, minority): a panel per task plus the
average over tasks; x is the ratio in % (0 = clean; for minority, 100 = every label-1 row kept is the
clean point), y the suite's main metric ×100, mean over seeds with ±sd error bars, a dashed line at the
majority-class score and hollow markers where a seed's model was degenerate.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from ..conditions.base import parse_condition
from ..figures import legend_label, literal_text
from ..metrics import DEGENERATE_SHARE
from ..tasks import get_task
from ..tabulation import Cell, is_degenerate, majority_score, metric, ordered_methods, ordered_tasks, seed_average

SUITE_METRIC = {"label-noise": None, "minority": "minority_accuracy"}  # None: the record's main metric
X_LABEL = {"label-noise": "labels flipped in training (%)", "minority": "label-1 training rows kept (%)"}


def x_of(suite_kind: str, condition: str) -> float:
    """Position on the x axis: noise % (clean = 0) or share of label 1 kept (clean = 100)."""
    ratio = parse_condition(condition)[1]
    if condition == "clean":
        return 100.0 if suite_kind == "minority" else 0.0
    return ratio * 100


class Point(NamedTuple):
    """One marker: the mean over seeds at ``x`` with its sd, the seeds behind it (finite / all) and how
    many of them were degenerate (drawn hollow)."""

    x: float
    mean: float
    sd: float
    n: int
    n_total: int
    n_degenerate: int


def curves(records: list[dict], kind: str, baseline: Optional[str] = None) -> dict[str, dict[str, list[Point]]]:
    """``{panel: {method: [Point, ...]}}``; panels are the tasks and ``Avg`` (per seed, over tasks)."""
    value = metric(SUITE_METRIC[kind])
    tasks = ordered_tasks(records)
    methods, _ = ordered_methods(records, baseline)
    cell: dict[tuple, Cell] = {}
    for r in records:
        cell.setdefault((r["model"], r["condition"], r["task"]), Cell()).add(r.get("seed"), value(r) * 100,
                                                                              is_degenerate(r))
    conditions = sorted({r["condition"] for r in records}, key=lambda c: x_of(kind, c))
    out: dict[str, dict[str, list[Point]]] = {}
    for panel in [*tasks, "Avg"]:
        for m in methods:
            points = []
            for c in conditions:
                here = (seed_average([cell.get((m, c, t), Cell()) for t in tasks]) if panel == "Avg"
                        else cell.get((m, c, panel), Cell()))
                s = here.summary
                if s.n:
                    sd = s.sd if s.n > 1 else 0.0
                    points.append(Point(x_of(kind, c), s.mean, sd, s.n, here.n_total, here.n_degenerate))
            if points:
                out.setdefault(panel, {})[m] = points
    return out


def majority_lines(records: list[dict], kind: str) -> dict[str, float]:
    """``{panel: score ×100}`` of always predicting the eval set's majority class (records'
    ``details.majority_score``); the Avg panel gets the mean over tasks when every task has one."""
    tasks = ordered_tasks(records)
    out = {}
    for t in tasks:
        score = majority_score([r for r in records if r["task"] == t])
        if score is not None:
            out[t] = score * 100
    if tasks and all(t in out for t in tasks):
        out["Avg"] = float(np.mean([out[t] for t in tasks]))
    return out


@literal_text
def degradation_figures(records: list[dict], baseline: Optional[str] = None) -> list[tuple[str, object]]:
    """One matplotlib figure per training-time suite found in ``records``: ``[(suite, figure)]``.

    Error bars are the sd over seeds; a hollow marker is a point with a degenerate seed (≥ 95 % of
    predictions in one class), ``n=k/N`` beside a point with NaN seeds; the dashed grey line is the
    majority-class score, the floor a model that learnt nothing reaches. The caller closes them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    figures = []
    for suite in sorted({r["suite"] for r in records}):
        group = [r for r in records if r["suite"] == suite]
        kind = group[0].get("evaluator") or group[0].get("layout")
        if kind not in SUITE_METRIC:
            continue
        panels = curves(group, kind, baseline)
        floors = majority_lines(group, kind)
        fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), squeeze=False)
        any_degenerate = False
        for ax, (panel, lines) in zip(axes[0], panels.items()):
            for method, points in lines.items():
                x, y, sd = (np.asarray([getattr(p, f) for p in points]) for f in ("x", "mean", "sd"))
                bar = ax.errorbar(x, y, yerr=sd, marker="o", capsize=3, label=legend_label(method))
                color = bar.lines[0].get_color()
                hollow = [p for p in points if p.n_degenerate]
                any_degenerate |= bool(hollow)
                if hollow:  # drawn over the filled marker: white inside, the line's colour as the ring
                    ax.plot([p.x for p in hollow], [p.mean for p in hollow], linestyle="none", marker="o",
                            markersize=8, markerfacecolor="white", markeredgecolor=color, markeredgewidth=1.8,
                            zorder=5)
                for p in points:
                    if p.n < p.n_total:
                        ax.annotate(f"n={p.n}/{p.n_total}", (p.x, p.mean), textcoords="offset points",
                                    xytext=(-4, 6), ha="right", fontsize=7)
            if panel in floors:
                ax.axhline(floors[panel], color="grey", linestyle="--", linewidth=1)
            ax.set_title(panel if panel == "Avg" else get_task(panel).display)
            ax.set_xlabel(X_LABEL[kind])
            ax.grid(alpha=0.3)
        metric_name = "accuracy on label 1" if kind == "minority" else "task metric"
        axes[0][0].set_ylabel(f"{metric_name} (×100)")
        handles, labels = axes[0][-1].get_legend_handles_labels()
        if floors:
            handles.append(Line2D([], [], color="grey", linestyle="--"))
            labels.append("majority class")
        if any_degenerate:
            handles.append(Line2D([], [], color="black", marker="o", markerfacecolor="white", linestyle="none"))
            labels.append(f"degenerate seed (≥ {DEGENERATE_SHARE * 100:g} % one class)")
        axes[0][-1].legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        fig.suptitle(f"{suite}: score vs ratio (mean ± sd over seeds)")
        fig.tight_layout()
        figures.append((suite, fig))
    return figures


def plot_degradation(records: list[dict], output: str | Path, baseline: Optional[str] = None,
                     formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Draw :func:`degradation_figures` into ``OUTPUT/degradation_SUITE.FORMAT``; returns the files written
    (every target is checked before the first is written)."""
    import matplotlib.pyplot as plt

    from ..figures import check_figure_output, save_figure
    from ..inputs import path_component

    out_dir = Path(output)
    for suite in sorted({r["suite"] for r in records}):
        for fmt in formats:
            check_figure_output(out_dir / f"degradation_{path_component(suite)}.{fmt}", "--output")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for suite, fig in degradation_figures(records, baseline):
        for fmt in formats:
            path = out_dir / f"degradation_{path_component(suite)}.{fmt}"
            save_figure(fig, path, "--output", dpi=150, bbox_inches="tight")
            written.append(path)
        plt.close(fig)
    return written


class _DegradationKind:
    """``rbm plot degradation RESULTS_DIR [...] --output DIR``: the plot kind registered in commands/plot.py."""

    @staticmethod
    def add_arguments(parser) -> None:
        parser.add_argument("results", nargs="+", help="result folders (or results.jsonl files) of `rbm run`")
        parser.add_argument("-o", "--output", default=None,
                            help="folder for the figures (default: the first results folder)")
        parser.add_argument("--baseline", default=None, help="method listed first (default: vanilla)")
        parser.add_argument("--format", action="append", choices=["png", "pdf", "svg"],
                            help="file formats (repeatable; default png and pdf)")

    @staticmethod
    def run(args) -> int:
        from ..errors import RBMError
        from ..results import load_records

        records = [r for r in load_records(args.results) if (r.get("evaluator") or r.get("layout")) in SUITE_METRIC]
        if not records:
            raise RBMError(f"{', '.join(args.results)}: no label-noise or minority results to plot")
        first = Path(args.results[0])
        output = Path(args.output) if args.output else (first.parent if first.is_file() else first)
        if output.exists() and not output.is_dir():
            raise RBMError(f"--output {output}: is a file (expected a folder for the figures)")
        for path in plot_degradation(records, output, args.baseline, tuple(args.format or ("png", "pdf"))):
            print(path)
        return 0


DEGRADATION = _DegradationKind()
