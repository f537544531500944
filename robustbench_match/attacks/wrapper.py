"""A TextAttack model wrapper built on the project's batch-invariant inference.

Why not TextAttack's ``HuggingFaceModelWrapper``: it pads every query to ``model_max_length``
(512), so an attack on SST-2 sentences spends most of its time on padding (TextAttack #737). This
wrapper pads each batch only to its longest text, sorts queries by length, runs under
``inference_mode`` and reorders the model's outputs into the task's label order (the checkpoint's
``id2label``, as every other suite does). It subclasses the stock wrapper so gradient-based
recipes (hotflip) and TextAttack's word-to-token alignment keep working.
"""
from __future__ import annotations

import functools
from typing import Optional, Sequence

import numpy as np
import torch

from ..inference import predict_logits


def split_inputs(text_input_list: Sequence) -> tuple[list[str], Optional[list[str]]]:
    """TextAttack passes strings for one-text tasks and (premise, hypothesis) tuples for pairs."""
    if text_input_list and isinstance(text_input_list[0], (tuple, list)):
        if any(len(t) != 2 for t in text_input_list):
            raise ValueError("expected (text_a, text_b) pairs from TextAttack")
        return [t[0] for t in text_input_list], [t[1] for t in text_input_list]
    return [str(t) for t in text_input_list], None


def to_task_order(logits: np.ndarray, label_map: Optional[np.ndarray]) -> np.ndarray:
    """Columns reordered so column k scores task label k (``label_map[j]`` = task label of output j)."""
    if label_map is None or (np.asarray(label_map) == np.arange(logits.shape[1])).all():
        return logits
    out = np.empty_like(logits)
    out[:, np.asarray(label_map)] = logits
    return out


def stock_max_length(tokenizer) -> int:
    """The length TextAttack's stock wrapper pads and truncates to."""
    return 512 if tokenizer.model_max_length == int(1e30) else int(tokenizer.model_max_length)


@functools.lru_cache(maxsize=1)
def wrapper_class() -> type:
    """The wrapper class, defined on first use: it subclasses TextAttack's wrapper, and textattack
    must not be imported before ``environment.import_textattack`` has configured it."""
    from textattack.models.wrappers import HuggingFaceModelWrapper

    class FastModelWrapper(HuggingFaceModelWrapper):
        """Callable TextAttack wrapper: texts (or text pairs) → logits tensor in task label order.

        ``batch_size`` is the forward-pass batch; TextAttack's ``model_batch_size`` decides how many
        queries arrive per call (more per call → better length sorting).
        """

        def __init__(self, model, tokenizer, *, label_map: Optional[np.ndarray] = None, batch_size: int = 64,
                     max_length: Optional[int] = None, device: str | torch.device = "auto",
                     precision: str = "auto") -> None:
            self.model = model
            self.tokenizer = tokenizer
            self.label_map = None if label_map is None else np.asarray(label_map)
            self.batch_size = int(batch_size)
            self.max_length = int(max_length or stock_max_length(tokenizer))
            self.device = device
            self.precision = precision

        def __call__(self, text_input_list: Sequence) -> torch.Tensor:
            text_a, text_b = split_inputs(text_input_list)
            logits = predict_logits(self.model, self.tokenizer, text_a, text_b, batch_size=self.batch_size,
                                    max_length=self.max_length, device=self.device, precision=self.precision,
                                    progress=False)
            return torch.from_numpy(to_task_order(logits, self.label_map))

    return FastModelWrapper


def fast_wrapper(model, tokenizer, **options):
    """Our wrapper around a loaded model and tokenizer (options: label_map, batch_size, max_length,
    device, precision)."""
    return wrapper_class()(model, tokenizer, **options)


def stock_wrapper(model, tokenizer):
    """TextAttack's own wrapper, for comparisons."""
    from textattack.models.wrappers import HuggingFaceModelWrapper

    return HuggingFaceModelWrapper(model, tokenizer)
