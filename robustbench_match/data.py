"""Task data: one loader for the Hugging Face hub and for local ``glue_data``-style folders.

Resolution order for local data: ``--data-dir`` > ``$RBM_DATA_DIR`` > the hub (``nyu-mll/glue``),
which is the code path real users run. A task is found at ``ROOT/<TASK>/`` or ``ROOT/glue/<TASK>/``,
so one ``--data-dir`` can also hold other suites' data (``ROOT/advglue/dev.json``).
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .errors import DataError
from .tasks import TaskSpec, get_task

log = logging.getLogger(__name__)

HUB_GLUE = "nyu-mll/glue"
DATA_DIR_ENV = "RBM_DATA_DIR"


@dataclass
class Examples:
    """A labelled split in dataset order. ``idx`` is each row's position in the source split."""

    task: TaskSpec
    split: str
    texts: dict[str, list[str]]
    labels: np.ndarray
    idx: np.ndarray
    source: str
    extra: dict[str, list] = field(default_factory=dict)  # e.g. group ids, perturbation flags
    #: a ``--limit`` sample of a larger split: {"of": its size, "positions": rows kept} (see sample_eval)
    sample: Optional[dict] = None

    def __post_init__(self) -> None:
        lengths = {len(v) for v in self.texts.values()} | {len(self.labels), len(self.idx)}
        if len(lengths) != 1:
            raise ValueError(f"inconsistent column lengths in {self.source}: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def text_a(self) -> list[str]:
        return self.texts[self.task.text_keys[0]]

    @property
    def text_b(self) -> Optional[list[str]]:
        return self.texts[self.task.text_keys[1]] if self.task.is_pair else None

    def subset(self, positions: Sequence[int] | np.ndarray) -> "Examples":
        pos = np.asarray(positions, dtype=np.int64)
        return Examples(
            self.task, self.split,
            {k: [v[i] for i in pos] for k, v in self.texts.items()},
            self.labels[pos], self.idx[pos], self.source,
            {k: [v[i] for i in pos] for k, v in self.extra.items()},
        )

    def with_labels(self, labels: np.ndarray, source: str) -> "Examples":
        return Examples(self.task, self.split, self.texts, np.asarray(labels, dtype=self.labels.dtype),
                        self.idx, source, self.extra)

    def rows(self) -> list[dict]:
        keys = self.task.text_keys
        return [{**{k: self.texts[k][i] for k in keys}, "label": self.labels[i].item(), "idx": int(self.idx[i])}
                for i in range(len(self))]

    @property
    def sha256(self) -> str:
        """Hash of the content (texts, labels, order), independent of where it was read from."""
        h = hashlib.sha256()
        for row in self.rows():
            h.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (manifests, checkpoint fingerprints)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Optional[Path]:
    """``--data-dir`` if given, else ``$RBM_DATA_DIR``, else None (meaning: the hub)."""
    chosen = data_dir if data_dir not in (None, "") else os.environ.get(DATA_DIR_ENV) or None
    if chosen is None:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"data dir {path}: not a folder (expected a glue_data-style root, e.g. ../shared/data)")
    return path


def find_in_data_dir(root: Path, *names: str) -> Optional[Path]:
    """First of ``ROOT/<name>`` or ``ROOT/glue/<name>`` that exists, names matched case-insensitively."""
    for base in (root, root / "glue"):
        if not base.is_dir():
            continue
        by_lower = {p.name.lower(): p for p in base.iterdir()}
        for name in names:
            if name.lower() in by_lower:
                return by_lower[name.lower()]
    return None


def load_split(task: str | TaskSpec, split: str, data_dir: str | os.PathLike | None = None) -> Examples:
    """Load one labelled split of a task: its own data files (a user task), else the glue_data folder when a
    data dir is configured (GLUE), else the hub (``dataset_path``/``dataset_name``/``revision``)."""
    spec = get_task(task) if isinstance(task, str) else task
    known = sorted(set(spec.splits()) | (set(spec.split_files) if spec.layout else set()) | set(spec.data_files or ()))
    if split not in known:
        raise DataError(f"task {spec.name}: unknown split {split!r} (expected one of {known})")
    if spec.data_files is not None:
        if split not in spec.data_files:
            raise DataError(f"task {spec.name} ({spec.source}): data_files has no {split!r} split")
        return _load_files(spec, split)
    root = resolve_data_dir(data_dir) if spec.layout is not None else None
    if root is None:
        return _load_hub(spec, split)
    task_dir = find_in_data_dir(root, spec.glue_dir, spec.name)
    if task_dir is None:
        raise DataError(f"{root}: no folder for task {spec.name} (expected {root}/{spec.glue_dir}/ "
                        f"or {root}/glue/{spec.glue_dir}/)")
    return _load_local(spec, split, task_dir)


def load_train(task: str | TaskSpec, data_dir: str | os.PathLike | None = None) -> Examples:
    """The split a task trains on (``train_split``; ``train`` for GLUE)."""
    spec = get_task(task) if isinstance(task, str) else task
    return load_split(spec, spec.train_split, data_dir)


@contextlib.contextmanager
def hub_progress(what: str):
    """A hub download can take minutes: say so, and show datasets' own download bars while it runs (they are
    off for local files, where one bar per file read is noise)."""
    import datasets

    log.info("loading %s from the Hugging Face hub (cached after the first download)", what)
    datasets.enable_progress_bars()
    try:
        yield
    finally:
        datasets.disable_progress_bars()


def _load_hub(spec: TaskSpec, split: str) -> Examples:
    import datasets  # heavy; only on this path

    path, name = spec.dataset_path or HUB_GLUE, spec.dataset_name
    where = f"hub dataset {path}{'/' + name if name else ''}"
    try:
        with hub_progress(f"{where} split {split}"):
            ds = datasets.load_dataset(path, name, revision=spec.revision, split=split)
    except Exception as exc:  # offline, hub down, renamed dataset: all end the same for the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ("pass --data-dir with a glue_data-style folder to work offline" if spec.layout is not None
                else f"give data_files in {spec.source} to work offline")
        raise DataError(f"{where} split {split}: could not load ({first}); {hint}") from None
    return _from_hf_dataset(spec, split, ds, f"hub:{path}{'/' + name if name else ''}/{split}"
                            + (f"@{spec.revision}" if spec.revision else ""))


_FILE_CACHE: dict[tuple, object] = {}


def _csv_kwargs(spec: TaskSpec, files: Sequence[str]) -> dict:
    """pandas options for a task's CSV/TSV files: tab-separated ``.tsv``, and no NA guessing — a sentence that
    reads ``NA``, ``null``, ``None`` or ``nan`` is a sentence (an empty field stays empty, and is refused)."""
    if spec.dataset_path != "csv":
        return {}
    tsv = {"delimiter": "\t"} if all(f.endswith(".tsv") for f in files) else {}
    return {**tsv, "keep_default_na": False, "na_values": []}


def _no_rows(spec: TaskSpec, files: Sequence[str]) -> Optional[str]:
    """Why a task's files hold no data rows (an empty file, a header and nothing below), else None."""
    for f in files:
        try:
            lines = [line for line in Path(f).read_text(encoding="utf-8-sig", errors="replace").splitlines()
                     if line.strip()]
        except OSError:
            continue
        if not lines:
            return f"{f}: empty file (expected a header line and data rows) (task {spec.name}, {spec.source})"
        if spec.dataset_path == "csv" and len(lines) == 1:
            return f"{f}: only a header line, no data rows (task {spec.name}, {spec.source})"
    return None


def _load_files(spec: TaskSpec, split: str) -> Examples:
    """A user task's split from its own files, read by ``datasets.load_dataset(dataset_path, data_files=...)``."""
    import datasets

    files = spec.data_files[split]
    key = (spec.dataset_path, files, tuple(os.stat(f).st_mtime_ns for f in files))
    if key not in _FILE_CACHE:
        datasets.disable_progress_bars()  # one "Generating split" bar per file read is noise in a run's log
        empty = _no_rows(spec, files)
        if empty:
            raise DataError(empty)
        try:
            _FILE_CACHE[key] = datasets.load_dataset(spec.dataset_path, data_files={split: list(files)}, split=split,
                                                     **_csv_kwargs(spec, files))
        except Exception as exc:  # noqa: BLE001 - pyarrow, pandas and datasets raise their own types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"{files[0]}: cannot read as {spec.dataset_path} ({first[:200]}) (task {spec.name}, "
                            f"{spec.source})") from None
    if len(_FILE_CACHE[key]) == 0:
        raise DataError(f"{files[0]}: no data rows (task {spec.name}, {spec.source})")
    return _from_hf_dataset(spec, split, _FILE_CACHE[key], files[0] if len(files) == 1 else f"{files[0]} (+{len(files) - 1})",
                            FileRows(spec, files).where)


@dataclass
class FileRows:
    """Where data row ``i`` of a task's files stands, as its user sees it: ``FILE: line N`` (the line the
    row starts on, counted as an editor does: the header is line 1; a quoted field spanning lines
    counts them all), ``FILE: record N`` for JSON and parquet. Computed only for a message."""

    spec: TaskSpec
    files: Sequence[str]

    def _starts(self, path: str) -> list[int]:
        """The line each data row of one file starts on."""
        text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
        if self.spec.dataset_path == "csv":
            reader = csv.reader(text.splitlines(keepends=True), delimiter="\t" if path.endswith(".tsv") else ",")
            starts, previous = [], 0
            for row in reader:
                if any(cell.strip() for cell in row):  # pandas skips blank lines
                    starts.append(previous + 1)
                previous = reader.line_num
            return starts[1:]  # the header is not a data row
        if self.spec.dataset_path == "json" and not text.lstrip().startswith("["):
            return [n for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        return []

    def where(self, i: int) -> str:
        offset = i
        for path in self.files:
            try:
                starts = self._starts(path)
            except OSError:
                starts = []
            if not starts:
                return f"{path if len(self.files) == 1 else self.files[0]}: record {i + 1}"
            if offset < len(starts):
                return f"{path}: line {starts[offset]}"
            offset -= len(starts)
        return f"{self.files[0]}: record {i + 1}"


def _from_hf_dataset(spec: TaskSpec, split: str, ds, source: str, where=None) -> Examples:
    """Examples from a ``datasets.Dataset``: the task's text fields, its label field (ids, or names in
    ``label_names``' order), ``idx`` when the data has it, and the group field in ``extra``. ``where(i)``
    names row ``i`` in a message (a file's line; the dataset's row number for the hub)."""
    where = where or (lambda i: f"{source}: row {i}")
    wanted = [*spec.text_keys, spec.label_field] + ([spec.group_field] if spec.group_field else [])
    missing = [c for c in wanted if c not in ds.column_names]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing} (task {spec.name} expects {wanted}; has "
                        f"{ds.column_names})")
    texts = {}
    for key in spec.text_keys:
        column = ds[key]
        bad = next((i for i, v in enumerate(column) if not isinstance(v, str) or not v.strip()), None)
        if bad is not None:
            raise DataError(f"{where(bad)}: {key} is {column[bad]!r} (expected text; an empty field?)")
        texts[key] = list(column)
    labels = _labels_from_column(spec, list(ds[spec.label_field]), where)
    idx = np.asarray(ds["idx"], dtype=np.int64) if "idx" in ds.column_names else np.arange(len(labels))
    extra = {}
    if spec.group_field:
        groups = list(ds[spec.group_field])
        bad = next((i for i, g in enumerate(groups) if g is None or not str(g).strip()), None)
        if bad is not None:
            raise DataError(f"{where(bad)}: {spec.group_field} is empty (every row needs a group)")
        extra["group"] = [str(g) for g in groups]
    return Examples(spec, split, texts, labels, idx, source, extra)


def _labels_from_column(spec: TaskSpec, values: list, where) -> np.ndarray:
    """Label ids (or scores) from a column of ids, names or numbers; anything else is one line."""
    if spec.is_regression:
        try:
            labels = np.asarray([float(v) for v in values], dtype=np.float32)
        except (TypeError, ValueError):
            bad = next(i for i, v in enumerate(values) if not _is_number(v))
            raise DataError(f"{where(bad)}: {spec.label_field} {values[bad]!r} is not a number") from None
        _check_label_range(spec, labels, where)
        return labels
    return spec.label_ids(values, lambda i, v: DataError(
        f"{where(i)}: {spec.label_field} {v!r} is not a label of task {spec.name} (expected {spec.expected_labels()}; "
        f"an unlabelled test split cannot be scored)"))


def _is_number(value) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _load_local(spec: TaskSpec, split: str, task_dir: Path) -> Examples:
    stem = spec.split_files[split]
    tsv = task_dir / f"{stem}.tsv"
    if tsv.is_file():
        return _read_tsv(spec, split, tsv)
    for saved in (task_dir / f"{stem}_hf", task_dir / split):
        if (saved / "dataset_info.json").is_file() or (saved / "state.json").is_file():
            import datasets

            try:
                ds = datasets.load_from_disk(str(saved))
            except Exception as exc:
                raise DataError(f"{saved}: not a readable datasets.save_to_disk folder ({exc})") from None
            return _from_hf_dataset(spec, split, ds, str(saved))
    raise DataError(f"{task_dir}: no {split} data (expected {stem}.tsv or a save_to_disk folder {stem}_hf/)")


def _read_tsv(spec: TaskSpec, split: str, path: Path) -> Examples:
    """Read a glue_data TSV: tab-separated, no quoting (fields may start with a quote), BOM tolerated."""
    import pandas as pd

    layout = spec.layout
    try:
        frame = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, header=0 if layout.header else None,
                            dtype=str, keep_default_na=False, encoding="utf-8-sig", on_bad_lines="error",
                            engine="c")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file (expected a glue_data TSV with rows)") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: malformed TSV ({str(exc).strip()})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if len(frame) == 0:
        raise DataError(f"{path}: no rows{' below the header' if layout.header else ''} (expected a glue_data TSV "
                        f"with examples)")
    columns = {}
    for key, col in layout.columns.items():
        if isinstance(col, int):
            if col >= frame.shape[1]:
                raise DataError(f"{path}: has {frame.shape[1]} columns, expected at least {col + 1} ({key} in column {col + 1})")
            columns[key] = frame.iloc[:, col].tolist()
        elif col in frame.columns:
            columns[key] = frame[col].tolist()
        else:
            raise DataError(f"{path}: no column {col!r} for field {key!r} (header: {list(frame.columns)})")
    labels = _parse_labels(spec, columns.pop("label"), path, first_row=2 if layout.header else 1)
    return Examples(spec, split, {k: columns[k] for k in spec.text_keys}, labels,
                    np.arange(len(labels), dtype=np.int64), str(path))


def _parse_labels(spec: TaskSpec, raw: list[str], path: Path, first_row: int) -> np.ndarray:
    form = spec.layout.label_form
    names = spec.label_names or ()
    out = np.empty(len(raw), dtype=np.float32 if form == "float" else np.int64)
    for i, value in enumerate(raw):
        value = value.strip()
        try:
            if form == "name":
                out[i] = names.index(value)
            elif form == "float":
                out[i] = float(value)
            else:
                out[i] = int(value)
        except ValueError:
            expected = f"one of {list(names)}" if form == "name" else ("a number" if form == "float" else "an integer label id")
            raise DataError(f"{path}: line {first_row + i}: label {value!r} is not {expected}") from None
    _check_label_range(spec, out, lambda i: f"{path}: line {first_row + i}")
    return out


def _check_label_range(spec: TaskSpec, labels: np.ndarray, where) -> None:
    """Scores inside the task's range (finite), label ids inside 0..n-1; ``where(i)`` names row ``i``."""
    if spec.is_regression:
        low, high = spec.label_range or (-np.inf, np.inf)
        bad = np.flatnonzero(~np.isfinite(labels) | (labels < low) | (labels > high))
        expected = f"a score in [{low:g}, {high:g}]" if spec.label_range else "a finite score"
    else:
        bad = np.flatnonzero((labels < 0) | (labels >= spec.num_labels))
        expected = f"a label id in 0..{spec.num_labels - 1} ({', '.join(spec.label_names or ())})"
    if len(bad):
        raise DataError(f"{where(bad[0])}: label {labels[bad[0]].item()!r} is not {expected}"
                        f" ({len(bad)} such rows; unlabelled test splits cannot be scored)")


def training_pool(examples: Examples, max_examples: int | None, seed: int = 0) -> Examples:
    """The rows a small-scale run trains on: a seeded uniform sample of ``max_examples`` rows, kept in
    dataset order, drawn *before* any perturbation — so the trained set still has exactly round(r·N)
    flipped labels (or kept label-1 rows) for its own N. ``None`` (or N ≥ len) keeps every row.

    Why not the trainer's own first-N truncation: glue files are often sorted (CoLA by source), and
    truncating after perturbation would break the exact counts the protocol promises.
    """
    if max_examples is None or max_examples >= len(examples):
        return examples
    rng = np.random.default_rng([int(seed), zlib.crc32(f"pool/{examples.task.rng_key}".encode())])
    pool = examples.subset(np.sort(rng.choice(len(examples), size=int(max_examples), replace=False)))
    pool.source = f"{examples.source} [sample {max_examples} seed={seed}]"
    return pool


def sample_eval(examples: Examples, limit: Optional[int], seed: int = 0) -> Examples:
    """A seeded sample of ``limit`` rows of an eval split, kept in dataset order (``rbm run --limit N``: quick
    checks, as lm-evaluation-harness' ``--limit``). The source says so, so a record never passes for a full
    score; predictions files are read at the same positions."""
    if not limit or limit >= len(examples):
        return examples
    rng = np.random.default_rng([int(seed), zlib.crc32(f"limit/{examples.task.rng_key}/{examples.split}".encode())])
    positions = np.sort(rng.choice(len(examples), size=int(limit), replace=False))
    out = examples.subset(positions)
    out.source = f"{examples.source} [limit {limit} of {len(examples)} seed={seed}]"
    out.sample = {"of": len(examples), "positions": positions}
    return out
