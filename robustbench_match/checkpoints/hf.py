"""A Hugging Face sequence classifier from a folder or a hub id, loaded from safetensors only."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from ..card import read_card
from ..data import Examples
from ..errors import CheckpointError
from ..tasks import TaskSpec, get_task

from .base import _HUB_ID, check_no_remote_code, check_tokenizer, check_weights, label_mapping

if TYPE_CHECKING:
    from .predictions import EvalSetRef

log = logging.getLogger(__name__)

@dataclass
class HFCheckpoint:
    """A Hugging Face sequence-classification model, from a folder or a hub id, loaded via safetensors."""

    name: str
    path: str
    device: str = "auto"
    precision: str = "auto"
    batch_size: int | str = 64  # or "auto": chosen on the first rows scored (see inference.choose_batch_size)
    max_length: Optional[int] = None
    _model: object = field(default=None, repr=False)
    _tokenizer: object = field(default=None, repr=False)
    _label_info: dict = field(default_factory=dict, repr=False)
    _card: Optional[dict] = field(default=None, repr=False)
    _checked: set = field(default_factory=set, repr=False)  # tasks whose labels were checked at plan time
    _padding: Optional[str] = field(default=None, repr=False)  # how a tokenizer without a pad token was padded
    _auto_batch: Optional[dict] = field(default=None, repr=False)  # what --batch-size auto chose, and how

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
                from ..inference import check_fp16_range

                check_fp16_range(self._model, f"checkpoint {self.name} ({self.path})")
            self._pad()
        return self._model, self._tokenizer

    def _pad(self) -> None:
        """A decoder tokenizer without a pad token gets one (``inference.ensure_padding``), said once here and
        kept for the record's provenance."""
        from ..inference import ensure_padding

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
        from ..inference import check_max_length

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
        from ..inference import predict_logits

        model, tokenizer = self.load()
        return predict_logits(model, tokenizer, examples.text_a, examples.text_b, batch_size=self.batch_size_for(examples),
                              max_length=self.scoring_max_length(), device=self.device, precision=self.precision,
                              desc=f"{self.name}/{examples.task.name}", **kwargs)

    def scoring_max_length(self) -> int:
        """--max-length, else the card's training max length, else 128: the same truncation in every suite."""
        return self.max_length or int(self.card.get("hyperparameters", {}).get("max_length", 128))

    def batch_size_for(self, examples: Examples) -> int:
        """The inference batch size: the one given, or (``auto``) the one chosen once on these rows."""
        if self.batch_size != "auto":
            return int(self.batch_size)
        if self._auto_batch is None:
            from ..inference import choose_batch_size

            model, tokenizer = self.load()
            self._auto_batch = choose_batch_size(model, tokenizer, examples.text_a, examples.text_b,
                                                 max_length=self.scoring_max_length(), device=self.device,
                                                 precision=self.precision)
            log.info("checkpoint %s: --batch-size auto chose %d (%s)", self.name, self._auto_batch["batch_size"],
                     self._auto_batch["how"])
        return int(self._auto_batch["batch_size"])

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
                **({"batch_size": {"requested": "auto", **self._auto_batch}} if self._auto_batch else {}),
                **({"revision": revision} if revision and not Path(self.path).exists() else {})}


#: config files whose ``auto_map`` points transformers at Python code shipped with the checkpoint
