"""Checkpoints from any fine-tuning method: Hugging Face folders, hub ids, or predictions files.

Every checkpoint is checked against the task before it is scored: the number of outputs and the
label order of ``id2label``. A checkpoint whose labels match by name in another order is remapped
(TextAttack #684: a silently permuted label order reads as 7 % instead of 84 % accuracy).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Protocol

import numpy as np

from .card import CARD_FILE, read_card
from .data import Examples, file_sha256
from .errors import CheckpointError
from .tasks import TASKS, TaskSpec, get_task, task_of_eval_set

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


@dataclass
class HFCheckpoint:
    """A Hugging Face sequence-classification model, from a folder or a hub id, loaded via safetensors."""

    name: str
    path: str
    device: str = "auto"
    precision: str = "auto"
    batch_size: int = 64
    max_length: Optional[int] = None
    _model: object = field(default=None, repr=False)
    _tokenizer: object = field(default=None, repr=False)
    _label_info: dict = field(default_factory=dict, repr=False)
    _card: Optional[dict] = field(default=None, repr=False)
    _checked: set = field(default_factory=set, repr=False)  # tasks whose labels were checked at plan time
    _padding: Optional[str] = field(default=None, repr=False)  # how a tokenizer without a pad token was padded

    @property
    def card(self) -> dict:
        """The ``rbm_card.json`` beside the weights (read once); {} for checkpoints made elsewhere."""
        if self._card is None:
            self._card = read_card(self.path) if Path(self.path).is_dir() else {}
        return self._card

    def tasks(self) -> Optional[list[str]]:
        task = self.card.get("task")
        return [get_task(task).name] if task else None

    def load(self):
        if self._model is None:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            local = Path(self.path).exists()
            if not local and not _HUB_ID.match(self.path):
                raise CheckpointError(f"checkpoint {self.name}: {self.path} is neither a folder nor a hub id")
            if local and not (Path(self.path) / "config.json").is_file():
                raise CheckpointError(f"checkpoint {self.name}: {self.path}/config.json missing "
                                      f"(expected a Hugging Face model folder)")
            if local:
                check_no_remote_code(Path(self.path), f"checkpoint {self.name} ({self.path})")
                check_tokenizer(Path(self.path), f"checkpoint {self.name} ({self.path})")
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.path, trust_remote_code=False)
                self._model = AutoModelForSequenceClassification.from_pretrained(self.path, use_safetensors=True,
                                                                                 trust_remote_code=False)
            except Exception as exc:  # noqa: BLE001 - safetensors, tokenizers and torch raise their own types
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if "trust_remote_code" in first:
                    first = "it ships its own code (an auto_map); robustbench-match never runs checkpoint code"
                if not local:
                    first = (f"{self.path} is not a local folder, and loading it as a hub id failed: {first}")
                raise CheckpointError(f"checkpoint {self.name} ({self.path}): cannot load as a safetensors "
                                      f"sequence classifier: {first}") from None
            if self.precision == "fp16":
                from .inference import check_fp16_range

                check_fp16_range(self._model, f"checkpoint {self.name} ({self.path})")
            self._pad()
        return self._model, self._tokenizer

    def _pad(self) -> None:
        """A decoder tokenizer without a pad token gets one (``inference.ensure_padding``), said once here and
        kept for the record's provenance."""
        from .inference import ensure_padding

        self._padding = ensure_padding(self._model, self._tokenizer, f"checkpoint {self.name} ({self.path})")
        if self._padding:
            log.info("checkpoint %s: %s", self.name, self._padding)

    def check(self, task: TaskSpec, ref: "EvalSetRef", examples: Callable[[], Examples]) -> None:
        """Outputs and ``id2label`` against the task, from a local ``config.json`` (no weights loaded);
        hub ids are checked when they load."""
        folder = Path(self.path)
        config = folder / "config.json"
        if task.name in self._checked or not folder.is_dir():
            return
        where = f"checkpoint {self.name} ({self.path})"
        if not config.is_file():
            raise CheckpointError(f"{where}: no config.json (expected a Hugging Face model folder)")
        check_no_remote_code(folder, where)
        try:
            cfg = json.loads(config.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{config}: not valid JSON ({getattr(exc, 'msg', exc)})") from None
        if not isinstance(cfg, dict):
            raise CheckpointError(f"{config}: expected a JSON object (a transformers model config)")
        id2label = cfg.get("id2label") or {}
        num_labels = cfg.get("num_labels", cfg.get("_num_labels", 2))
        if not isinstance(id2label, dict) or not all(isinstance(v, str) for v in id2label.values()):
            raise CheckpointError(f"{config}: id2label must map label ids to label names (got {str(id2label)[:60]})")
        if not id2label and (isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 1):
            raise CheckpointError(f"{config}: num_labels must be a whole number >= 1 (got {num_labels!r})")
        num_labels = len(id2label) if id2label else num_labels
        label_mapping(id2label, num_labels, task, where)
        from .inference import check_max_length

        check_max_length(self.max_length, cfg.get("max_position_embeddings"), where)
        if self.precision == "fp16" and "match-tuning" in str(self.card.get("method") or ""):
            raise CheckpointError(f"--precision fp16: {where} is a Match-Tuning export (its classifier is scaled by "
                                  f"2^20, beyond fp16's range); score it with --precision fp32 or bf16")
        check_weights(folder, num_labels, where)
        check_tokenizer(folder, where)
        self._checked.add(task.name)

    def label_map(self, task: TaskSpec) -> tuple[np.ndarray, str]:
        model, _ = self.load()
        cfg = model.config
        where = f"checkpoint {self.name} ({self.path})"
        mapping, how = label_mapping(dict(cfg.id2label or {}), cfg.num_labels, task, where,
                                     warn=task.name not in self._checked)  # warned once already at plan time
        self._label_info[task.name] = {"how": how, "id2label": {int(k): v for k, v in (cfg.id2label or {}).items()}}
        return mapping, how

    def logits(self, examples: Examples, **kwargs) -> np.ndarray:
        from .inference import predict_logits

        model, tokenizer = self.load()
        max_length = self.max_length or int(self.card.get("hyperparameters", {}).get("max_length", 128))
        return predict_logits(model, tokenizer, examples.text_a, examples.text_b, batch_size=self.batch_size,
                              max_length=max_length, device=self.device, precision=self.precision,
                              desc=f"{self.name}/{examples.task.name}", **kwargs)

    def predict(self, examples: Examples, eval_set: "str | EvalSetRef" = "") -> np.ndarray:
        mapping, _ = self.label_map(examples.task)
        logits = self.logits(examples)
        if examples.task.is_regression:
            return logits[:, 0]
        return mapping[logits.argmax(axis=1)]

    def describe(self) -> dict:
        card = self.card
        revision = getattr(getattr(self._model, "config", None), "_commit_hash", None)  # a hub checkpoint's sha
        return {"kind": "hf", "path": self.path, "method": card.get("method"), "card_seed": card.get("seed"),
                "base_model": card.get("base_model"), "labels": self._label_info,
                **({"padding": self._padding} if self._padding else {}),
                **({"revision": revision} if revision and not Path(self.path).exists() else {})}


#: config files whose ``auto_map`` points transformers at Python code shipped with the checkpoint
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


ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
#: files torch.load / pickle would read (code can run on load): never in an adapter folder
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


class PeftCheckpoint(HFCheckpoint):
    """A PEFT adapter folder (``adapter_config.json`` + ``adapter_model.safetensors``, the head in
    ``modules_to_save``), loaded with the ``peft`` library onto its base model and merged into it for
    inference (``merge_and_unload``: the speed of a plain model; the tests check predictions equal the
    unmerged model's on every row). The base is ``base_model_name_or_path`` of the adapter's config, or the
    one given as ``--checkpoint NAME=ADAPTER@BASE``. The fingerprint covers the adapter's and the base's
    content; ``id2label`` comes from a ``config.json`` beside the adapter, else the base's, and is checked
    against the task as for any checkpoint."""

    def __init__(self, name: str, path: str, base: Optional[str] = None, merge: bool = True, **options) -> None:
        super().__init__(name, path, **options)
        self.base_override, self.merge = base, merge

    # -- what the folder says ------------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"checkpoint {self.name} ({self.path})"

    def adapter_config(self) -> dict:
        path = Path(self.path) / ADAPTER_CONFIG
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise CheckpointError(f"{self.where}: {ADAPTER_CONFIG} is not valid JSON") from None
        if not isinstance(cfg, dict):
            raise CheckpointError(f"{self.where}: {ADAPTER_CONFIG} is not a JSON object")
        return cfg

    @property
    def base(self) -> str:
        """The base model to load: given after ``@``, else the adapter's ``base_model_name_or_path`` (the hub id of
        the packaged MiniLM maps to its installed copy, so rbm's own adapters load offline)."""
        from .models import local_base

        base = self.base_override or self.adapter_config().get("base_model_name_or_path")
        if not isinstance(base, str) or not base:
            raise CheckpointError(f"{self.where}: {ADAPTER_CONFIG} names no base_model_name_or_path; give the base "
                                  f"as --checkpoint {self.name}={self.path}@BASE")
        return local_base(base)

    def _check_base(self) -> Path | None:
        """The base as a local folder (checked), or None for a hub id (resolved when it loads)."""
        base = self.base
        how = f"give another base as --checkpoint {self.name}={self.path}@BASE"
        source = "given after @" if self.base_override else f"{ADAPTER_CONFIG} base_model_name_or_path"
        if Path(base).exists():
            if not (Path(base) / "config.json").is_file():
                raise CheckpointError(f"{self.where}: base model {base} ({source}) is not a model folder (no "
                                      f"config.json); {how}")
            check_no_remote_code(Path(base), f"{self.where}: base model {base}")
            return Path(base)
        if looks_local(base):
            raise CheckpointError(f"{self.where}: base model folder {base} ({source}) does not exist; {how}")
        return None

    def weights(self) -> Path:
        """``adapter_model.safetensors`` itself — the file peft loads. Any other ``*.safetensors`` is no
        evidence (a decoy beside a pickled ``adapter_model.bin`` would let peft ``torch.load`` the pickle), and
        a folder holding pickled weights at all is refused: which file peft picks is not ours to guess."""
        folder = Path(self.path)
        pickled = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        if pickled:
            raise CheckpointError(f"{self.where}: holds pickled weights ({', '.join(pickled[:3])}); pickles can run "
                                  f"code when loaded, so adapters are read from adapter_model.safetensors only: "
                                  f"remove them (or save with safe_serialization=True)")
        path = folder / ADAPTER_WEIGHTS
        if not path.is_file():
            raise CheckpointError(f"{self.where}: no {ADAPTER_WEIGHTS} (expected peft's save_pretrained output)")
        return path

    def _head(self) -> Optional[tuple[str, int]]:
        """(module path, outputs) of the classification head saved in the adapter (modules_to_save), from the
        safetensors header only: ``("classifier", 2)``, ``("score", 3)``."""
        for key, info in _safetensors_header(self.weights(), self.where).items():
            if key.endswith(("classifier.weight", "classifier.out_proj.weight", "score.weight")) and \
                    isinstance(info, dict) and info.get("shape"):
                module = key[:-len(".weight")].removeprefix("base_model.model.")
                return module.replace(".modules_to_save.default", ""), int(info["shape"][0])
        return None

    def _head_shape(self) -> Optional[int]:
        head = self._head()
        return head[1] if head else None

    def _check_head_fits(self, model) -> None:
        """The base model has the module the adapter's head was saved from (a head saved as ``score`` by a
        decoder's adapter cannot go onto a BERT, whose head is ``classifier``)."""
        head = self._head()
        if head is None:
            return
        try:
            model.get_submodule(head[0])
        except AttributeError:
            ours = next((n for n in ("classifier", "score") if hasattr(model, n)), "?")
            raise CheckpointError(f"{self.where}: its classification head is saved as {head[0]!r}, but the base model "
                                  f"{self.base} ({type(model).__name__}) has no such module (its head is {ours!r}); "
                                  f"was the adapter trained on another architecture?") from None

    def _labels(self, num_outputs: int) -> dict:
        for folder in (Path(self.path), Path(self.base) if Path(self.base).is_dir() else None):
            if folder is None:
                continue
            try:
                cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            id2label = cfg.get("id2label") if isinstance(cfg, dict) else None
            if isinstance(id2label, dict) and len(id2label) == num_outputs:
                return {int(k): str(v) for k, v in id2label.items()}
        return {i: f"LABEL_{i}" for i in range(num_outputs)}

    def check(self, task: TaskSpec, ref: "EvalSetRef", examples: Callable[[], Examples]) -> None:
        if task.name in self._checked:
            return
        check_no_remote_code(Path(self.path), self.where)
        cfg = self.adapter_config()
        if str(cfg.get("task_type") or "").upper() != "SEQ_CLS":
            raise CheckpointError(f"{self.where}: a PEFT adapter with task_type {cfg.get('task_type')!r}; scoring needs "
                                  f"a sequence-classification adapter (task_type SEQ_CLS, its head in modules_to_save)")
        from peft import PeftType

        if str(cfg.get("peft_type") or "") not in {t.value for t in PeftType}:
            raise CheckpointError(f"{self.where}: peft_type {cfg.get('peft_type')!r} is not one peft "
                                  f"{_peft_version()} can load")
        self._check_base()
        outputs = self._head_shape()
        if outputs is None:
            raise CheckpointError(f"{self.where}: the adapter holds no classification head (modules_to_save "
                                  f"classifier/score); an adapter without its trained head cannot be scored")
        label_mapping(self._labels(outputs), outputs, task, self.where)
        from .inference import check_max_length  # torch: only when a checkpoint is checked

        check_max_length(self.max_length, None, self.where)
        self._checked.add(task.name)

    def tasks(self) -> Optional[list[str]]:
        task = self.card.get("task")
        return [get_task(task).name] if task else None

    # -- loading -----------------------------------------------------------------------------
    def load(self):
        if self._model is not None:
            return self._model, self._tokenizer
        from peft import PeftModel
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        check_no_remote_code(Path(self.path), self.where)
        base = self.base
        self._check_base()
        outputs = self._head_shape() or 2
        id2label = self._labels(outputs)
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                base, num_labels=outputs, id2label=id2label, label2id={v: k for k, v in id2label.items()},
                trust_remote_code=False, use_safetensors=True, ignore_mismatched_sizes=True)
        except Exception as exc:  # noqa: BLE001 - offline hub, missing files, safetensors errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{self.where}: cannot load its base model {base} ({first[:160]}); give a local "
                                  f"base as --checkpoint {self.name}={self.path}@BASE") from None
        self._check_head_fits(model)
        try:
            model = PeftModel.from_pretrained(model, self.path, is_trainable=False)
        except Exception as exc:  # noqa: BLE001 - size mismatches, unknown target modules
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{self.where}: the adapter does not fit its base model {base} ({first[:200]}); "
                                  f"was it trained on another architecture or head size?") from None
        model.eval()
        self._model = model.merge_and_unload() if self.merge else model
        tok_source = self.path if any((Path(self.path) / f).is_file() for f in TOKENIZER_FILES) else base
        self._tokenizer = AutoTokenizer.from_pretrained(tok_source, trust_remote_code=False)
        self._pad()
        return self._model, self._tokenizer

    def digest(self) -> dict:
        """The adapter's content and the base's (content for a folder, the id for a hub model)."""
        return {"kind": "peft", "adapter": checkpoint_digest(self.path), "base": checkpoint_digest(self.base)}

    def describe(self) -> dict:
        cfg = self.adapter_config()
        return {"kind": "peft", "path": self.path, "base_model": self.base, "peft_type": cfg.get("peft_type"),
                "r": cfg.get("r"), "merged": self.merge, "method": self.card.get("method"),
                "card_seed": self.card.get("seed"), "labels": self._label_info,
                **({"padding": self._padding} if self._padding else {})}


def _peft_version() -> str:
    import importlib.metadata as md

    return md.version("peft")


def split_adapter_base(path: str) -> tuple[str, Optional[str]]:
    """``ADAPTER@BASE`` → (ADAPTER, BASE) when ADAPTER is an adapter folder; else (path, None)."""
    if "@" in path and not Path(path).exists():
        adapter, base = path.rsplit("@", 1)
        if (Path(adapter) / ADAPTER_CONFIG).is_file() and base:
            return adapter, base
    return path, None


class InMemoryModel(HFCheckpoint):
    """A transformers sequence classifier and its tokenizer still in memory (``evaluate((model, tokenizer),
    ...)``): scored exactly as the same model saved to a folder, never modified (inference only)."""

    def __init__(self, name: str, model, tokenizer, key: Optional[str] = None, **options) -> None:
        super().__init__(name, f"memory:{key or name}", **options)
        self._model, self._tokenizer = model, tokenizer
        self._card = {}
        self._digest: Optional[dict] = None
        self._prepared = False

    def load(self):
        if not self._prepared:  # pad a copy of the tokenizer: the caller's stays as it was
            import copy

            self._tokenizer = copy.deepcopy(self._tokenizer)
            self._pad()  # (a decoder's config gets the pad id, as saving it with a padded tokenizer would)
            self._prepared = True
        return self._model, self._tokenizer

    def check(self, task: TaskSpec, ref: "EvalSetRef", examples: Callable[[], Examples]) -> None:
        cfg = self._model.config
        label_mapping(dict(cfg.id2label or {}), cfg.num_labels, task, f"model {self.name}")

    def digest(self) -> dict:
        """The content of the weights (and the tokenizer's vocabulary size), so a stored cell is reused only
        for the same numbers."""
        if self._digest is None:  # once per model: every cell of the plan asks (the weights are not modified)
            h = hashlib.sha256()
            for key, tensor in sorted(self._model.state_dict().items()):
                h.update(key.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
            h.update(str(len(self._tokenizer)).encode())
            self._digest = {"kind": "memory", "sha256": h.hexdigest()}
        return self._digest

    def describe(self) -> dict:
        return {"kind": "memory", "path": None, "class": type(self._model).__name__, "labels": self._label_info,
                **({"padding": self._padding} if self._padding else {})}


class CallablePredictor:
    """Any framework's model as a function (``evaluate(fn, ...)``): ``fn(batch)`` gets a list of texts, or of
    ``(text_a, text_b)`` pairs for sentence-pair tasks (TextAttack's convention), and returns one row of
    logits per input (in the task's label order), or label ids, or label names (scores for regression)."""

    def __init__(self, name: str, fn: Callable, batch_size: int = 64, key: Optional[str] = None) -> None:
        self.name, self.path, self.fn, self.batch_size = name, f"callable:{key or name}", fn, batch_size

    def tasks(self) -> Optional[list[str]]:
        return None

    def check(self, task: TaskSpec, ref: "EvalSetRef", examples: Callable[[], Examples]) -> None:
        return None

    def logits(self, examples: Examples, **kwargs) -> np.ndarray:
        out = self._call(examples)
        if out.ndim != 2:
            raise CheckpointError(f"callable {self.name}: returns labels, not logits (TextAttack needs logits)")
        return out

    def _call(self, examples: Examples) -> np.ndarray:
        inputs = list(zip(examples.text_a, examples.text_b)) if examples.text_b is not None else list(examples.text_a)
        batches = [inputs[start:start + self.batch_size] for start in range(0, len(inputs), self.batch_size)]
        parts = [self._checked(self.fn(batch), len(batch)) for batch in batches]
        return np.concatenate(parts) if parts else np.zeros((0,))

    def _checked(self, value: object, n: int) -> np.ndarray:
        """One batch's return value as an array: a list, tuple, numpy array or tensor of ``n`` labels, names or
        scores, or ``n`` rows of finite logits; anything else (None, a dict, a generator, NaN) is one line."""
        where = f"callable {self.name}"
        expected = f"expected a list, array or tensor of {n} labels or {n} rows of logits"
        if hasattr(value, "detach"):  # a torch tensor (bf16/fp16 logits as float32 for numpy)
            value = value.detach().cpu()
            value = (value.float() if value.is_floating_point() else value).numpy()
        if not isinstance(value, (list, tuple, np.ndarray)):
            raise CheckpointError(f"{where}: returned {type(value).__name__} for a batch of {n} inputs ({expected})")
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged rows
            raise CheckpointError(f"{where}: returned rows of different lengths for a batch of {n} inputs "
                                  f"({expected})") from None
        if arr.ndim not in (1, 2) or arr.shape[0] != n:
            raise CheckpointError(f"{where}: returned shape {arr.shape} for a batch of {n} inputs ({expected})")
        scalar = (str, int, float, np.integer, np.floating)
        odd = [v for v in arr.ravel() if not isinstance(v, scalar) or isinstance(v, bool)] if arr.dtype.kind == "O" else []
        if odd:
            raise CheckpointError(f"{where}: returned {type(odd[0]).__name__} {str(odd[0])[:40]!r} among its outputs "
                                  f"({expected})")
        if arr.dtype.kind == "b":
            raise CheckpointError(f"{where}: returned booleans ({expected})")
        if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).any(axis=tuple(range(1, arr.ndim))).sum()) if arr.ndim > 1 else \
                int((~np.isfinite(arr)).sum())
            raise CheckpointError(f"{where}: returned non-finite outputs (NaN/inf) for {bad} of {n} inputs; a model "
                                  f"that outputs NaN cannot be scored (refused, as for checkpoints)")
        if arr.ndim == 2 and arr.dtype.kind not in "iuf":
            raise CheckpointError(f"{where}: returned rows of non-numbers ({expected}; logits are numbers)")
        return arr

    def predict(self, examples: Examples, eval_set: "str | EvalSetRef" = "") -> np.ndarray:
        task = examples.task
        out = self._call(examples)
        where = f"callable {self.name}"
        if task.is_regression:
            if out.dtype.kind not in "iuf":
                raise CheckpointError(f"{where}: returned {str(out.ravel()[0])[:40]!r}: task {task.name} is a regression "
                                      f"task (expected one number per input)")
            out = out.reshape(len(examples), -1)
            if out.shape[1] != 1:
                raise CheckpointError(f"{where}: {out.shape[1]} outputs per input, task {task.name} is a regression task")
            return out[:, 0].astype(np.float32)
        if out.ndim == 2:
            if out.shape[1] != task.num_labels:
                raise CheckpointError(f"{where}: {out.shape[1]} logits per input, task {task.name} has "
                                      f"{task.num_labels} labels ({', '.join(task.label_names)})")
            return out.argmax(axis=1)
        ids = np.empty(len(out), dtype=np.int64)
        for i, v in enumerate(out.tolist()):
            k = task.label_index(v, normalize_label)
            if k is None:
                raise CheckpointError(f"{where}: output {v!r} is not a label of {task.name} (expected "
                                      f"{task.expected_labels()})")
            ids[i] = k
        return ids

    def digest(self) -> dict:
        return {"kind": "callable", "name": getattr(self.fn, "__qualname__", repr(self.fn))}

    def describe(self) -> dict:
        return {"kind": "callable", "path": None, "function": getattr(self.fn, "__qualname__", repr(self.fn))}


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
        out = np.empty(len(values), dtype=np.int64)
        for i, v in enumerate(values):
            k = task.label_index(v, normalize_label) if not isinstance(v, float) else None  # 1.0 is no label id
            if k is None:
                raise CheckpointError(f"predictions file {self.path}: {key!r}[{i}] = {v!r} is not a label of "
                                      f"{task.name} (expected {task.expected_labels()})")
            out[i] = k
        return out

    def describe(self) -> dict:
        return {"kind": "predictions", "path": self.path}


#: files of a model folder that decide its predictions (logs, plots and the card do not)
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


def open_checkpoint(name: str, path: str, **options) -> Predictor:
    """A predictions file (``*.json`` that is not a folder), a PEFT adapter folder (``ADAPTER[@BASE]``) or a
    Hugging Face model folder / hub id."""
    adapter, base = split_adapter_base(path)
    if (Path(adapter) / ADAPTER_CONFIG).is_file():
        return PeftCheckpoint(name, adapter, base=base, **options)
    p = Path(path)
    if p.suffix.lower() == ".json" and p.is_file():
        return PredictionsFile(name, path)
    if not p.exists() and looks_local(path):
        raise CheckpointError(f"checkpoint {name}: no such folder {path} (the path does not exist; expected a model "
                              f"folder, a hub id or a predictions .json)")
    if p.suffix.lower() == ".json":
        raise CheckpointError(f"checkpoint {name}: predictions file {path} not found")
    return HFCheckpoint(name, path, **options)
