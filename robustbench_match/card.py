"""The checkpoint card (``rbm_card.json``): one module owns its name, its schema and how it is read and written.

Why a card: a folder of weights does not say which task, method, seed, hyperparameters or training
data made it. ``rbm train`` writes the card beside the Hugging Face files; the runner reads it to map
a checkpoint to its task and seed, to check a training-condition checkpoint's data hash, and to reuse a
trained cell only when it was trained with the same settings. Checkpoints made elsewhere have none.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import CheckpointError

CARD_FILE = "rbm_card.json"

#: the card's fields and what each holds (``rbm train`` writes all of them; readers use the first six)
CARD_SCHEMA: dict[str, str] = {
    "task": "canonical task name the model was fine-tuned for",
    "task_file": "the task's YAML file",
    "task_sha256": "sha256 of that file when the model was trained",
    "method": "fine-tuning method (canonical name; a+b for compositions)",
    "seed": "training seed",
    "hyperparameters": "the trainer's and the method's hyperparameters, precision resolved",
    "train_data_sha256": "sha256 of the training examples (texts, labels, order) given to the method (before an "
                         "augmentation: see augmentation.augmented_sha256)",
    "condition": "how the training set was perturbed (label noise, minority), or null",
    "base_model": "the pretrained model it started from",
    "train_data_source": "where the training examples were read",
    "n_train": "number of training examples trained on (after augmentation)",
    "n_train_given": "number of training examples given to the method",
    "seen_in_training": "perturbation families and attacks whose edits the method trained on (augment, adv-train), "
                        "or null",
    "augmentation": "method augment: recipe, settings, counts, source and augmented sha256",
    "adversarial_training": "method adv-train: recipe and, per attack epoch, rows attacked, successful, added, seconds",
    "steps": "optimizer steps",
    "planned_steps": "steps the learning-rate schedule was planned for, when the run made fewer (adv-train)",
    "setup_time_s": "seconds before the first step",
    "train_time_per_epoch_s": "mean wall seconds per epoch",
    "epoch_times_s": "wall seconds of each epoch",
    "cpu_time_per_epoch_s": "mean CPU seconds per epoch",
    "epoch_cpu_s": "CPU seconds of each epoch (adv-train: its attack epochs cost more than its clean ones)",
    "final_loss": "last logged training loss",
    "log_file": "the per-step log beside the card",
    "device": "where it was trained",
    "package_version": "robustbench-match version",
    "torch_version": "torch version",
    "python_version": "Python version",
    "created": "UTC time the card was written",
    "partial_epoch": "a run cut by max_steps: the steps done, of how many, and the seconds measured",
    "loss_diverged": "the divergence warning of the run (loss far above its start), or null",
}


#: the fields readers use, and the JSON types they may hold (checked on read: one line, never a traceback)
_READ_TYPES: dict[str, tuple[type, ...]] = {
    "task": (str,), "method": (str,), "seed": (int,), "hyperparameters": (dict,), "train_data_sha256": (str,),
    "condition": (dict, str), "base_model": (str,),
}


def card_path(folder: str | Path) -> Path:
    return Path(folder) / CARD_FILE


def read_card(folder: str | Path) -> dict[str, Any]:
    """The card of a checkpoint folder; {} when it has none (a checkpoint made elsewhere)."""
    path = card_path(folder)
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: not UTF-8 text (expected a JSON checkpoint card)") from None
    if not isinstance(card, dict):
        raise CheckpointError(f"{path}: expected a JSON object (a robustbench-match checkpoint card)")
    for key, types in _READ_TYPES.items():
        value = card.get(key)
        if value is not None and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            raise CheckpointError(f"{path}: {key} = {str(value)[:40]!r} is not {' or '.join(t.__name__ for t in types)} "
                                  f"(a hand-edited card? {CARD_SCHEMA[key]})")
    if card.get("task") is not None:
        from .tasks import TASKS

        if card["task"] not in TASKS:
            raise CheckpointError(f"{path}: task {card['task']!r} is not a known task (see `rbm tasks`)")
    return card


def write_card(folder: str | Path, card: dict[str, Any]) -> Path:
    """Write the card (sorted keys, one field a line); fields are documented in :data:`CARD_SCHEMA`."""
    path = card_path(folder)
    path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
