"""Any framework's model as a Python function (``evaluate(fn, ...)``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from ..data import Examples
from ..errors import CheckpointError
from ..tasks import TaskSpec

from .base import normalize_label

if TYPE_CHECKING:
    from .predictions import EvalSetRef

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
        return task.label_ids(out.tolist(), lambda i, v: CheckpointError(
            f"{where}: output {v!r} is not a label of {task.name} (expected {task.expected_labels()})"), normalize_label)

    def digest(self) -> dict:
        return {"kind": "callable", "name": getattr(self.fn, "__qualname__", repr(self.fn))}

    def describe(self) -> dict:
        return {"kind": "callable", "path": None, "function": getattr(self.fn, "__qualname__", repr(self.fn))}


