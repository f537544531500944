"""Checkpoints from any fine-tuning method, one kind per module — ``hf`` (Hugging Face folders and hub ids),
``adapters`` (PEFT), ``memory`` (a model in memory), ``callables`` (a Python function), ``predictions``
(predictions files) on the shared checks of ``base`` — and one opener, :func:`open_checkpoint`, that picks the kind.

Every checkpoint is checked against the task before it is scored: the number of outputs and the
label order of ``id2label``. A checkpoint whose labels match by name in another order is remapped
(TextAttack #684: a silently permuted label order reads as 7 % instead of 84 % accuracy).
"""
from __future__ import annotations

from pathlib import Path

from ..card import CARD_FILE
from ..errors import CheckpointError
from .adapters import ADAPTER_CONFIG, ADAPTER_WEIGHTS, PICKLE_SUFFIXES, PeftCheckpoint, split_adapter_base
from .base import (TOKENIZER_FILES, Predictor, check_no_remote_code, check_tokenizer, check_weights, checkpoint_digest,
                   label_mapping, looks_local, normalize_label)
from .callables import CallablePredictor
from .hf import HFCheckpoint
from .memory import InMemoryModel
from .predictions import (ADVGLUE, COLLECTION_LABELS, COLLECTIONS, GLUE_DEV, EvalSetRef, PredictionsFile,
                          parse_prediction_key)

__all__ = ["ADAPTER_CONFIG", "ADAPTER_WEIGHTS", "ADVGLUE", "CARD_FILE", "COLLECTIONS", "COLLECTION_LABELS", "GLUE_DEV",
           "PICKLE_SUFFIXES", "TOKENIZER_FILES", "CallablePredictor", "EvalSetRef", "HFCheckpoint", "InMemoryModel",
           "PeftCheckpoint", "PredictionsFile", "Predictor", "check_no_remote_code", "check_tokenizer",
           "check_weights", "checkpoint_digest", "label_mapping", "looks_local", "normalize_label", "open_checkpoint",
           "parse_prediction_key", "split_adapter_base"]

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
