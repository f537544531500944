"""Tasks are YAML files: the package's own (``robustbench_match/tasks/*.yaml``: the nine GLUE tasks) plus
those on ``--include-path DIR`` / ``$RBM_INCLUDE_PATH``, as lm-evaluation-harness does, except that a task file
never replaces another task (see :func:`register`). One mechanism, one registry: a user's CSV, JSON(L) or
parquet task and GLUE are the same kind of object, so every evaluator that fits a task runs on it.

Keys (typed and checked at load; an unknown key, a wrong type or a missing file is one line naming the file
and the key)::

    task: my-sst2                   # name on the command line, in records and tables
    display: My SST-2               # column header (default: the name)
    dataset_path: csv               # anything datasets.load_dataset takes: a hub id, or csv/json/parquet
    dataset_name: null              # hub config
    revision: null                  # hub revision (recorded)
    data_files: {train: train.csv, validation: dev.csv}   # relative to this file
    text_fields: [sentence]         # one field, or two (a sentence pair)
    label_field: label
    label_names: [negative, positive]   # ids in this order; the file may hold ids or names; null: regression
    eval_splits: {my-sst2: validation}  # eval-set name -> split (several allowed, as MNLI m/mm)
    metrics: [accuracy]             # from the metric registry; the first is the main metric
    group_field: null               # worst-group accuracy over this column's values (groups suite)
    expectations: {negate: {expect: confidence-not-up}}   # what a directional perturbation must do (perturbation suite)
    train_split: train              # the split training-time suites train on
    seed_key: null                  # name keying the seeded samples/perturbations (default: the task name)
    glue_data: {...}                # optional: how a classic glue_data folder stores it (for --data-dir)

Label names and ids of the GLUE tasks follow the Hugging Face ``glue`` dataset, so a checkpoint's
``id2label`` is checked (and remapped) against them by name.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import yaml

from ..errors import RBMError
from ..registry import Registry

BUILTIN_TASKS_DIR = Path(__file__).resolve().parent
INCLUDE_ENV = "RBM_INCLUDE_PATH"
#: formats datasets.load_dataset reads from local files, by file suffix (used when dataset_path is omitted)
_SUFFIX_FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}")
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class LocalLayout:
    """How the classic ``glue_data/<TASK>/`` folder stores a task (header, columns, label form)."""

    header: bool = True
    # field (text field or "label") -> TSV header name, or column index when there is no header
    columns: dict[str, str | int] = field(default_factory=dict)
    label_form: str = "int"  # "int" (label ids), "name" (label names), or "float" (regression)


@dataclass(frozen=True)
class TaskSpec:
    """One task, as its YAML file defines it. ``eval_sets`` maps the names used in results and tables to
    dataset splits."""

    name: str
    display: str
    glue_dir: str  # folder name in the classic glue_data layout (the task name when it has none)
    text_keys: tuple[str, ...]
    label_names: Optional[tuple[str, ...]]  # None for regression
    metrics: tuple[str, ...]
    main_metric: str
    layout: Optional[LocalLayout]  # None: no glue_data layout (data comes from data_files or the hub)
    split_files: dict[str, str] = field(default_factory=lambda: {"train": "train", "validation": "dev"})
    eval_sets: dict[str, str] = field(default_factory=dict)
    dataset_path: Optional[str] = None
    dataset_name: Optional[str] = None
    revision: Optional[str] = None
    data_files: Optional[dict[str, tuple[str, ...]]] = None  # split -> absolute paths
    label_field: str = "label"
    label_range: Optional[tuple[float, float]] = None  # regression: the valid score range
    group_field: Optional[str] = None
    train_split: str = "train"
    seed_key: Optional[str] = None
    aliases: tuple[str, ...] = ()
    source: Optional[str] = None  # the YAML file
    sha256: Optional[str] = None  # of the YAML file's bytes (part of every cell's fingerprint)
    #: directional tests: family -> expectations.Expectation (the ``expectations`` key; built-in tasks: see
    #: tasks/expectations.yaml, kept apart so that their files and fingerprints stay as they were)
    expectations: dict = field(default_factory=dict)

    @property
    def is_regression(self) -> bool:
        return self.label_names is None

    @property
    def num_labels(self) -> int:
        return 1 if self.label_names is None else len(self.label_names)

    @property
    def is_pair(self) -> bool:
        return len(self.text_keys) == 2

    @property
    def rng_key(self) -> str:
        """What seeded streams (training samples, perturbations, --limit samples) are keyed by: the task name
        unless ``seed_key`` says otherwise (a copy of SST-2 from CSV with ``seed_key: sst2`` draws SST-2's)."""
        return self.seed_key or self.name

    @property
    def builtin(self) -> bool:
        return self.source is not None and Path(self.source).parent == BUILTIN_TASKS_DIR

    @property
    def numeric_label_names(self) -> bool:
        """Label names that are whole numbers (a 1-3 rating: ``["1", "2", "3"]``): a value ``1`` could be the
        name "1" or the id 1, and names win (ids would shift every label by one)."""
        return any(_INTEGER.fullmatch(n.strip()) for n in self.label_names or ())

    def label_index(self, value: Any, normalize: Callable[[str], str] = str.strip) -> Optional[int]:
        """The label id of ``value`` (a label name, or an id in 0..n-1), None when it is neither. When the
        label names are numbers, a number is read as a name only (see :attr:`numeric_label_names`)."""
        names = list(self.label_names or ())
        if isinstance(value, str):
            wanted = normalize(value)
            for i, name in enumerate(names):
                if normalize(name) == wanted:
                    return i
            if not _INTEGER.fullmatch(value.strip()):
                return None
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return None
        if not float(value).is_integer():
            return None
        k = int(value)
        if self.numeric_label_names:
            return next((i for i, n in enumerate(names) if _INTEGER.fullmatch(n.strip()) and int(n) == k), None)
        return k if 0 <= k < len(names) else None

    def label_ids(self, values: Sequence[Any], refuse: Callable[[int, Any], Exception],
                  normalize: Callable[[str], str] = str.strip) -> np.ndarray:
        """:meth:`label_index` of every value; the first that is no label raises ``refuse(position, value)`` (each
        reader — a data file, a predictions file, a callable — names its own source)."""
        out = np.empty(len(values), dtype=np.int64)
        for i, value in enumerate(values):
            k = self.label_index(value, normalize)
            if k is None:
                raise refuse(i, value)
            out[i] = k
        return out

    def expected_labels(self) -> str:
        """What :meth:`label_index` accepts, for messages."""
        names = list(self.label_names or ())
        if self.numeric_label_names:
            return f"one of the label names {names} (they are numbers, so numbers are read as names, not ids)"
        return f"one of {names} or an id 0..{len(names) - 1}"

    def eval_splits(self) -> dict[str, str]:
        return self.eval_sets or {self.name: "validation"}

    def splits(self) -> tuple[str, ...]:
        """Every split this task can load (train and the eval splits)."""
        return tuple(dict.fromkeys([self.train_split, *self.eval_splits().values()]))


TASKS: Registry[TaskSpec] = Registry("task")
GLUE_TASKS: tuple[str, ...] = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")


# ---------------------------------------------------------------------------- the YAML schema
#: key -> (types, required, description for messages)
_SCHEMA: dict[str, tuple[tuple[type, ...], bool, str]] = {
    "task": ((str,), True, "a task name"),
    "display": ((str,), False, "a string"),
    "description": ((str,), False, "a string"),
    "aliases": ((list,), False, "a list of names"),
    "dataset_path": ((str,), False, "a hub id or csv/json/parquet"),
    "dataset_name": ((str, type(None)), False, "a string or null"),
    "revision": ((str, type(None)), False, "a string or null"),
    "data_files": ((dict, type(None)), False, "a mapping split -> file (or list of files)"),
    "text_fields": ((list,), True, "a list of one or two field names"),
    "label_field": ((str,), False, "a field name"),
    "label_names": ((list, type(None)), False, "a list of label names, or null for regression"),
    "label_range": ((list, type(None)), False, "[low, high]"),
    "eval_splits": ((dict,), False, "a mapping eval-set name -> split"),
    "metrics": ((list,), False, "a list of metric names"),
    "group_field": ((str, type(None)), False, "a field name or null"),
    "train_split": ((str,), False, "a split name"),
    "seed_key": ((str, type(None)), False, "a string or null"),
    "glue_data": ((dict, type(None)), False, "a mapping (folder, header, columns, label_form, files)"),
    "expectations": ((dict, type(None)), False, "a mapping family -> {expect: ...} (directional tests)"),
}
_GLUE_KEYS = {"folder", "header", "columns", "label_form", "files"}


def _fail(path: Path, key: str, what: str) -> RBMError:
    return RBMError(f"{path}: {key}: {what}")


def _strings(path: Path, key: str, value: Any, n: Optional[tuple[int, int]] = None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, key, f"expected a list of non-empty strings (got {value!r})")
    if n and not n[0] <= len(value) <= n[1]:
        raise _fail(path, key, f"expected {n[0]}{'' if n[0] == n[1] else f' to {n[1]}'} entries (got {len(value)})")
    if len(set(value)) != len(value):
        raise _fail(path, key, f"holds a name twice ({value!r})")
    return tuple(value)


def _check_strings(path: Path, key: str, value: Any) -> None:
    """Every string of a task file (names, display, label names, fields, keys of its mappings) is one line of
    text: a newline in ``display`` would start a live LaTeX line in a ``\\input`` fragment, a Markdown row,
    or a second paragraph in a ``\\caption``, so control characters are refused here, where they enter."""
    from ..inputs import MAX_NAME, printable

    if isinstance(value, dict):
        for k, v in value.items():
            _check_strings(path, key, k)
            _check_strings(path, f"{key}.{k}", v)
    elif isinstance(value, list):
        for v in value:
            _check_strings(path, key, v)
    elif isinstance(value, str):
        if printable(value) != value:
            raise _fail(path, key, f"{value[:40]!r} contains a control character (newline, tab, ...); expected one "
                                   f"line of text")
        if key in ("task", "display", "aliases", "label_names") and len(value) > MAX_NAME:
            raise _fail(path, key, f"is {len(value)} characters long (at most {MAX_NAME})")


def _data_files(path: Path, value: Optional[dict]) -> Optional[dict[str, tuple[str, ...]]]:
    if value is None:
        return None
    out = {}
    for split, files in value.items():
        files = [files] if isinstance(files, str) else files
        if not isinstance(split, str) or not isinstance(files, list) or not files or \
                not all(isinstance(f, str) for f in files):
            raise _fail(path, "data_files", f"{split!r}: expected a file name or a list of them (got {files!r})")
        resolved = []
        for f in files:
            p = Path(f).expanduser()
            p = p if p.is_absolute() else path.parent / p
            if not p.is_file():
                raise _fail(path, f"data_files.{split}", f"no such file {p}")
            resolved.append(str(p.resolve()))
        out[split] = tuple(resolved)
    return out


def _glue_layout(path: Path, value: dict, name: str, text_keys: Sequence[str],
                 regression: bool) -> tuple[str, LocalLayout, dict[str, str]]:
    unknown = sorted(set(value) - _GLUE_KEYS)
    if unknown:
        raise _fail(path, f"glue_data.{unknown[0]}", f"unknown key (expected {', '.join(sorted(_GLUE_KEYS))})")
    columns = value.get("columns") or {}
    if not isinstance(columns, dict) or not all(isinstance(v, (str, int)) for v in columns.values()):
        raise _fail(path, "glue_data.columns", "expected a mapping field -> column name or index")
    missing = [k for k in (*text_keys, "label") if k not in columns]
    if missing:
        raise _fail(path, "glue_data.columns", f"no column for {missing} (every text field and 'label')")
    form = value.get("label_form", "float" if regression else "int")
    if form not in ("int", "name", "float"):
        raise _fail(path, "glue_data.label_form", f"expected int, name or float (got {form!r})")
    files = value.get("files") or {"train": "train", "validation": "dev"}
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise _fail(path, "glue_data.files", "expected a mapping split -> file stem (train: train, validation: dev)")
    folder = value.get("folder", name)
    header = value.get("header", True)
    if not isinstance(folder, str) or not isinstance(header, bool):
        raise _fail(path, "glue_data", "folder must be a string and header true/false")
    return folder, LocalLayout(header=header, columns=dict(columns), label_form=form), dict(files)


def parse_task(data: Any, path: Path) -> TaskSpec:
    """A TaskSpec from a task file's mapping, every key checked (one line naming the file and the key)."""
    from ..metrics import METRICS

    if not isinstance(data, dict):
        raise RBMError(f"{path}: expected a mapping with keys task, text_fields, ...")
    for key, value in data.items():
        if key not in _SCHEMA:
            raise _fail(path, str(key), f"unknown key (expected {', '.join(sorted(_SCHEMA))})")
        types, _, what = _SCHEMA[key]
        if not isinstance(value, types) or isinstance(value, bool):
            raise _fail(path, key, f"expected {what} (got {value!r})")
    for key, (_, required, _) in _SCHEMA.items():
        if required and key not in data:
            raise _fail(path, key, "missing (required)")
    for key, value in data.items():
        if key != "description":  # shown by `rbm tasks` only; every other string can reach a table or a path
            _check_strings(path, key, value)
    name = data["task"]
    if not _NAME.fullmatch(name):
        raise _fail(path, "task", f"{name!r} is not a task name (letters, digits and - _ . +; it names folders)")
    text_keys = _strings(path, "text_fields", data["text_fields"], (1, 2))
    label_names = None if data.get("label_names") is None else _strings(path, "label_names", data["label_names"], (2, 1000))
    regression = label_names is None
    metrics = _strings(path, "metrics", data.get("metrics") or (["spearmanr", "pearson"] if regression else ["accuracy"]))
    for m in metrics:
        if m not in METRICS:
            raise _fail(path, "metrics", f"unknown metric {m!r} (known: {', '.join(METRICS.names())})")
    if not regression and any(METRICS.canonical(m) in ("pearson", "spearmanr") for m in metrics):
        raise _fail(path, "metrics", "pearson/spearmanr are for regression tasks (label_names: null)")
    if regression and any(METRICS.canonical(m) not in ("pearson", "spearmanr") for m in metrics):
        raise _fail(path, "metrics", "a regression task (label_names: null) takes pearson and spearmanr")
    eval_splits = data.get("eval_splits") or {name: "validation"}
    if not all(isinstance(k, str) and _NAME.fullmatch(k) and isinstance(v, str) for k, v in eval_splits.items()):
        raise _fail(path, "eval_splits", "expected a mapping eval-set name -> split name")
    label_range = data.get("label_range")
    if label_range is not None and (len(label_range) != 2 or not all(isinstance(v, (int, float)) for v in label_range)
                                    or label_range[0] >= label_range[1]):
        raise _fail(path, "label_range", f"expected [low, high] (got {label_range!r})")
    data_files = _data_files(path, data.get("data_files"))
    dataset_path = data.get("dataset_path")
    if dataset_path is None and data_files:
        suffixes = {Path(f).suffix.lower() for files in data_files.values() for f in files}
        formats = {_SUFFIX_FORMATS.get(s) for s in suffixes}
        if len(formats) != 1 or None in formats:
            raise _fail(path, "dataset_path", f"missing, and the data_files' suffixes {sorted(suffixes)} do not name "
                                              f"one format (give csv, json or parquet)")
        dataset_path = formats.pop()
    glue = data.get("glue_data")
    if dataset_path is None and glue is None:
        raise _fail(path, "dataset_path", "missing (a hub id, or csv/json/parquet with data_files)")
    if data_files is not None:
        needed = {*eval_splits.values()}
        missing = sorted(needed - set(data_files))
        if missing:
            raise _fail(path, "data_files", f"no file for split(s) {missing} (named in eval_splits)")
    glue_dir, layout, split_files = name, None, {}
    if glue is not None:
        glue_dir, layout, split_files = _glue_layout(path, glue, name, text_keys, regression)
    aliases = _strings(path, "aliases", data["aliases"]) if data.get("aliases") else ()
    from .expectations import parse_expectations

    expectations = parse_expectations(data.get("expectations"), str(path), label_names, text_keys)
    raw = path.read_bytes()
    return TaskSpec(
        name=name, display=data.get("display") or name, glue_dir=glue_dir, text_keys=text_keys,
        label_names=label_names, metrics=metrics, main_metric=metrics[0], layout=layout,
        split_files=split_files or {"train": "train", "validation": "dev"},
        eval_sets={} if eval_splits == {name: "validation"} else dict(eval_splits),
        dataset_path=dataset_path, dataset_name=data.get("dataset_name"), revision=data.get("revision"),
        data_files=data_files, label_field=data.get("label_field", "label"),
        label_range=tuple(label_range) if label_range else ((0.0, 5.0) if regression and glue else None),
        group_field=data.get("group_field"), train_split=data.get("train_split", "train"),
        seed_key=data.get("seed_key"), aliases=aliases, source=str(path), sha256=hashlib.sha256(raw).hexdigest(),
        expectations=expectations)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RBMError(f"{path}: not valid YAML{f' at line {mark.line + 1}' if mark else ''}") from None
    except UnicodeDecodeError:
        raise RBMError(f"{path}: not UTF-8 text") from None


def is_task_file(data: Any) -> bool:
    return isinstance(data, dict) and "task" in data and "suite" not in data


# ---------------------------------------------------------------------------- discovery
_loaded: list[str] = []  # the folders whose task files are in the registry, in order


def include_dirs(include: Sequence[str | os.PathLike] = ()) -> list[Path]:
    """``$RBM_INCLUDE_PATH`` then ``--include-path`` folders (suites and tasks share them)."""
    dirs = [Path(p) for p in os.environ.get(INCLUDE_ENV, "").split(os.pathsep) if p] + [Path(p) for p in include]
    for d in dirs:
        if not d.is_dir():
            raise RBMError(f"include path {d}: not a folder (expected a folder of suite/task YAML files)")
    return dirs


def _register_folder(folder: Path) -> list[TaskSpec]:
    specs = []
    for path in sorted(folder.glob("*.y*ml")):
        data = read_yaml(path)
        if is_task_file(data):
            specs.append(register(parse_task(data, path)))
    return specs


def _names(spec: TaskSpec) -> set[str]:
    """Every spelling that looks a task up: its name, its glue_data folder and its aliases (case-insensitive)."""
    return {n.strip().lower() for n in (spec.name, spec.glue_dir, *spec.aliases)}


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task to the registry. A task never replaces another: a user file named ``sst2`` (or with
    ``aliases: [sst2]``), or two include paths defining one name, would put two different data sets in one
    table column under one header. So every name, alias, eval-set name and display must be new; the same
    file read twice is a no-op."""
    for other in TASKS.names():
        theirs = TASKS.get(other)
        if theirs.source == spec.source and theirs.sha256 == spec.sha256:
            return theirs  # the same file, seen again (an include path given twice)
        what = "the built-in task" if theirs.builtin else "task"
        shared = sorted(_names(spec) & _names(theirs))
        if shared:
            raise RBMError(f"{spec.source}: task: {shared[0]!r} is already a name of {what} {other!r} "
                           f"({theirs.source}); a task file cannot replace another task: give it a name of its own "
                           f"(seed_key: {theirs.name} keeps that task's seeded samples)")
        clash = set(spec.eval_splits()) & set(theirs.eval_splits())
        if clash:
            raise RBMError(f"{spec.source}: eval_splits: {sorted(clash)[0]!r} is already an eval set of {what} "
                           f"{other!r} ({theirs.source}); eval-set names must be unique")
        if spec.display.strip().lower() == theirs.display.strip().lower():
            raise RBMError(f"{spec.source}: display: {spec.display!r} is already the column header of {what} "
                           f"{other!r} ({theirs.source}); two tasks under one header would read as one")
    TASKS.register(spec.name, spec, aliases=(spec.glue_dir, *spec.aliases))
    return spec


def load_task_files(include: Sequence[str | os.PathLike] = ()) -> list[TaskSpec]:
    """Register the task files of the include folders (``$RBM_INCLUDE_PATH``, then ``include``); a name
    defined twice is one line (:func:`register`). Idempotent per folder; returns the tasks added."""
    added = []
    for folder in include_dirs(include):
        key = str(folder.resolve())
        if key in _loaded:
            continue
        added += _register_folder(folder)
        _loaded.append(key)
    return added


def forget_user_tasks() -> None:
    """Back to the built-in tasks: every command (``rbm ...`` or an API call) sees the built-ins plus its
    own include paths only. In one process (a notebook, the test suite) a task file read by an earlier
    command never lingers — and never stands in the way of another file with the same name later."""
    for name in TASKS.names():
        if not TASKS.get(name).builtin:
            TASKS.unregister(name)
    _loaded.clear()


_register_folder(BUILTIN_TASKS_DIR)


def register_record_tasks(records: Sequence[dict], run_dirs: Sequence[str | os.PathLike] = ()) -> None:
    """Tables and plots of user tasks without ``--include-path``: a record names its task file
    (``config.task_file``, relative to its run folder); tasks not registered yet are read from there."""
    check_one_definition(records)
    for rec in records:
        name = rec.get("task")
        if not isinstance(name, str) or name in TASKS:
            continue
        source = ((rec.get("config") or {}).get("task_file") if isinstance(rec.get("config"), dict) else None)
        found = None
        if isinstance(source, str):
            found = next((p for p in [Path(source), *(Path(d) / source for d in run_dirs)] if p.is_file()), None)
        if found is not None:
            source = str(found)
            data = read_yaml(Path(source))
            if is_task_file(data):
                spec = parse_task(data, Path(source))
                if spec.name == name:
                    register(spec)
                    continue
        raise RBMError(f"results name task {name!r}, which is not registered and whose task file "
                       f"{source or '(not recorded)'} is not readable; pass --include-path DIR (the folder of its "
                       f"task YAML)")


def task_definition(record: dict) -> Optional[tuple[str, str]]:
    """Which definition of its task a record was scored under, as (identity, description): the built-in
    task, or the sha256 of the user's task file (the same file on two machines is one definition); None for
    records that do not say."""
    config = record.get("config") if isinstance(record.get("config"), dict) else {}
    source, sha = config.get("task_file"), config.get("task_sha256")
    if not isinstance(source, str):
        return None
    folder = Path(source).parent
    if folder.name == BUILTIN_TASKS_DIR.name and folder.parent.name == BUILTIN_TASKS_DIR.parent.name:
        return "built-in", "the built-in task"
    return f"sha256:{sha}", f"{source} (sha256 {str(sha)[:12]})"


def check_one_definition(records: Sequence[dict]) -> None:
    """Records of one task name scored under two task definitions (the built-in SST-2 and a user file that
    was also called ``sst2``) are different data: they never share a table column, so this is one line."""
    seen: dict[str, dict[str, str]] = {}
    for rec in records:
        name, definition = rec.get("task"), task_definition(rec)
        if isinstance(name, str) and definition is not None:
            seen.setdefault(name.lower(), {}).setdefault(*definition)
    for name, definitions in seen.items():
        if name in TASKS and TASKS.get(name).builtin:
            definitions.setdefault("built-in", "the built-in task (registered here)")
        if len(definitions) > 1:
            raise RBMError(f"results hold task {name!r} under {len(definitions)} task definitions ("
                           f"{'; '.join(list(definitions.values())[:3])}): records of different data never share a "
                           f"column; table them apart (--suite, or one folder at a time)")


def get_task(name: str) -> TaskSpec:
    """Look a task up by name, glue_data folder name or alias, case-insensitively."""
    if isinstance(name, TaskSpec):
        return name
    return TASKS.get(name)


def eval_set_display(task: TaskSpec, eval_set: str) -> str:
    """Column header for an eval set: ``SST-2``, ``MNLI-m``, ``MNLI-mm``."""
    if eval_set == task.name:
        return task.display
    suffix = eval_set[len(task.name):] if eval_set.startswith(task.name) else "-" + eval_set
    return task.display + suffix


def task_of_eval_set(eval_set: str) -> Optional[TaskSpec]:
    """The task that has ``eval_set`` (eval-set names are unique across tasks)."""
    for name in TASKS.names():
        task = TASKS.get(name)
        if eval_set in task.eval_splits():
            return task
    return None
