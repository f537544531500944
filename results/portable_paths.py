"""Rewrite the committed results so that no file names a path of the machine that made it (issue 35).

    python results/portable_paths.py            # rewrite in place; prints what changed
    python results/portable_paths.py --check    # exit 1 if any committed results file holds an absolute path

Records (``results.jsonl``) get :func:`robustbench_match.results.portable_record` — paths relative to their run
folder, the built-in task files inside the package, the packaged MiniLM as its package — and a
``predictions_sha256`` where a record had none. Every other JSON file under ``results/`` (attack metadata,
budget checks, benchmarks) gets the same rule for each string that is an absolute path, relative to the run
folder it sits in (or its own folder). Rewrites are atomic and keep the line order; records' numbers are
untouched (``paper-minilm/rescore.py`` re-scores every record from its predictions after the rewrite).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

from robustbench_match.results import (RESULTS_FILE, atomic_write_text, dumps, portable_path, portable_record,
                                       predictions_path)

HERE = Path(__file__).resolve().parent
#: what the standing check looks for: a JSON string that starts with an absolute path of two or more parts
ABSOLUTE = re.compile(r'"/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/')
#: files that are not results: a report's record copies (re-rendered from the records), and the ignored
#: working files of a run (checkpoints, job specs that must keep absolute paths to run on any node)
SCRATCH = re.compile(r"/(report|checkpoints|jobs|published)/")


def run_folder(path: Path) -> Path:
    """The run folder a file belongs to: the nearest folder above it with a results.jsonl, else its own."""
    return next((folder for folder in path.parents if (folder / RESULTS_FILE).is_file()), path.parent)


def portable_value(value, base: Path):
    if isinstance(value, dict):
        return {k: portable_value(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [portable_value(v, base) for v in value]
    if isinstance(value, str) and os.path.isabs(value.partition("#")[0]) and "/" in value[1:]:
        return portable_path(value, base)
    return value


def rewrite_store(path: Path) -> int:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out, changed = [], 0
    for line in lines:
        record = json.loads(line)
        new = portable_record(record, path.parent)
        if new.get("predictions_file") and not new.get("predictions_sha256"):
            found = predictions_path(path.parent, new)
            if found is not None and found.is_file():
                new["predictions_sha256"] = hashlib.sha256(found.read_bytes()).hexdigest()
        changed += new != record
        out.append(dumps(new))
    if changed:
        atomic_write_text(path, "".join(x + "\n" for x in out))
    return changed


def rewrite_json(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    if not ABSOLUTE.search(text):
        return False
    data = json.loads(text)
    new = portable_value(data, run_folder(path))
    if new == data:
        return False
    atomic_write_text(path, json.dumps(new, indent=1 if "\n" in text.strip() else None, ensure_ascii=False) + "\n")
    return True


def offenders() -> list[Path]:
    return sorted(p for p in HERE.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".md", ".csv", ".tex")
                  and not re.search(r"/(checkpoints|jobs|published)/", p.as_posix())
                  and ABSOLUTE.search(p.read_text(encoding="utf-8", errors="replace")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only list the files that still hold absolute paths")
    args = ap.parse_args()
    if not args.check:
        for store in sorted(HERE.rglob(RESULTS_FILE)):
            n = rewrite_store(store)
            if n:
                print(f"{store.relative_to(HERE)}: {n} record(s) made portable")
        for path in sorted(HERE.rglob("*.json")):
            if not SCRATCH.search(path.as_posix()) and rewrite_json(path):
                print(f"{path.relative_to(HERE)}: made portable")
    left = offenders()
    for path in left:
        print(f"still absolute: {path.relative_to(HERE)}", file=sys.stderr)
    return 1 if args.check and left else 0


if __name__ == "__main__":
    sys.exit(main())
