"""The results store at 1k / 10k / 100k records: put, full read, and `rbm table` / `compare` / `status`.

Records are the project's own (a real Table 1 record per task from results/paper-minilm, ≈ 2.2 kB),
varied over methods and seeds like a leaderboard grid (tasks × methods × seeds), with a seeded random
score. Each put goes through ``ResultStore.put`` (one synced appended line under the lock), as a job
does. The obvious alternative — the earlier rewrite-the-whole-file put — is timed in the same run on
the first ``--old-n`` records (it is quadratic: 100k would take hours). The growth exponent is the
slope of log(seconds) over log(records) between the smallest and the largest size.

    python benchmarks/store_scale.py --sizes 1000 10000 100000 --output results/store_scale
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_common import cpu_model, load_average, publish
from robustbench_match.results import ResultStore, atomic_write_text, dumps

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "results" / "paper-minilm" / "table1-glue" / "results.jsonl"
RECORDS_PER_METHOD_SEED = None  # set from the templates (one record per task)


def templates() -> list[dict]:
    """One real record per task (the first seen), detached from its predictions file."""
    out: dict[str, dict] = {}
    for line in TEMPLATES.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        out.setdefault(rec["task"], rec)
    for rec in out.values():
        rec.pop("predictions_file", None)
        rec.pop("predictions_sha256", None)
    return list(out.values())


def make_records(n: int, seeds: int = 10) -> list[dict]:
    """n records: task-major within (method, seed), seeds 1..``seeds``, methods m000, m001, …"""
    base = templates()
    rng = np.random.default_rng(0)
    out = []
    i = 0
    while len(out) < n:
        method, seed = f"m{i // seeds:03d}", i % seeds + 1
        for tpl in base:
            if len(out) == n:
                break
            rec = copy.deepcopy(tpl)
            rec["model"], rec["seed"] = method, seed
            rec["key"] = f"{rec['suite']}|{method}|{rec['task']}|{rec['condition']}|{seed}"
            # another checkpoint per (method, seed): a distinct fingerprint (else tables count it once)
            rec["fingerprint"] = {**(rec.get("fingerprint") or {}),
                                  "sha256": hashlib.sha256(rec["key"].encode()).hexdigest()}
            main = rec["main_metric"]
            rec["metrics"] = {k: float(rng.uniform(0.3, 0.9)) for k in rec["metrics"]}
            rec["metrics"][main] = float(rng.uniform(0.3, 0.9))
            out.append(rec)
        i += 1
    return out


def old_put(store: ResultStore, record: dict) -> None:
    """The store's put before issue 22: read, parse and rewrite every record under the lock."""
    with store._locked():
        records = {r["key"]: r for r in store.records()}
        records[record["key"]] = record
        atomic_write_text(store.path, "".join(dumps(r) + "\n" for r in records.values()))


def time_puts(folder: Path, records: list[dict], put) -> float:
    store = ResultStore(folder)
    start = time.perf_counter()
    for rec in records:
        put(store, rec)
    return time.perf_counter() - start


def time_command(*argv: str) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "robustbench_match.cli", *argv], capture_output=True, text=True,
                          env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"rbm {' '.join(argv)} failed: {proc.stderr.strip()[-500:]}")
    return seconds


def machine() -> dict:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "load_1min_at_start": load_average(),
            "python": sys.version.split()[0]}


def exponent(rows: list[dict], field: str) -> float:
    a, b = rows[0], rows[-1]
    return math.log(b[field] / a[field]) / math.log(b["records"] / a["records"])


def exponent_top(rows: list[dict], field: str) -> float:
    """The same between the two largest sizes (the smallest is dominated by fixed costs: start-up, first reads)."""
    return exponent(rows[-2:], field)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--old-n", type=int, default=1000, help="records put with the earlier rewrite-whole-file store")
    p.add_argument("--output", help="write OUTPUT.json and OUTPUT.md")
    args = p.parse_args(argv)
    info = machine()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old_s = time_puts(Path(tmp, "old"), make_records(args.old_n), old_put) if args.old_n else None
        new_at_old = time_puts(Path(tmp, "new-small"), make_records(args.old_n), ResultStore.put) if args.old_n else None
        for n in args.sizes:
            folder = Path(tmp, f"n{n}")
            records = make_records(n)
            row = {"records": n, "file_mb": None}
            row["put_s"] = time_puts(folder, records, ResultStore.put)
            row["file_mb"] = round((folder / "results.jsonl").stat().st_size / 1e6, 1)
            start = time.perf_counter()
            assert len(ResultStore(folder).records()) == n
            row["read_s"] = time.perf_counter() - start
            row["table_s"] = time_command("table", str(folder), "--format", "markdown", "-o", str(Path(tmp, "t.md")))
            row["compare_s"] = time_command("compare", str(folder), "--a", "m001", "--b", "m000")
            row["status_s"] = time_command("status", str(folder))
            rows.append(row)
            print(json.dumps(row), flush=True)
    fields = ("put_s", "read_s", "table_s", "compare_s", "status_s")
    growth = {f: round(exponent(rows, f), 3) for f in fields} if len(rows) > 1 else {}
    growth_top = {f: round(exponent_top(rows, f), 3) for f in fields} if len(rows) > 2 else {}
    result = {"machine": info, "rows": rows, "growth_exponent": growth, "growth_exponent_top": growth_top,
              "old_store": {"records": args.old_n, "put_s": old_s, "new_put_s_same_records": new_at_old}}
    publish(result, render(result), args.output)


def render(result: dict) -> str:
    m = result["machine"]
    lines = ["# Results store at scale (`benchmarks/store_scale.py`)", "",
             f"Machine: {m['cpu']}, {m['cores']} cores; 1-minute load average at start {m['load_1min_at_start']}; "
             f"Python {m['python']}. Records: real Table 1 records (≈ 2.2 kB each) varied over methods × seeds × tasks.",
             "", "| records | file MB | puts s | puts/s | full read s | rbm table s | rbm compare s | rbm status s |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['records']:,} | {r['file_mb']} | {r['put_s']:.2f} | {r['records'] / r['put_s']:,.0f} | "
                     f"{r['read_s']:.2f} | {r['table_s']:.2f} | {r['compare_s']:.2f} | {r['status_s']:.2f} |")
    g = result["growth_exponent"]
    if g:
        lines += ["", "Growth exponent (slope of log s over log records, smallest to largest size): "
                  + ", ".join(f"{k.removesuffix('_s')} {v:.2f}" for k, v in g.items()) + "."]
    top = result.get("growth_exponent_top") or {}
    if top:
        lines += ["Between the two largest sizes: " + ", ".join(f"{k.removesuffix('_s')} {v:.2f}" for k, v in top.items())
                  + " (the smallest size is dominated by fixed costs: starting Python, first reads)."]
    old = result["old_store"]
    if old["put_s"]:
        lines += ["", f"The earlier rewrite-the-whole-file put, same run, first {old['records']:,} records: "
                  f"{old['put_s']:.1f} s vs {old['new_put_s_same_records']:.2f} s appended "
                  f"({old['put_s'] / old['new_put_s_same_records']:.0f}× faster now)."]
    lines += ["", "Goals (issue 22): growth exponent ≤ 1.1, 100k puts < 60 s, `rbm table` on 100k records < 10 s. "
              "Command times include starting Python and importing the package (≈ 1 s)."]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--render"]:  # re-render OUTPUT.md from OUTPUT.json (no measuring)
        data = json.loads(Path(sys.argv[2] + ".json").read_text())
        data["growth_exponent_top"] = {f: round(exponent_top(data["rows"], f), 3) for f in data["growth_exponent"]}
        Path(sys.argv[2] + ".json").write_text(json.dumps(data, indent=1))
        Path(sys.argv[2] + ".md").write_text(render(data) + "\n")
    else:
        main()
