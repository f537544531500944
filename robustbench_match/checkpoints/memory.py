"""A transformers model and tokenizer still in memory (``evaluate((model, tokenizer), ...)``)."""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Callable, Optional


from ..data import Examples
from ..tasks import TaskSpec

from .base import label_mapping
from .hf import HFCheckpoint

if TYPE_CHECKING:
    from .predictions import EvalSetRef

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
                **({"padding": self._padding} if self._padding else {}),
                **({"batch_size": {"requested": "auto", **self._auto_batch}} if self._auto_batch else {})}


