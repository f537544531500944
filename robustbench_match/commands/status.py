"""`rbm status RUN_DIR`: which cells of a run are done, running, failed or pending, with job ids and logs.

Read from the run folder alone (``results.jsonl``, ``jobs/state/*.json``, ``jobs/plan.json``), so it
works from any machine that sees the folder, while the run is going on or after it ended.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..inputs import printable

HELP = "show done / running / failed cells of a run folder, with job ids and log paths"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the --output folder of `rbm run`")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


def _planned_keys(plan: Path) -> list[str]:
    """Cell keys of the latest plan; [] when there is none or it is not ours (it is only a progress note)."""
    try:
        cells = json.loads(plan.read_text(encoding="utf-8")).get("cells", [])
        return [c["key"] for c in cells if isinstance(c, dict) and isinstance(c.get("key"), str)]
    except (OSError, ValueError, AttributeError, TypeError):
        return []


def collect(run_dir: Path) -> list[dict]:
    """One row per cell: key, state, executor, job id, host, log, error."""
    from ..executors.base import jobs_dir, read_state_file, this_host
    from ..results import ResultStore

    rows: dict[str, dict] = {}
    for key in _planned_keys(jobs_dir(run_dir) / "plan.json"):
        rows[key] = {"key": key, "state": "pending"}
    for path in sorted((jobs_dir(run_dir) / "state").glob("*.json")):
        st = read_state_file(path)
        if not st:
            continue
        state = st.get("state", "?")
        if state == "running" and st.get("host") == this_host() and st.get("pid") and not _alive(st["pid"]):
            state = "stopped"  # its process is gone without saying how it ended
        failed = set(st.get("failed") or [])
        for key in st.get("cells", []):
            cell_state = state
            if state in ("done", "failed"):
                cell_state = "failed" if key in failed or (state == "failed" and not failed) else "done"
            rows[key] = {"key": key, "state": cell_state, "executor": st.get("executor"), "job": st.get("job"),
                         "job_id": st.get("job_id"), "host": st.get("host"), "log": st.get("log"),
                         "error": st.get("error") if cell_state in ("failed", "stopped") else None}
    for rec in ResultStore(run_dir).records():
        ex = rec.get("executor") or {}
        row = rows.get(rec["key"], {"key": rec["key"]})
        if row.get("state") not in ("running", "submitted"):  # a redo in flight shows as running
            row.update(state="done", error=None)
        row.setdefault("executor", ex.get("kind"))
        if row.get("state") == "done":
            row.update(executor=ex.get("kind") or row.get("executor"), job_id=ex.get("job_id") or row.get("job_id"),
                       host=ex.get("host") or row.get("host"))
        rows[rec["key"]] = row
    return sorted(rows.values(), key=lambda r: r["key"])


def run(args) -> int:
    from ..errors import RBMError

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise RBMError(f"{run_dir}: not a folder (expected the --output folder of `rbm run`)")
    rows = collect(run_dir)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print(f"{run_dir}: no cells yet (no results.jsonl, no jobs)")
        return 0
    width = max(len(printable(r["key"])) for r in rows)
    for r in rows:
        where = ""
        if r.get("job_id"):
            where = f"  {r.get('executor') or ''} job {r['job_id']}" + (f" on {r['host']}" if r.get("host") else "")
        log = f"  log {r['log']}" if r.get("log") and r["state"] != "done" else ""
        error = f"  error: {r['error']}" if r.get("error") else ""
        print(printable(f"{r['state']:<9} {r['key']:<{width}}{where}{log}{error}"))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    order = ["done", "running", "submitted", "pending", "failed", "stopped"]
    print(", ".join(f"{counts[s]} {s}" for s in order + sorted(set(counts) - set(order)) if counts.get(s)))
    return 0
