"""Model surgery shared by several methods: dropout, encoder layers, pretrained snapshots."""
from __future__ import annotations

import contextlib
import os
import re
from typing import Iterator

import torch
from torch import nn

from ..errors import RBMError


def set_dropout(model: nn.Module, p: float) -> None:
    """Every dropout of the model to ``p``, including SDPA attention dropout kept as a float."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = p
        if isinstance(getattr(module, "dropout_prob", None), float):
            module.dropout_prob = p


def encoder_layers(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The transformer block list (``bert.encoder.layer``, ``roberta.encoder.layer`` ...)."""
    n = getattr(model.config, "num_hidden_layers", None)
    lists = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m) == n]
    if not lists:
        raise RBMError(f"{type(model).__name__}: cannot find its {n} encoder layers")
    return lists[0]


def layer_index(param_name: str, layers_prefix: str) -> int | None:
    """Encoder layer number of a parameter name, or None outside the encoder layers."""
    match = re.match(re.escape(layers_prefix) + r"\.(\d+)\.", param_name)
    return int(match.group(1)) if match else None


def snapshot(model: nn.Module, names: set[str] | None = None) -> dict[str, torch.Tensor]:
    """Detached copies of (some of) the model's parameters, by name."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if names is None or n in names}


@contextlib.contextmanager
def one_thread_when_busy() -> Iterator[None]:
    """One torch thread while the machine is busier than its cores (oversubscribed OpenMP threads
    spin and slow every process down); the previous setting afterwards. Used by tests/benchmarks."""
    before = torch.get_num_threads()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0  # not on Windows
    if load > (os.cpu_count() or 1):
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
