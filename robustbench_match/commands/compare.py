"""`rbm compare RUN_DIR --a M1 --b M2`: is model A better than model B, and can this run tell?

Two questions, two tests (Dror et al., 2018):

* **Per seed, on the same examples** — from the saved predictions (`rbm run --save-predictions`):
  exact McNemar when the main metric is an accuracy (accuracy, AdvGLUE's accuracy score, accuracy under
  attack; minority accuracy on the label-1 rows), else a paired bootstrap over examples (F1, MCC,
  Spearman, Pearson, QQP's AdvGLUE score).
* **Over seeds** — the exact paired sign-flip test of the seed-paired main metric, with the smallest p
  that n seeds can give: three seeds cannot go below 0.25, whatever the difference.

Nothing is re-run; only stored records and prediction files are read.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import RBMError
from ..inputs import markdown_cell, seed_arg
from ..results import RESULTS_FILE, dumps, load_records, predictions_path
from ..tasks import get_task

HELP = "test whether model A differs from model B in a run (per seed and over seeds)"
FORMATS = ("markdown", "csv", "json")
#: main metrics that are an accuracy over the stored predictions: McNemar applies
ALPHA = 0.05


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a result folder (the --output of rbm run)")
    parser.add_argument("--a", required=True, metavar="MODEL", help="model A (a row name of the run)")
    parser.add_argument("--b", required=True, metavar="MODEL", help="model B, the reference: Δ = A − B")
    parser.add_argument("--suite", help="only this suite's results")
    parser.add_argument("--tasks", type=_csv, help="only these tasks, e.g. sst2,rte")
    parser.add_argument("--n-boot", type=int, default=10_000, help="paired-bootstrap resamples (default 10000)")
    parser.add_argument("--seed", type=seed_arg, default=0, help="seed of the paired bootstrap (default 0)")
    parser.add_argument("--format", default="markdown", choices=FORMATS)


# ---------------------------------------------------------------------------- reading
def read_predictions(path: Path, record: Optional[dict] = None) -> dict[int, tuple[object, object]]:
    """``{idx: (prediction, label)}`` from a predictions file written by `rbm run --save-predictions`; with its
    ``record``, one row per scored example (a cut or padded file is refused, not compared on what is left)."""
    out: dict[int, tuple[object, object]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out[int(row["idx"])] = (row["prediction"], row.get("label"))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise RBMError(f"{path}: line {lineno} is not a prediction row (expected {{\"idx\", \"prediction\", "
                           f"\"label\"}} as `rbm run --save-predictions` writes)") from None
    n = (record or {}).get("n_examples")
    if isinstance(n, int) and len(out) != n:
        raise RBMError(f"{path}: {len(out)} prediction rows, but record {record.get('key')} scored {n} examples "
                       f"(truncated or edited); rerun the cell with --force --save-predictions")
    return out


def _paired_examples(pa: dict, pb: dict, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    common = sorted(set(pa) & set(pb))
    if not common:
        raise RBMError(f"{where}: the two prediction files share no example index")
    labels = [pa[i][1] for i in common]
    if any(lab is None for lab in labels) or any(pa[i][1] != pb[i][1] for i in common):
        raise RBMError(f"{where}: the prediction files disagree on (or lack) gold labels; were they scored on "
                       f"the same data?")
    return (np.asarray(labels), np.asarray([pa[i][0] for i in common]), np.asarray([pb[i][0] for i in common]))


# ---------------------------------------------------------------------------- tests
def per_example_test(task_name: str, main: str, labels: np.ndarray, a: np.ndarray, b: np.ndarray,
                     n_boot: int, seed: int) -> dict:
    """The metric's own per-example test (``metrics.metric_info``): McNemar for shares of correct examples,
    else a paired bootstrap of the main metric; one result row's fields."""
    from ..conditions.minority import MINORITY_LABEL
    from ..metrics import METRICS, metric_info, score_main_metric
    from ..stats import mcnemar_exact, paired_bootstrap

    task = get_task(task_name)
    if metric_info(main, task.name).paired_test == "mcnemar" and not task.is_regression:
        keep = labels == MINORITY_LABEL if main == "minority_accuracy" else np.ones(labels.size, bool)
        m = mcnemar_exact(a[keep] == labels[keep], b[keep] == labels[keep])
        return {"n": m.n, "a": m.accuracy_a, "b": m.accuracy_b, "delta": m.delta, "test": "McNemar (exact)",
                "p": m.p_value, "min_p": None, "ci_low": None, "ci_high": None,
                "note": f"discordant: A only {m.a_only}, B only {m.b_only}"}
    if main in METRICS:
        metric = main
    elif score_main_metric(main, task, labels, a) is not None:
        def metric(y, p, _main=main, _task=task):
            return score_main_metric(_main, _task, y, p)
        metric.__name__ = main
    else:
        return {"n": int(labels.size), "test": "–", "note": f"{main} is not a function of per-example predictions "
                                                               f"(no per-example test)"}
    res = paired_bootstrap(labels, a, b, metric, n_boot=n_boot, seed=seed)
    fn = METRICS.get(main) if main in METRICS else metric
    with np.errstate(all="ignore"):
        va, vb = float(fn(labels, a)), float(fn(labels, b))
    return {"n": res.n, "a": va, "b": vb, "delta": res.delta, "test": f"paired bootstrap ({res.n_boot}, seed {res.seed})",
            "p": res.p_value, "min_p": 2 / (res.n_boot + 1) if res.n_boot else None, "ci_low": res.ci_low,
            "ci_high": res.ci_high, "note": ""}


def over_seeds(a: dict, b: dict) -> dict:
    """The exact sign-flip test of the seed-paired main metric."""
    from ..stats import paired_test, t_interval

    seeds = sorted(set(a) & set(b), key=lambda s: (s is None, s))
    only = sorted(map(str, (set(a) ^ set(b))))
    va, vb = [a[s] for s in seeds], [b[s] for s in seeds]
    t = paired_test(va, vb)
    low, high = t_interval(np.asarray(va, dtype=float) - np.asarray(vb, dtype=float))
    notes = []
    if t.n_dropped:
        notes.append(f"{t.n_dropped} seed(s) dropped (NaN)")
    if only:
        notes.append(f"unpaired seed(s) {', '.join(only)} left out")
    if t.n < 2:
        notes.append("fewer than 2 paired seeds: no test across seeds")
    elif not t.can_reach(ALPHA):
        notes.append(f"n={t.n} too small for p < {ALPHA:g}")
    with np.errstate(all="ignore"):
        ma = float(np.nanmean(va)) if va and np.isfinite(va).any() else float("nan")
        mb = float(np.nanmean(vb)) if vb and np.isfinite(vb).any() else float("nan")
    return {"n": t.n, "a": ma, "b": mb, "delta": t.mean_diff,
            "test": "sign-flip (exact)" if t.n_resamples == 0 else f"sign-flip (Monte Carlo {t.n_resamples})",
            "p": t.p_value, "min_p": t.min_p, "ci_low": low if np.isfinite(low) else None,
            "ci_high": high if np.isfinite(high) else None, "note": "; ".join(notes)}


# ---------------------------------------------------------------------------- the comparison
COLUMNS = ("suite", "task", "eval_set", "condition", "seed", "metric", "n", "a", "b", "delta", "test", "p",
           "p_holm", "min_p", "ci_low", "ci_high", "a_degenerate", "b_degenerate", "note")


def compare(records: list[dict], run_dir: Path, model_a: str, model_b: str, n_boot: int = 10_000,
            seed: int = 0) -> tuple[list[dict], list[str]]:
    """Result rows (per seed, then over seeds, per cell group) and notes for the user."""
    models = sorted({r["model"] for r in records})
    for name in (model_a, model_b):
        if name not in models:
            raise RBMError(f"--a/--b {name!r}: no such model in {run_dir} (models: {', '.join(models) or 'none'})")
    if model_a == model_b:
        raise RBMError(f"--a and --b are both {model_a!r}; name two different models")
    cells: dict[tuple, dict[str, dict]] = {}
    for r in records:
        if r["model"] in (model_a, model_b):
            group = (r["suite"], r["task"], r["eval_set"], r["condition"])
            cells.setdefault(group, {}).setdefault(r["model"], {})[r.get("seed")] = r
    shared = {g: v for g, v in cells.items() if model_a in v and model_b in v}
    if not shared:
        raise RBMError(f"{run_dir}: {model_a} and {model_b} share no (task, eval set, condition); nothing to compare")
    rows: list[dict] = []
    missing: set[str] = set()
    for (suite, task, eval_set, condition), by_model in sorted(shared.items(), key=lambda kv: tuple(map(str, kv[0]))):
        ra, rb = by_model[model_a], by_model[model_b]
        main = next(iter(ra.values()))["main_metric"]
        base = {"suite": suite, "task": task, "eval_set": eval_set, "condition": condition, "metric": main}
        for s in sorted(set(ra) & set(rb), key=lambda x: (x is None, x)):
            rec_a, rec_b = ra[s], rb[s]
            row = {**base, "seed": "-" if s is None else s, "a_degenerate": rec_a.get("degenerate"),
                   "b_degenerate": rec_b.get("degenerate")}
            paths = {m: predictions_path(run_dir, rec) for m, rec in ((model_a, rec_a), (model_b, rec_b))}
            lacking = [m for m, p in paths.items() if not p]
            if lacking:
                missing.update(lacking)
                row.update({"n": rec_a.get("n_examples"), "a": rec_a["metrics"].get(main),
                            "b": rec_b["metrics"].get(main), "test": "–", "note": "no saved predictions"})
                row["delta"] = _delta(row["a"], row["b"])
            else:
                where = f"{task}/{eval_set} {condition} seed {row['seed']}"
                labels, pa, pb = _paired_examples(read_predictions(paths[model_a], rec_a),
                                                  read_predictions(paths[model_b], rec_b), where)
                row.update(per_example_test(task, main, labels, pa, pb, n_boot, seed))
            rows.append(row)
        values = {m: {s: _float(rec["metrics"].get(main)) for s, rec in by_model[m].items()} for m in (model_a, model_b)}
        rows.append({**base, "seed": "over seeds", **over_seeds(values[model_a], values[model_b]),
                     "a_degenerate": _any(ra), "b_degenerate": _any(rb)})
    adjust_holm(rows)
    notes = [f"predictions were not saved for {', '.join(sorted(missing))} (per-seed tests need them: rerun "
             f"`rbm run ... --save-predictions --force`)"] if missing else []
    return rows, notes


def adjust_holm(rows: list[dict]) -> None:
    """``p_holm``: Holm's adjustment within each family the output prints — the over-seeds tests (one per task,
    eval set and condition: the A-vs-B claims) and, apart, the per-seed tests over examples."""
    from ..stats import holm

    for family in ([r for r in rows if r["seed"] == "over seeds"], [r for r in rows if r["seed"] != "over seeds"]):
        for row, adjusted in zip(family, holm([r.get("p") for r in family])):
            row["p_holm"] = adjusted


def _float(value) -> float:
    return float("nan") if value is None else float(value)


def _delta(a, b) -> Optional[float]:
    return None if a is None or b is None else float(a) - float(b)


def _any(by_seed: dict[Optional[int], dict]) -> Optional[bool]:
    flags = [r.get("degenerate") for r in by_seed.values()]
    return True if any(flags) else (False if flags and all(f is False for f in flags) else None)


# ---------------------------------------------------------------------------- output
def _num(value, digits: int = 2, scale: float = 100.0) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "NaN" if isinstance(value, float) else "–"
    return f"{value * scale:.{digits}f}"


def render(rows: list[dict], fmt: str, model_a: str, model_b: str) -> str:
    if fmt == "json":
        return dumps([{c: row.get(c) for c in COLUMNS} for row in rows])
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c) for c in COLUMNS})
        return buf.getvalue()
    from tabulate import tabulate

    from ..stats import format_p

    suites = len({r["suite"] for r in rows}) > 1
    dagger = any(r.get("a_degenerate") or r.get("b_degenerate") for r in rows)
    table = []
    for r in rows:
        a = _num(r.get("a")) + ("†" if r.get("a_degenerate") else "")
        b = _num(r.get("b")) + ("†" if r.get("b_degenerate") else "")
        ci = f"[{_num(r['ci_low'])}, {_num(r['ci_high'])}]" if r.get("ci_low") is not None else ""
        min_p = f"{r['min_p']:.3g}" if r.get("min_p") is not None and np.isfinite(r["min_p"]) else ""
        line = ([r["suite"]] if suites else []) + [
            r["task"], r["eval_set"], r["condition"], r["seed"], r["metric"], r.get("n", ""), a, b,
            _num(r.get("delta")), r.get("test", "–"), format_p(r.get("p")), format_p(r.get("p_holm")), min_p, ci,
            r.get("note", "")]
        table.append(line)
    headers = (["suite"] if suites else []) + ["task", "eval set", "condition", "seed", "metric", "n",
                                               f"A: {model_a}", f"B: {model_b}", "Δ (A−B)", "test", "p", "p (Holm)", "min p",
                                               "95 % CI of Δ", "note"]
    text = tabulate([[markdown_cell(v) for v in line] for line in table], headers=list(map(markdown_cell, headers)),
                    tablefmt="github", disable_numparse=True)
    foot = ["", "Scores ×100. Per seed: exact McNemar on the examples both models scored (accuracies), else a paired "
                "bootstrap of the main metric over examples; over seeds: the exact paired sign-flip test "
                "(min p = the smallest p that number of seeds can give). p (Holm): Holm's family-wise adjustment "
                "across the over-seeds tests printed here, and separately across the per-seed tests; the raw p "
                "beside it. 95 % CI of Δ: per seed, the paired bootstrap's; over seeds, the t-interval of the "
                "per-seed differences (n − 1 df) — a wide interval means the run could have missed a real "
                "difference, not that there is none."]
    if dagger:
        foot.append("† degenerate model: at least 95 % of its predictions fall in one class.")
    return text + "\n" + "\n".join(foot)


def run(args) -> int:
    import sys

    run_dir = Path(args.run_dir)
    if args.n_boot < 100:
        raise RBMError(f"--n-boot {args.n_boot}: expected at least 100 resamples")
    records = load_records([run_dir])
    if args.suite:
        records = [r for r in records if r["suite"] == args.suite]
        if not records:
            raise RBMError(f"--suite {args.suite}: no results of that suite in {run_dir / RESULTS_FILE}")
    if args.tasks:
        wanted = {get_task(t).name for t in args.tasks}
        records = [r for r in records if r["task"] in wanted]
        if not records:
            raise RBMError(f"--tasks {','.join(args.tasks)}: no results for them in {run_dir / RESULTS_FILE}")
    rows, notes = compare(records, run_dir, args.a, args.b, n_boot=args.n_boot, seed=args.seed)
    for note in notes:
        print(f"rbm compare: {note}", file=sys.stderr)
    print(render(rows, args.format, args.a, args.b))
    return 0
