"""Issue 21's STS-B diagnosis: does Match-Tuning fail on STS-B because of the train/inference gap?

Training applies M = softmax(rep·repᵀ/T) over the batch; inference sees a batch of one (M = [1]). Each
checkpoint is scored on all of STS-B dev twice from its unfolded head (``match_tuning_head.safetensors``,
written beside every Match-Tuning export): batch of one — z = rep, exactly what the exported model computes
(checked against it) — and with M applied over seeded random dev batches of the training batch size (16),
eval mode (no dropout), R seeded orderings averaged. If Spearman recovers with M, the failure is the gap.

    python results/paper-minilm/stsb_diagnosis.py CKPT [CKPT ...] --data-dir ../shared/data > OUT.md
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from scipy import stats as sps

from robustbench_match.checkpoints import HFCheckpoint
from robustbench_match.data import load_split
from robustbench_match.inference import tokenize
from robustbench_match.training.methods.match_tuning import HEAD_FILE


@torch.no_grad()
def cls_states(model, tokenizer, examples, batch_size: int = 64, max_length: int = 128) -> torch.Tensor:
    """The last hidden state's [CLS] vector of every example (eval mode): what ``dense`` sees in training."""
    out = []
    for start in range(0, len(examples), batch_size):
        part = examples.subset(np.arange(start, min(start + batch_size, len(examples))))
        enc = tokenizer.pad(tokenize(tokenizer, part.text_a, part.text_b, max_length), return_tensors="pt")
        out.append(model.base_model(**enc).last_hidden_state[:, 0])
    return torch.cat(out)


def head_of(folder: Path) -> tuple[dict[str, torch.Tensor], float]:
    with safe_open(str(folder / HEAD_FILE), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, float(f.metadata()["temperature"])


def predict(h: torch.Tensor, w: dict, temperature: float, order: np.ndarray | None, batch: int) -> np.ndarray:
    rep = h @ w["dense.weight"].T + w["dense.bias"]
    if order is None:  # batch of one: M = [1], z = rep
        z = rep
    else:
        z = torch.empty_like(rep)
        for start in range(0, len(order), batch):
            idx = torch.as_tensor(order[start:start + batch])
            r = rep[idx]
            z[idx] = torch.softmax(r @ r.T / temperature, dim=-1) @ r
    return (z @ w["head.weight"].T + w["head.bias"]).squeeze(-1).numpy()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--batch-size", type=int, default=16, help="the training batch size")
    p.add_argument("--orderings", type=int, default=5)
    args = p.parse_args()
    dev = load_split("stsb", "validation", args.data_dir)
    gold = np.asarray(dev.labels, dtype=float)
    rows = []
    for path in map(Path, args.checkpoints):
        ckpt = HFCheckpoint("diag", str(path))
        model, tokenizer = ckpt.load()
        model.eval()
        h = cls_states(model, tokenizer, dev)
        w, temperature = head_of(path)
        one = predict(h, w, temperature, None, 1)
        exported = np.asarray(ckpt.predict(dev), dtype=float)
        gap = float(np.max(np.abs(one - exported)))
        with_m = [sps.spearmanr(gold, predict(h, w, temperature, np.random.default_rng(r).permutation(len(dev)),
                                               args.batch_size)).statistic for r in range(args.orderings)]
        card = json.loads((path / "rbm_card.json").read_text())
        rows.append({"checkpoint": os.path.relpath(path.resolve(), Path(__file__).resolve().parent) if path.is_absolute() else str(path), "seed": card.get("seed"), "T": temperature,
                     "spearman_batch_of_one": float(sps.spearmanr(gold, one).statistic),
                     "spearman_with_M": float(np.mean(with_m)), "spearman_with_M_sd": float(np.std(with_m, ddof=1)),
                     "pred_sd_one": float(np.std(one)), "pred_sd_with_M": float(np.std(predict(
                         h, w, temperature, np.random.default_rng(0).permutation(len(dev)), args.batch_size))),
                     "max_abs_diff_vs_export": gap})
    print(f"STS-B dev (n = {len(dev)}), Spearman ×100; M over seeded random dev batches of {args.batch_size}, "
          f"mean ± sd over {args.orderings} orderings (eval mode). Batch of one = the exported model "
          "(max |difference| to its predictions in the last column).\n")
    print("| seed | T | batch of one | with M | sd of predictions (one / M) | max abs diff vs export |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {r['T']:g} | {100 * r['spearman_batch_of_one']:.2f} | {100 * r['spearman_with_M']:.2f} ± "
              f"{100 * r['spearman_with_M_sd']:.2f} | {r['pred_sd_one']:.3f} / {r['pred_sd_with_M']:.3f} | "
              f"{r['max_abs_diff_vs_export']:.1e} |")
    print("\n```json\n" + json.dumps(rows, indent=1) + "\n```")


if __name__ == "__main__":
    sys.exit(main())
