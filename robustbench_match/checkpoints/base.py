"""What every checkpoint kind shares: the label-order check (``label_mapping``), the ``Predictor`` protocol,
the safety checks of a model folder (no shipped code, a tokenizer, weights that fit) and a checkpoint's digest."""
from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Protocol

import numpy as np

from ..card import CARD_FILE
from ..data import Examples, file_sha256
from ..errors import CheckpointError
from ..tasks import TaskSpec

if TYPE_CHECKING:
    from .predictions import EvalSetRef

log = logging.getLogger(__name__)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_GENERIC = re.compile(r"^(label_?)?(\d+)$")
_SYNONYMS = {
    "neg": "negative", "pos": "positive", "entail": "entailment", "entailed": "entailment",
    "contradict": "contradiction", "contradictory": "contradiction", "non_entailment": "not_entailment",
    "paraphrase": "equivalent", "not_paraphrase": "not_equivalent", "duplicated": "duplicate",
    "not_duplicated": "not_duplicate", "unacceptable_sentence": "unacceptable",
}


def normalize_label(name: str) -> str:
    key = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
    return _SYNONYMS.get(key, key)


def label_mapping(id2label: dict, num_outputs: int, task: TaskSpec, where: str,
                  warn: bool = True) -> tuple[np.ndarray, str]:
    """Model output index → task label id, and how it was decided ('identity', 'by-name', 'generic')."""
    if task.is_regression:
        if num_outputs != 1:
            raise CheckpointError(f"{where}: has {num_outputs} outputs, task {task.name} is a regression task (expected 1)")
        return np.zeros(1, dtype=np.int64), "regression"
    if num_outputs != task.num_labels:
        raise CheckpointError(f"{where}: has {num_outputs} labels, task {task.name} expects {task.num_labels} "
                              f"({', '.join(task.label_names or ())})")
    names = [normalize_label(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(num_outputs)]
    if all(_GENERIC.match(n) and int(_GENERIC.match(n).group(2)) == i for i, n in enumerate(names)):
        if warn:
            log.warning("%s: generic labels %s; assuming the task's order %s", where, names, list(task.label_names))
        return np.arange(num_outputs), "generic"
    expected = [normalize_label(n) for n in task.label_names or ()]
    if sorted(names) != sorted(expected):
        raise CheckpointError(f"{where}: id2label {names} does not match task {task.name} labels {expected}")
    mapping = np.asarray([expected.index(n) for n in names], dtype=np.int64)
    return mapping, "identity" if (mapping == np.arange(num_outputs)).all() else "by-name"


class Predictor(Protocol):
    """Anything that turns a task's examples into predicted label ids (or scores for regression)."""

    name: str
    path: str

    def tasks(self) -> Optional[list[str]]:
        """Tasks this checkpoint was made for, when it can tell (card, file keys); None if unknown."""

    def check(self, task: TaskSpec, ref: "EvalSetRef", examples: Callable[[], Examples]) -> None:
        """Raise CheckpointError if this checkpoint cannot score the cell; cheap, run at plan time.
        ``examples`` loads the cell's data, only for checkpoints that need it (predictions files)."""

    def predict(self, examples: Examples, eval_set: "str | EvalSetRef") -> np.ndarray: ...

    def describe(self) -> dict: ...



_CODE_POINTERS = ("config.json", "tokenizer_config.json", "preprocessor_config.json", "processor_config.json")


def check_no_remote_code(folder: Path, where: str) -> None:
    """A checkpoint is data, never code: a folder with Python files or an ``auto_map`` (transformers'
    ``trust_remote_code`` models) is refused before transformers sees it, so nothing in it can run or be
    copied into an export. Every load also passes ``trust_remote_code=False`` (hub ids included)."""
    code = sorted(p.name for p in folder.iterdir() if p.suffix in (".py", ".pyc", ".so")) if folder.is_dir() else []
    pointers = []
    for name in _CODE_POINTERS:
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("auto_map"):
            pointers.append(f"{name} has an auto_map")
    if code or pointers:
        what = "; ".join(pointers + ([f"it holds code ({', '.join(code[:3])})"] if code else []))
        raise CheckpointError(f"{where}: refusing a checkpoint that ships its own code ({what}); robustbench-match "
                              f"never runs checkpoint code (trust_remote_code=False): export it as a stock "
                              f"transformers architecture")



TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                   "tokenizer.model")


def check_tokenizer(folder: Path, where: str) -> None:
    """A local model folder must hold its tokenizer (``tokenizer.save_pretrained(PATH)``)."""
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise CheckpointError(f"{where}: no tokenizer files (expected one of {', '.join(TOKENIZER_FILES[:3])}, ...; "
                              f"save it with tokenizer.save_pretrained(PATH))")


def _safetensors_header(path: Path, where: str) -> dict:
    """The JSON header of a ``.safetensors`` file, checked to cover the whole file (a truncated or
    garbage file is caught here, at plan time, without loading any weights)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n <= 0 or 8 + n > size or n > 100_000_000:
            raise CheckpointError(f"{where}: {path.name} is not a safetensors file (truncated or corrupt header, "
                                  f"{size} bytes)")
        try:
            header = json.loads(fh.read(n))
        except (ValueError, UnicodeDecodeError):
            raise CheckpointError(f"{where}: {path.name} is not a safetensors file (unreadable header)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where}: {path.name} is not a safetensors file (unreadable header)")
    end = max((int(v["data_offsets"][1]) for k, v in header.items()
               if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v), default=0)
    if 8 + n + end != size:
        raise CheckpointError(f"{where}: {path.name} is truncated or corrupt (its header describes {8 + n + end} "
                              f"bytes, the file has {size}); re-save or re-download the checkpoint")
    return header


def check_weights(folder: Path, num_labels: int, where: str) -> None:
    """Local safetensors weights exist, are complete, and their classifier has ``num_labels`` outputs."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickled = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt")]
        extra = f" (found {', '.join(pickled)}: pickled weights are refused)" if pickled else ""
        raise CheckpointError(f"{where}: no model.safetensors{extra}")
    for path in files:
        header = _safetensors_header(path, where)
        for name, info in header.items():
            shape = info.get("shape") if isinstance(info, dict) else None
            head = name.endswith(("classifier.weight", "classifier.out_proj.weight"))
            if head and shape and shape[0] != num_labels:
                raise CheckpointError(f"{where}: config.json declares {num_labels} label(s) but the classifier "
                                      f"weights {name} have {shape[0]} outputs")



_MODEL_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model", ".pt", ".pth")
_digest_cache: dict[tuple, str] = {}


def checkpoint_digest(path: str) -> dict:
    """What a checkpoint *is*: the sha256 of a model folder's weight, config and tokenizer files (not
    its card or logs), of a predictions file, or a hub id (a remote name: its revision is not known
    offline). Cached per (path, sizes, mtimes), so a grid hashes each folder once."""
    p = Path(path)
    if p.is_file():
        stat = p.stat()
        key = (str(p.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _digest_cache:
            _digest_cache[key] = file_sha256(p)
        return {"kind": "file", "sha256": _digest_cache[key]}
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in _MODEL_SUFFIXES
                       and f.name != CARD_FILE and not f.name.startswith("."))
        key = (str(p.resolve()), tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files))
        if key not in _digest_cache:
            h = hashlib.sha256()
            for f in files:
                h.update(f.name.encode() + b"\0" + file_sha256(f).encode() + b"\n")
            _digest_cache[key] = h.hexdigest()
        return {"kind": "folder", "sha256": _digest_cache[key]}
    return {"kind": "hub", "id": path}


def looks_local(path: str) -> bool:
    """A path that does not exist is a mistyped local path, not a hub id, when it is written as a path
    (./, /, ~, more than one /), when its first folder exists here (``runs/sst2-mt``), or when it is not a
    valid hub id."""
    if path.startswith((".", "/", "~")) or path.count("/") > 1 or not _HUB_ID.match(path):
        return True
    return "/" in path and Path(path.split("/", 1)[0]).is_dir()


