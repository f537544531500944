"""PEFT adapters as checkpoints: ``ADAPTER[@BASE]``, loaded on their base with stock peft (merged by default)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional


from ..data import Examples
from ..errors import CheckpointError
from ..tasks import TaskSpec, get_task

from .base import TOKENIZER_FILES, _safetensors_header, check_no_remote_code, checkpoint_digest, label_mapping, looks_local
from .hf import HFCheckpoint

if TYPE_CHECKING:
    from .predictions import EvalSetRef

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
        from ..models import local_base

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
        from ..inference import check_max_length  # torch: only when a checkpoint is checked

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


