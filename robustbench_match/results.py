"""The results store: one JSON record per cell in ``DIR/results.jsonl``, never lost, never duplicated.

Why a rewrite-and-rename instead of appending: every write produces a complete file via
``os.replace`` (atomic on POSIX), so a process killed at any instant leaves either the old or the
new file, never a torn line; a lock file serialises concurrent writers. Reruns skip stored cells.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from . import __version__
from .errors import RBMError

# 2: records carry the degenerate-model guard (``degenerate``, ``details.prediction_share``,
#    ``details.majority_score``), a direction for every metric, and exact per-group CIs (mnli-negation)
SCHEMA_VERSION = 2
RESULTS_FILE = "results.jsonl"
#: fields every stored record has (a line without them is not ours: refused by name, never half-used)
RECORD_FIELDS = ("key", "suite", "model", "task", "eval_set", "condition", "metrics", "main_metric")


def _file_mode(path: Path) -> int:
    """The mode a rewritten file keeps: the old file's, else what the umask gives a new file (mkstemp's
    temporary is always 0600, which would make shared results private)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write a whole file so that readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _file_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj) -> str:
    return json.dumps(obj, default=_json_default, ensure_ascii=False, allow_nan=True)


class ResultStore:
    """``DIR/results.jsonl`` keyed by cell key; later records for a key replace earlier ones."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.dir = Path(directory)
        self.path = self.dir / RESULTS_FILE

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".results.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def records(self) -> list[dict]:
        if not self.path.is_file():
            return []
        out: dict[str, dict] = {}
        for lineno, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RBMError(f"{self.path}: line {lineno} is not a JSON record ({exc.msg})") from None
            if not isinstance(rec, dict) or "key" not in rec:
                raise RBMError(f"{self.path}: line {lineno} has no 'key' field (not a robustbench-match result)")
            missing = [f for f in RECORD_FIELDS if f not in rec]
            if missing or not isinstance(rec["key"], str) or not isinstance(rec.get("metrics"), dict):
                what = f"no {', '.join(map(repr, missing))} field(s)" if missing else "a malformed 'key' or 'metrics'"
                raise RBMError(f"{self.path}: line {lineno} has {what} (not a robustbench-match result; remove "
                               f"the line or use another --output)")
            out[rec["key"]] = rec
        return list(out.values())

    def check_writable(self) -> None:
        """Fail before any cell runs (not after an hour of evaluation) if results cannot be stored here."""
        if self.dir.exists() and not self.dir.is_dir():
            raise RBMError(f"--output {self.dir}: is a file, not a folder (expected a result folder)")
        if self.path.exists() and not self.path.is_file():
            raise RBMError(f"--output {self.dir}: {RESULTS_FILE} is a folder, not a results file")
        existing = self.dir  # probe the folder, or the nearest one that exists (nothing is created here)
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise RBMError(f"--output {self.dir}: {existing} is a file, not a folder")
        try:
            fd, probe = tempfile.mkstemp(dir=existing, prefix=".rbm-write-test.")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise RBMError(f"--output {self.dir}: cannot write results here ({exc.strerror or exc})") from None

    def keys(self) -> set[str]:
        return {r["key"] for r in self.records()}

    def put(self, record: dict) -> None:
        """Add or replace one record, atomically."""
        with self._locked():
            records = {r["key"]: r for r in self.records()}
            records[record["key"]] = record
            atomic_write_text(self.path, "".join(dumps(r) + "\n" for r in records.values()))

    def save_predictions(self, slug: str, ids: np.ndarray, predictions: np.ndarray, labels: Optional[np.ndarray]) -> Path:
        """Per-example predictions with their dataset index, written before the cell's record."""
        path = self.dir / "predictions" / f"{slug}.jsonl"
        rows = []
        for i, (idx, pred) in enumerate(zip(ids, predictions)):
            row = {"idx": int(idx), "prediction": pred.item() if hasattr(pred, "item") else pred}
            if labels is not None:
                row["label"] = labels[i].item()
            rows.append(dumps(row))
        atomic_write_text(path, "\n".join(rows) + "\n")
        return path


def load_records(paths: list[str | os.PathLike]) -> list[dict]:
    """Records from result folders or ``results.jsonl`` files (for tables and plots)."""
    out: list[dict] = []
    for p in map(Path, paths):
        store = ResultStore(p.parent if p.is_file() else p)
        if not store.path.is_file():
            raise RBMError(f"{p}: no {RESULTS_FILE} here (expected the --output folder of `rbm run`)")
        out.extend(store.records())
    return out


def versions() -> dict[str, str]:
    """Versions that change numbers: recorded in every result."""
    import importlib.metadata as md

    out = {"robustbench_match": __version__, "python": platform.python_version()}
    for pkg in ("torch", "transformers", "datasets", "scikit-learn", "scipy", "numpy", "textattack"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


def git_revision() -> Optional[str]:
    try:
        here = Path(__file__).resolve().parent
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                              timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
