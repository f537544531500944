"""Plots of training runs, read from a checkpoint's ``training_log.jsonl`` (no model loaded).

``dynamics``: mean mass a row of Match-Tuning's matching matrix puts on the instance itself, on
same-label and on other-label instances, per step (the paper's Fig. 3). ``loss``: training-loss
curves of any number of runs on one plot (Fig. 4). Output format follows the file suffix (.png, .pdf).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..checkpoints import CARD_FILE
from ..errors import RBMError
from ..figures import legend_label, literal_text
from .trainer import LOG_FILE

MASSES = (("m_self", "self"), ("m_positive", "same label (positive)"), ("m_negative", "other label (negative)"))


def read_run(path: str) -> tuple[dict, list[dict]]:
    """(card, per-step log records) of a checkpoint made by ``rbm train``."""
    folder = Path(path)
    log_path = folder / LOG_FILE
    if not log_path.is_file():
        raise RBMError(f"{folder}: no {LOG_FILE} (expected a checkpoint folder written by rbm train)")
    card_path = folder / CARD_FILE
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    if not records:
        raise RBMError(f"{log_path}: empty training log")
    return card, records


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average (the first points average what exists so far)."""
    if window <= 1 or len(values) < 2:
        return values
    cs = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(0, idx - window)
    return (cs[idx] - cs[lo]) / (idx - lo)


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(path: str, card: dict) -> str:
    method = card.get("method", "?")
    t = card.get("hyperparameters", {}).get("temperature")
    return f"{Path(path).name} ({method}{f', T={t:g}' if t is not None else ''}, seed {card.get('seed', '?')})"


@literal_text
def plot_dynamics(path: str, output: str, window: int = 10) -> str:
    card, records = read_run(path)
    if not any("m_self" in r for r in records):
        raise RBMError(f"{path}: the log has no matching-matrix masses (method {card.get('method', '?')}; "
                       f"only match-tuning runs log them)")
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    steps = np.asarray([r["step"] for r in records if "m_self" in r])
    for key, label in MASSES:
        vals = np.asarray([r.get(key, np.nan) for r in records if "m_self" in r], dtype=float)
        if np.isfinite(vals).any():
            ax.plot(steps, smooth(vals, window), label=label)
    batch = card.get("hyperparameters", {}).get("batch_size")
    if batch:
        ax.axhline(1 / batch, color="grey", lw=0.8, ls=":", label=f"uniform self mass 1/{batch}")
    ax.set(xlabel="training step", ylabel="mean mass in a row of M", ylim=(0, 1),
           title=f"Match matrix dynamics: {_label(path, card)}")
    ax.legend(fontsize=8)
    return _save(fig, plt, output)


@literal_text
def plot_loss(paths: list[str], output: str, window: int = 10) -> str:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for path in paths:
        card, records = read_run(path)
        steps = np.asarray([r["step"] for r in records])
        ax.plot(steps, smooth(np.asarray([r["loss"] for r in records], dtype=float), window), label=legend_label(_label(path, card)))
    ax.set(xlabel="training step", ylabel=f"training loss (moving average, {window} steps)", title="Training loss")
    ax.legend(fontsize=8)
    return _save(fig, plt, output)


def _save(fig, plt, output: str) -> str:
    from ..figures import save_figure

    fig.tight_layout()
    try:
        return str(save_figure(fig, Path(output), dpi=150))
    finally:
        plt.close(fig)


@dataclass(frozen=True)
class PlotKind:
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _common(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("-o", "--output", default=default, help=f"image file, .png or .pdf (default {default})")
    parser.add_argument("--window", type=int, default=10, help="moving-average window in steps")


def _dynamics_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a Match-Tuning checkpoint folder written by rbm train")
    _common(parser, "match_dynamics.png")


def _loss_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoints", nargs="+", help="checkpoint folders written by rbm train")
    _common(parser, "training_loss.png")


def _print(path: str) -> int:
    print(path)
    return 0


DYNAMICS = PlotKind(_dynamics_args, lambda a: _print(plot_dynamics(a.checkpoint, a.output, a.window)))
LOSS = PlotKind(_loss_args, lambda a: _print(plot_loss(a.checkpoints, a.output, a.window)))
