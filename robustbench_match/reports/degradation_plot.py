"""Degradation plot: score vs noise ratio / reduction ratio, one line per method (``rbm plot degradation``).

One figure per training-time suite in the results (label-noise, minority): a panel per task plus the
average over tasks; x is the ratio in % (0 = clean; for minority, 100 = every label-1 row kept is the
clean point), y the suite's main metric ×100, mean over seeds with ±sd error bars.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..conditions.base import parse_condition
from ..tasks import get_task
from .layouts_robustness import metric, ordered_methods, ordered_tasks, seed_means

SUITE_METRIC = {"label-noise": None, "minority": "minority_accuracy"}  # None: the record's main metric
X_LABEL = {"label-noise": "labels flipped in training (%)", "minority": "label-1 training rows kept (%)"}


def x_of(suite_kind: str, condition: str) -> float:
    """Position on the x axis: noise % (clean = 0) or share of label 1 kept (clean = 100)."""
    ratio = parse_condition(condition)[1]
    if condition == "clean":
        return 100.0 if suite_kind == "minority" else 0.0
    return ratio * 100


def curves(records: list[dict], kind: str, baseline: Optional[str] = None) -> dict[str, dict[str, list]]:
    """``{panel: {method: [(x, mean, sd, n), ...]}}``; panels are the tasks and ``Avg``."""
    value = metric(SUITE_METRIC[kind])
    tasks = ordered_tasks(records)
    methods, _ = ordered_methods(records, baseline)
    cell: dict[tuple, dict] = {}
    for r in records:
        cell.setdefault((r["model"], r["condition"], r["task"]), {})[r.get("seed")] = value(r) * 100
    conditions = sorted({r["condition"] for r in records}, key=lambda c: x_of(kind, c))
    out: dict[str, dict[str, list]] = {}
    for panel in [*tasks, "Avg"]:
        for m in methods:
            points = []
            for c in conditions:
                per_seed = (seed_means({t: cell.get((m, c, t), {}) for t in tasks}, tasks) if panel == "Avg"
                            else cell.get((m, c, panel), {}))
                vals = np.asarray([v for v in per_seed.values() if np.isfinite(v)])
                if vals.size:
                    sd = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
                    points.append((x_of(kind, c), float(vals.mean()), sd, int(vals.size)))
            if points:
                out.setdefault(panel, {})[m] = points
    return out


def plot_degradation(records: list[dict], output: str | Path, baseline: Optional[str] = None,
                     formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Draw one figure per training-time suite found in ``records``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for suite in sorted({r["suite"] for r in records}):
        group = [r for r in records if r["suite"] == suite]
        kind = group[0].get("evaluator") or group[0].get("layout")
        if kind not in SUITE_METRIC:
            continue
        panels = curves(group, kind, baseline)
        fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), squeeze=False)
        for ax, (panel, lines) in zip(axes[0], panels.items()):
            for method, points in lines.items():
                x, y, sd, _ = map(np.asarray, zip(*points))
                ax.errorbar(x, y, yerr=sd, marker="o", capsize=3, label=method)
            ax.set_title(panel if panel == "Avg" else get_task(panel).display)
            ax.set_xlabel(X_LABEL[kind])
            ax.grid(alpha=0.3)
        metric_name = "accuracy on label 1" if kind == "minority" else "task metric"
        axes[0][0].set_ylabel(f"{metric_name} (×100)")
        axes[0][-1].legend(fontsize=8)
        fig.suptitle(f"{suite}: score vs ratio (mean ± sd over seeds)")
        fig.tight_layout()
        for fmt in formats:
            path = out_dir / f"degradation_{suite}.{fmt}"
            fig.savefig(path, dpi=150)
            written.append(path)
        plt.close(fig)
    return written


class _DegradationKind:
    """``rbm plot degradation RESULTS_DIR [...] --output DIR``: the plot kind registered in commands/plot.py."""

    @staticmethod
    def add_arguments(parser) -> None:
        parser.add_argument("results", nargs="+", help="result folders (or results.jsonl files) of `rbm run`")
        parser.add_argument("--output", default=None, help="folder for the figures (default: the first results folder)")
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
        for path in plot_degradation(records, output, args.baseline, tuple(args.format or ("png", "pdf"))):
            print(path)
        return 0


DEGRADATION = _DegradationKind()
