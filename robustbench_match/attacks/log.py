"""The per-example attack log: a CSV that is the source of truth for a cell's attack metrics.

Crash safety: every row is appended, flushed and fsync'ed as soon as its example is attacked; a row
torn by a kill mid-write is dropped on the next open, so a restarted run resumes at the first
example without a complete row and never loses a finished one.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Mapping, Sequence


class AttackLog:
    """Append-only CSV with a fixed header (``fields``)."""

    def __init__(self, path: str | os.PathLike, fields: Sequence[str]) -> None:
        self.path = Path(path)
        self.fields = tuple(fields)

    def rows(self) -> list[dict]:
        """Complete rows on disk; a torn last row (or a file with another header) is repaired away."""
        if not self.path.is_file():
            return []
        raw = self.path.read_text(encoding="utf-8")
        complete = raw if raw.endswith("\n") else raw[: raw.rfind("\n") + 1]
        reader = csv.DictReader(io.StringIO(complete, newline=""))
        if tuple(reader.fieldnames or ()) != self.fields:
            self._rewrite([])
            return []
        rows = [r for r in reader if None not in r and all(v is not None for v in r.values())]
        if complete != raw:
            self._rewrite(rows)
        return rows

    def append(self, row: Mapping) -> None:
        """Write one row durably (header first if the file is new)."""
        new = not self.path.is_file() or self.path.stat().st_size == 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.fields, lineterminator="\n")
            if new:
                writer.writeheader()
            writer.writerow({k: row[k] for k in self.fields})
            f.flush()
            os.fsync(f.fileno())

    def reset(self) -> None:
        self._rewrite([])

    def _rewrite(self, rows: list[dict]) -> None:
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
