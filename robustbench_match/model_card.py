"""A Hugging Face Hub model card (``README.md``) whose ``model-index`` holds one model's stored results.

Why through ``huggingface_hub``: the Hub renders ``model-index`` and leaderboards read it, so the card is built
with the library's own ``ModelCardData`` / ``EvalResult`` (no hand-written YAML) and read back with its own
parser in the tests. Each stored record of the model becomes one ``EvalResult``: the dataset (hub id, config,
split), the record's main metric and value exactly as stored, the condition (clean, an attack, a perturbation
family and seed, advGLUE) in the metric's name and config, and rbm's version, the suite and the cell's
fingerprint as the source. Nothing is re-run.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

from ._version import __version__
from .errors import RBMError
from .tasks import get_task

log = logging.getLogger(__name__)

SOURCE = "robustbench-match"
#: where a card's results come from, when the run has no URL of its own (--source-url)
SOURCE_URL = f"https://pypi.org/project/robustbench-match/{__version__}/"
ADVGLUE_HUB = "AI-Secure/adv_glue"


def model_records(records: list[dict], model: str, seed: Optional[int]) -> list[dict]:
    """The records of ``model`` (one training seed); one line when the name or the seed is ambiguous."""
    mine = [r for r in records if r["model"] == model]
    if not mine:
        names = sorted({r["model"] for r in records})
        raise RBMError(f"--model {model}: no such model in these results (models: {', '.join(names) or 'none'})")
    seeds = sorted({r.get("seed") for r in mine}, key=lambda s: (s is None, s))
    if seed is None and len(seeds) > 1:
        raise RBMError(f"--model {model}: results for {len(seeds)} seeds ({', '.join(map(str, seeds))}); a model "
                       f"card describes one checkpoint — give --seed")
    if seed is not None:
        mine = [r for r in mine if r.get("seed") == seed]
        if not mine:
            raise RBMError(f"--seed {seed}: model {model} has results for seeds {', '.join(map(str, seeds))} only")
    return sorted(mine, key=lambda r: (r["task"], r["eval_set"], r["condition"], r["key"]))


def _dataset(record: dict) -> tuple[str, Optional[str], str, str]:
    """(hub id, config, split, display name) of the data a record scored."""
    task = get_task(record["task"])
    split = task.eval_splits().get(record["eval_set"], record["eval_set"])
    if record.get("evaluator") == "advglue" and record["condition"] == "adversarial":
        return ADVGLUE_HUB, f"adv_{task.name}", "validation", f"AdvGLUE adv{task.display}"
    hub = task.dataset_path or task.name
    return hub, task.dataset_name, split, f"{task.display} ({split})"


def condition_text(record: dict) -> str:
    """What the metric was measured under, in words: clean, under an attack, a perturbation family and seed."""
    condition = record["condition"] or "clean"
    details = record.get("details") or {}
    if condition.startswith("perturb:") or details.get("family"):
        return f"{details.get('family', condition)} perturbation (seed {details.get('perturbation_seed', '?')})"
    if "attack:" in condition:
        head, recipe = condition.rsplit("attack:", 1)
        return f"{recipe} attack" + (f" on {head.rstrip('+')}" if head.rstrip("+") else "")
    return condition


def eval_result(record: dict, source_url: str = SOURCE_URL):
    """One ``EvalResult`` for a stored record (its main metric, exactly as stored)."""
    from huggingface_hub import EvalResult

    metric = record["main_metric"]
    value = (record.get("metrics") or {}).get(metric)
    if value is None:
        return None
    hub, config, split, display = _dataset(record)
    task = get_task(record["task"])
    fingerprint = ((record.get("fingerprint") or {}).get("sha256") or "")[:16]
    condition = record["condition"] or "clean"
    words = condition_text(record)
    return EvalResult(
        task_type="text-classification", task_name=f"{task.display} ({'regression' if task.is_regression else 'classification'})",
        dataset_type=hub, dataset_name=display if condition in ("clean", "adversarial") else f"{display}, {words}",
        dataset_config=config, dataset_split=split,
        metric_type=metric, metric_value=float(value),
        metric_name=metric if condition in ("clean", "adversarial") else f"{metric} under {words}",
        metric_config=condition, metric_args={"n_examples": int(record.get("n_examples") or 0),
                                              "seed": record.get("seed"), "cell": record["key"]},
        verified=False, source_name=f"{SOURCE} {__version__}: suite {record['suite']}, fingerprint {fingerprint}",
        source_url=source_url)


def build_card(records: list[dict], model: str, seed: Optional[int] = None, base: Optional[str] = None,
               source_url: Optional[str] = None):
    """The ``ModelCard`` of one model: metadata from ``huggingface_hub``, a short human-readable body."""
    from huggingface_hub import ModelCard, ModelCardData

    pairs = [(r, e) for r in model_records(records, model, seed) if (e := eval_result(r, source_url or SOURCE_URL))]
    mine, results = [r for r, _ in pairs], [e for _, e in pairs]
    if not results:
        raise RBMError(f"--model {model}: none of its records has a value for its main metric")
    checkpoint = mine[0].get("checkpoint") or {}
    base_model = base or _hub_base(checkpoint.get("base_model"))
    datasets = sorted({e.dataset_type for e in results})
    data = ModelCardData(model_name=model, eval_results=results, library_name="transformers",
                         pipeline_tag="text-classification", tags=["robustbench-match", "robustness"],
                         datasets=datasets, **({"base_model": base_model} if base_model else {}))
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{_body(mine, results, model, checkpoint)}")
    return card


def _hub_base(value) -> Optional[str]:
    """The base model's hub id when the record names one (a local folder is not a Hub reference)."""
    if not isinstance(value, str) or not value or value.startswith(("/", ".")) or value.count("/") != 1:
        return None
    return value


def _body(records: list[dict], results, model: str, checkpoint: dict) -> str:
    lines = [f"# {model}", "",
             f"Robustness results stored by [robustbench-match]({SOURCE_URL}) "
             f"{__version__}, one row per stored cell (nothing here was re-run to write this card). The metadata "
             f"above holds the same values as the Hub's `model-index`.", ""]
    if checkpoint.get("method"):
        lines += [f"Fine-tuned with method `{checkpoint['method']}`"
                  + (f" from `{checkpoint['base_model']}`" if checkpoint.get("base_model") else "")
                  + (f", seed {records[0].get('seed')}" if records[0].get("seed") is not None else "") + ".", ""]
    lines += ["| data | split | condition | metric | value | n |", "|---|---|---|---|---|---|"]
    for record, result in zip(records, results):
        lines.append(f"| {result.dataset_name} | {result.dataset_split} | {condition_text(record)} | "
                     f"{result.metric_type} | {result.metric_value:.4f} | {record.get('n_examples')} |")
    suites = sorted({r["suite"] for r in records})
    lines += ["", f"Suites: {', '.join(suites)}. Each value is one seed's score as stored in `results.jsonl` "
                  f"(its cell key is the metric's `cell` argument); compare methods with several seeds "
                  f"(`rbm table`, `rbm compare`), not with one card.", ""]
    return "\n".join(lines)


def merge_into(existing: Path, card) -> object:
    """An existing card with our results merged in: an entry for the same data, metric and condition is
    replaced, every other entry and the existing text are kept (what ``metadata_update`` does on the Hub)."""
    from huggingface_hub import ModelCard

    try:
        old = ModelCard.load(existing)
    except Exception as exc:  # noqa: BLE001 - huggingface_hub raises several types for a malformed card
        raise RBMError(f"{existing}: not a readable model card ({str(exc).splitlines()[0] if str(exc) else exc})") from None
    ours = card.data.eval_results or []
    kept = [e for e in (old.data.eval_results or []) if not any(e.is_equal_except_value(n) for n in ours)]
    old.data.eval_results = kept + ours
    old.data.model_name = old.data.model_name or card.data.model_name
    return old


def push(card, repo: str, records: list[dict], records_repo: Optional[str], model: str) -> list[str]:
    """Upload README.md to the model repo (and the model's records to a dataset repo) with ``HfApi``; the URLs."""
    from huggingface_hub import HfApi

    api = HfApi()
    urls = []
    try:
        urls.append(api.upload_file(path_or_fileobj=str(card).encode("utf-8"), path_in_repo="README.md", repo_id=repo,
                                    commit_message=f"robustbench-match {__version__}: results of {model}"))
        if records_repo:
            body = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode("utf-8")
            urls.append(api.upload_file(path_or_fileobj=body, path_in_repo=f"records/{_slug(model)}.jsonl",
                                        repo_id=records_repo, repo_type="dataset",
                                        commit_message=f"robustbench-match {__version__}: records of {model}"))
    except Exception as exc:  # noqa: BLE001 - offline mode, HTTP errors and connection errors: one line each
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RBMError(f"--push {repo}: the upload to {api.endpoint} failed ({type(exc).__name__}: {first}); the "
                       f"card on disk is complete — push it later, or check the repo name, the token and the network")
    return [str(u) for u in urls]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
