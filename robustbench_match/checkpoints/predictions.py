"""Predictions files: a model's outputs saved elsewhere, keyed by eval set (GLUE dev, AdvGLUE)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..data import Examples
from ..errors import CheckpointError
from ..tasks import TASKS, TaskSpec, get_task, task_of_eval_set

from .base import normalize_label

GLUE_DEV = "glue-dev"
ADVGLUE = "advglue"
#: the eval sets a predictions file may name under each collection prefix (``advglue/sst2``)
COLLECTIONS: dict[str, tuple[str, ...]] = {
    GLUE_DEV: ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli-m", "mnli-mm", "qnli", "rte", "wnli"),
    ADVGLUE: ("sst2", "qqp", "mnli-m", "mnli-mm", "qnli", "rte"),
}
COLLECTION_LABELS = {GLUE_DEV: "GLUE dev", ADVGLUE: "AdvGLUE adversarial"}
_DESCRIBE = {GLUE_DEV: "the GLUE dev {} set", ADVGLUE: "the AdvGLUE {} adversarial dev set"}


@dataclass(frozen=True)
class EvalSetRef:
    """The data a cell scores, as a predictions file names it: a collection and an eval set.

    A file may prefix keys with the collection (``glue-dev/mnli-mm``, ``advglue/sst2``); a bare key
    (``sst2``) means the collection the suite scores first, so ``plain`` is decided per suite: GLUE dev in
    glue-dev and mnli-negation (as always), the adversarial sets in advglue (the AdvGLUE submission format).
    """

    collection: str
    eval_set: str  # canonical: "sst2", "mnli-m", "mnli-mm", ...
    plain: bool = True  # does a bare key mean this collection here?

    def keys(self) -> list[str]:
        """The spellings a predictions file is asked for, most specific first (for messages)."""
        bare = ["mnli", "mnli-m"] if self.eval_set == "mnli-m" else [self.eval_set]
        return [f"{self.collection}/{k}" for k in bare] + (bare if self.plain else [])

    @property
    def key(self) -> str:
        """The key to write these predictions under in a file for this suite."""
        bare = "mnli" if self.eval_set == "mnli-m" else self.eval_set  # the AdvGLUE submission spelling
        return bare if self.plain else f"{self.collection}/{bare}"

    def describe(self) -> str:
        return _DESCRIBE.get(self.collection, "the {} set of " + self.collection).format(self.eval_set)


def parse_prediction_key(key: str, where: str) -> tuple[Optional[str], str]:
    """``[COLLECTION/]EVAL_SET`` → (collection or None for a bare key, canonical eval set)."""
    collection, _, rest = str(key).rpartition("/")
    if collection and collection not in COLLECTIONS:
        raise CheckpointError(f"{where}: key {key!r}: unknown prefix {collection!r} (expected TASK, "
                              f"{GLUE_DEV}/TASK or {ADVGLUE}/TASK, e.g. sst2, {GLUE_DEV}/mnli-mm, {ADVGLUE}/sst2)")
    norm = rest.strip().lower().replace("_", "-")
    norm = {"mnli-mismatched": "mnli-mm", "mnli-matched": "mnli-m"}.get(norm, norm)
    owner = task_of_eval_set(norm)
    if owner is not None:  # an eval-set name: mnli-mm, sst2, a user task's eval set
        eval_set = norm
    elif rest in TASKS:  # a task name or alias: its first eval set (bare "mnli" is the matched set, as AdvGLUE has it)
        eval_set = next(iter(get_task(rest).eval_splits()))
    else:
        raise CheckpointError(f"{where}: unknown task key {key!r} (expected a task or eval-set name like sst2, mnli, "
                              f"mnli-mm, optionally prefixed {GLUE_DEV}/ or {ADVGLUE}/; see `rbm tasks`)")
    if collection == ADVGLUE and eval_set not in COLLECTIONS[collection]:
        raise CheckpointError(f"{where}: key {key!r}: {collection} has no {eval_set} set "
                              f"(it has {', '.join(COLLECTIONS[collection])})")
    return (collection or None), eval_set


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    """json ``object_pairs_hook``: a key given twice is an error (plain json.loads keeps the last copy)."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


@dataclass
class PredictionsFile:
    """Predictions made elsewhere: JSON ``{key: [label, ...]}`` in dataset order (the AdvGLUE submission
    format), for models we cannot load. Keys are ``[COLLECTION/]EVAL_SET`` (see :class:`EvalSetRef`):
    ``mnli`` is the matched set, ``mnli-mm`` the mismatched one. Labels are the task's label ids
    (HF GLUE order) or label names. Every key, label and length is checked at plan time (:meth:`check`).
    """

    name: str
    path: str
    _cache: Optional[dict] = field(default=None, repr=False)
    _keys: Optional[dict] = field(default=None, repr=False)  # (collection|None, eval_set) -> file key
    _ids: dict = field(default_factory=dict, repr=False)  # file key -> converted label ids

    def _data(self) -> dict:
        if self._cache is None:
            self._cache = self._read()
        return self._cache

    def _read(self) -> dict:
        where = f"predictions file {self.path}"
        try:
            raw = Path(self.path).read_bytes()
        except FileNotFoundError:
            raise CheckpointError(f"{where}: not found") from None
        except OSError as exc:
            raise CheckpointError(f"{where}: cannot read it ({exc.strerror or exc})") from None
        try:  # json detects UTF-8, UTF-16 and UTF-32 (with or without a BOM) from the bytes
            data = json.loads(raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw,
                              object_pairs_hook=_no_duplicate_keys)
        except UnicodeDecodeError:
            raise CheckpointError(f"{where}: not UTF-8/UTF-16 text (Latin-1? save it as UTF-8 JSON)") from None
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        except _DuplicateKey as exc:
            raise CheckpointError(f"{where}: key {exc.args[0]!r} appears twice (which copy to score is ambiguous); "
                                  f"keep one") from None
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise CheckpointError(f"predictions file {self.path}: expected an object {{task: [label, ...]}}")
        return data

    def _index(self) -> dict:
        if self._keys is None:
            where = f"predictions file {self.path}"
            index: dict[tuple, str] = {}
            for key in self._data():
                parsed = parse_prediction_key(key, where)
                if parsed in index:
                    raise CheckpointError(f"{where}: keys {index[parsed]!r} and {key!r} both name "
                                          f"{parsed[0] + '/' if parsed[0] else ''}{parsed[1]}; keep one")
                index[parsed] = key
            self._keys = index
        return self._keys

    def tasks(self) -> Optional[list[str]]:
        return sorted({task_of_eval_set(eval_set).name for _, eval_set in self._index()})

    def key_for(self, ref: EvalSetRef) -> Optional[str]:
        """The file's key holding ``ref``'s predictions, or None when the file has none."""
        index = self._index()
        wanted = [(ref.collection, ref.eval_set)] + ([(None, ref.eval_set)] if ref.plain else [])
        found = [index[k] for k in wanted if k in index]
        if len(found) > 1:
            raise CheckpointError(f"predictions file {self.path}: keys {found[0]!r} and {found[1]!r} both hold "
                                  f"{ref.describe()} in this suite; keep one")
        return found[0] if found else None

    def _require(self, ref: EvalSetRef) -> str:
        key = self.key_for(ref)
        if key is None:
            raise CheckpointError(f"predictions file {self.path}: no key {' or '.join(map(repr, ref.keys()))} for "
                                  f"{ref.describe()} (has {sorted(self._data())})")
        return key

    def check(self, task: TaskSpec, ref: EvalSetRef, examples: Callable[[], Examples]) -> None:
        """Plan-time check of one cell: the key exists, its length is the set's, every label is valid."""
        self._checked(self._require(ref), task, ref, examples())

    def _checked(self, key: str, task: TaskSpec, ref: EvalSetRef, examples: Examples) -> np.ndarray:
        values = self._data()[key]
        sample = getattr(examples, "sample", None)
        if sample and len(values) == sample["of"]:  # `rbm run --limit`: the file covers the whole set
            key_ids = (key, "limit", len(examples))
            if key_ids not in self._ids:
                self._ids[key_ids] = self._to_ids([values[i] for i in sample["positions"]], task, key)
            return self._ids[key_ids]
        if len(values) != len(examples):
            hint = ""
            if ref.collection != GLUE_DEV and "/" not in key and len(values) > len(examples):
                # likely GLUE dev predictions under a bare key in the advglue suite (AdvGLUE sets are smaller)
                label = COLLECTION_LABELS.get(ref.collection, ref.collection)
                hint = f"; in this suite bare keys name the {label} sets, GLUE dev predictions go under '{GLUE_DEV}/{ref.key}'"
            raise CheckpointError(f"predictions file {self.path}: {key!r} has {len(values)} predictions, "
                                  f"{ref.describe()} has {len(examples)} ({examples.source}){hint}")
        if key not in self._ids:
            self._ids[key] = self._to_ids(values, task, key)
        return self._ids[key]

    def predict(self, examples: Examples, eval_set: "str | EvalSetRef") -> np.ndarray:
        if isinstance(eval_set, EvalSetRef):
            ref = eval_set
        else:  # a bare name is GLUE dev, as before collections existed
            collection, name = parse_prediction_key(eval_set, f"predictions file {self.path}")
            ref = EvalSetRef(collection or GLUE_DEV, name)
        return self._checked(self._require(ref), examples.task, ref, examples)

    def _to_ids(self, values: list, task: TaskSpec, key: str) -> np.ndarray:
        if task.is_regression:
            if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
                raise CheckpointError(f"predictions file {self.path}: {key!r} must hold numbers")
            try:
                scores = np.asarray(values, dtype=np.float64)
            except OverflowError:  # an integer beyond float64 (10**400)
                scores = np.asarray([v if abs(v) < 1e300 else np.inf for v in values], dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(scores) | (np.abs(scores) > np.finfo(np.float32).max))
            if len(bad):
                raise CheckpointError(f"predictions file {self.path}: {key!r}[{bad[0]}] = {values[bad[0]]!r} is not a "
                                      f"finite number in float32's range ({len(bad)} such values); {task.name} scores must be finite")
            return scores.astype(np.float32)
        def refuse(i: int, v) -> CheckpointError:
            return CheckpointError(f"predictions file {self.path}: {key!r}[{i}] = {v!r} is not a label of {task.name} "
                                   f"(expected {task.expected_labels()})")

        # a float (1.0) is no label id in a JSON file: it is refused where it stands, as any other non-label
        return task.label_ids([None if isinstance(v, float) else v for v in values],
                              lambda i, v: refuse(i, values[i]), normalize_label)

    def describe(self) -> dict:
        return {"kind": "predictions", "path": self.path}


#: files of a model folder that decide its predictions (logs, plots and the card do not)
