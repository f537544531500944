"""Why a retrained STS-B Match-Tuning scores differently from Table 1's (issue 21's open question).

Compares, row by row, the saved STS-B dev predictions of models retrained with Table 1's settings
(budget/stsb-reproducibility: vanilla and Match-Tuning T = 0.5 seeds 1-3, the latter from stsb_diagnosis) with
Table 1's own (table1-glue). Reads saved predictions only; prints Markdown (stsb_reproducibility.md).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

HERE = Path(__file__).resolve().parent
NEW = HERE / "budget" / "stsb-reproducibility"
OLD = HERE / "table1-glue"


def predictions(run: Path, method: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(gold, prediction) of one saved STS-B predictions file, in dev order."""
    path = run / "predictions" / "pm-glue" / method / f"stsb__clean__seed-{seed}.jsonl"
    rows = sorted((json.loads(line) for line in path.read_text().splitlines() if line.strip()),
                  key=lambda r: r["idx"])
    return np.array([r["label"] for r in rows], float), np.array([r["prediction"] for r in rows], float)


def row(method: str, seed: int) -> str:
    gold, new = predictions(NEW, method, seed)
    gold_old, old = predictions(OLD, method, seed)
    assert np.array_equal(gold, gold_old), "the two files do not hold the same dev rows"
    return (f"| {method} | {seed} | {100 * spearmanr(old, gold).statistic:.2f} | {100 * spearmanr(new, gold).statistic:.2f}"
            f" | {old.std():.3f} / {new.std():.3f} | {pearsonr(old, new).statistic:.3f} | {np.abs(old - new).max():.2g} |")


def main() -> int:
    lines = ["STS-B dev (n = 1500): Table 1's models (trained by `rbm run pm-glue`, 2026-11-26) against the same",
             "settings retrained (`rbm train`, 1 thread; budget/stsb-reproducibility). Spearman ×100.", "",
             "| method | seed | Table 1 | retrained | sd of predictions (T1 / re) | Pearson(T1, re) | max abs diff |",
             "|---|---|---|---|---|---|---|"]
    for method in ("vanilla", "match-tuning"):  # every retrained seed that has saved predictions
        seeds = sorted(int(p.stem.rsplit("-", 1)[1]) for p in (NEW / "predictions" / "pm-glue" / method).glob("*.jsonl"))
        lines += [row(method, seed) for seed in seeds]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
