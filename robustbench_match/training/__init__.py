"""Fine-tuning: Match-Tuning and the paper's baselines behind one loop (``rbm train``).

``from robustbench_match.training import TrainConfig, train`` — ``train`` imports torch lazily.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from .config import TrainConfig

if TYPE_CHECKING:
    from ..data import Examples


def train(cfg: TrainConfig, train_examples: Optional["Examples"] = None) -> str:
    """Fine-tune and write a Hugging Face checkpoint folder (see ``trainer.train``)."""
    from .trainer import train as _train

    return _train(cfg, train_examples)


__all__ = ["TrainConfig", "train"]
