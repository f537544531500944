"""The standard TextAttack attack metrics, computed from per-example log rows.

Definitions follow ``textattack.metrics`` (AttackSuccessRate, WordsPerturbed, AttackQueries), so
numbers match what TextAttack prints, except that accuracies and rates are fractions in [0, 1] and
nothing is rounded. Computing them from the log (not from live result objects) is what lets a
resumed run report the same numbers as an uninterrupted one.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

import numpy as np

SUCCESS, FAILED, SKIPPED = "successful", "failed", "skipped"
RESULT_TYPES = (SUCCESS, FAILED, SKIPPED)

#: Columns of the per-example CSV log, in order.
LOG_FIELDS = ("position", "idx", "label", "result", "original_output", "perturbed_output", "num_queries",
              "num_words", "words_changed", "original_text", "perturbed_text", "original_text_b",
              "perturbed_text_b", "seconds")


def result_type(result: Any) -> str:
    """successful / failed / skipped for a TextAttack AttackResult (maximized counts as successful)."""
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult

    if isinstance(result, SkippedAttackResult):
        return SKIPPED
    if isinstance(result, FailedAttackResult):
        return FAILED
    return SUCCESS


def _columns(attacked_text: Any) -> tuple[str, str]:
    value = attacked_text.tokenizer_input
    return (value, "") if isinstance(value, str) else (value[0], value[1] if len(value) > 1 else "")


def log_row(result: Any, *, position: int, idx: int, label: int, seconds: float) -> dict:
    """One log row from a TextAttack AttackResult (texts split into the task's two columns)."""
    original = result.original_result.attacked_text
    perturbed = result.perturbed_result.attacked_text
    kind = result_type(result)
    changed = 0 if kind == SKIPPED else len(original.all_words_diff(perturbed))
    text_a, text_b = _columns(original)
    pert_a, pert_b = _columns(perturbed)
    return {"position": position, "idx": idx, "label": label, "result": kind,
            "original_output": int(result.original_result.output),
            "perturbed_output": int(result.perturbed_result.output),
            "num_queries": int(result.perturbed_result.num_queries), "num_words": len(original.words),
            "words_changed": changed, "original_text": text_a, "perturbed_text": pert_a,
            "original_text_b": text_b, "perturbed_text_b": pert_b, "seconds": round(seconds, 4)}


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def attack_metrics(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The six TextAttack metrics (plus counts and the clean → attacked accuracy drop) over log rows."""
    rows = list(rows)
    n = len(rows)
    kinds = [str(r["result"]) for r in rows]
    counts = {k: kinds.count(k) for k in RESULT_TYPES}
    if n == 0:
        return {"n_attacked": 0.0}
    attempted = counts[SUCCESS] + counts[FAILED]
    pct = [int(r["words_changed"]) * 100.0 / int(r["num_words"]) for r in rows
           if r["result"] == SUCCESS and int(r["num_words"]) > 0]
    original_accuracy = (n - counts[SKIPPED]) / n
    under_attack = counts[FAILED] / n
    return {
        "original_accuracy": original_accuracy,
        "accuracy_under_attack": under_attack,
        "accuracy_drop": original_accuracy - under_attack,
        "attack_success_rate": counts[SUCCESS] / attempted if attempted else 0.0,
        "avg_perturbed_word_pct": _mean([p for p in pct if p > 0]),
        "avg_words_per_input": _mean([int(r["num_words"]) for r in rows]),
        "avg_queries": _mean([int(r["num_queries"]) for r in rows if r["result"] != SKIPPED]),
        "n_attacked": float(n),
        "n_successful": float(counts[SUCCESS]),
        "n_failed": float(counts[FAILED]),
        "n_skipped": float(counts[SKIPPED]),
    }


def textattack_reference(results: list) -> dict[str, Optional[float]]:
    """TextAttack's own metric classes on live results (percentages, rounded as it prints them);
    used to check that ``attack_metrics`` reproduces them."""
    from textattack.metrics import AttackQueries, AttackSuccessRate, WordsPerturbed

    asr = AttackSuccessRate().calculate(results)
    words = WordsPerturbed().calculate(results)
    queries = AttackQueries().calculate(results)
    return {"original_accuracy": asr["original_accuracy"], "accuracy_under_attack": asr["attack_accuracy_perc"],
            "attack_success_rate": asr["attack_success_rate"], "avg_perturbed_word_pct": words["avg_word_perturbed_perc"],
            "avg_words_per_input": words["avg_word_perturbed"], "avg_queries": queries["avg_num_queries"]}
