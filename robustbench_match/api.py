"""The Python API: ``evaluate``, ``train`` and ``table`` — what ``rbm run``, ``rbm train`` and ``rbm table`` do,
from a notebook, on a model still in memory or any framework's predict function.

Why a thin layer over the runner: the records ``evaluate`` returns are the very records ``rbm run`` stores
(same schema, same fingerprints, same degenerate-model guard), so a number never depends on the way in.

    >>> from robustbench_match import evaluate
    >>> result = evaluate("runs/sst2-mt", "glue-dev", tasks=["sst2"], data_dir="../shared/data")
    >>> result.to_pandas()[["model", "task", "main_metric", "score"]]
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from .errors import RBMError

#: suites whose cells the runner trains from a base model (a model passed to them is the base, copied)
_TRAINING_EVALUATORS = ("label-noise", "minority")


@dataclass
class EvalResult:
    """What :func:`evaluate` returns: the stored records (the schema of ``results.jsonl``), the folder they
    were written to (None when kept in memory) and, with ``save_predictions``, per-example predictions."""

    records: list[dict]
    output: Optional[Path] = None
    predictions: dict = field(default_factory=dict)

    def to_pandas(self):
        """One row per record: suite, model, task, eval set, condition, seed, main metric, its score, n,
        degenerate, and one column per stored metric (``metric/NAME``)."""
        import pandas as pd

        rows = []
        for r in self.records:
            row = {k: r.get(k) for k in ("suite", "model", "task", "eval_set", "condition", "seed", "main_metric")}
            row.update(score=r["metrics"].get(r["main_metric"]), n=r.get("n_examples"), degenerate=r.get("degenerate"))
            row.update({f"metric/{k}": v for k, v in r["metrics"].items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def table(self, fmt: str = "markdown", **kwargs) -> str:
        return table(self.records, format=fmt, **kwargs)

    def __repr__(self) -> str:
        return f"EvalResult({len(self.records)} records, output={self.output})"


def _predictor(label: str, model: Any, ctx) -> tuple[Optional[str], Any]:
    """(path for a CheckpointRef, an already-open predictor or None) for one model argument. An object's path
    is ``memory:LABEL`` / ``callable:LABEL`` with the whole label, so two objects never share one."""
    from .checkpoints import CallablePredictor, InMemoryModel

    name = label.rsplit("/", 1)[-1]
    if isinstance(model, (str, os.PathLike)):
        return str(model), None
    if isinstance(model, tuple) and len(model) == 2:
        return f"memory:{label}", InMemoryModel(name, model[0], model[1], key=label, **ctx.predictor_options())
    if callable(model):
        return f"callable:{label}", CallablePredictor(name, model, ctx.batch_size if ctx.batch_size != "auto" else 64, key=label)
    raise RBMError(f"model {name!r}: expected a folder or hub id, a (model, tokenizer) pair, or a callable "
                   f"(got {type(model).__name__})")


def _as_models(model: Any, name: str) -> dict[str, Any]:
    if model is None:
        return {}
    if isinstance(model, Mapping):
        return {str(k): v for k, v in model.items()}
    return {name: model}


def _save_base(model: Any, folder: Path) -> str:
    """A training suite's base model: a folder or hub id as is; an in-memory pair saved to ``folder`` (the
    trainer fine-tunes copies of it; the object passed is never touched)."""
    if isinstance(model, (str, os.PathLike)):
        return str(model)
    if isinstance(model, tuple) and len(model) == 2:
        model[0].save_pretrained(folder, safe_serialization=True)
        model[1].save_pretrained(folder)
        return str(folder)
    raise RBMError("a training-time suite trains from a base model: give a folder, a hub id or a (model, tokenizer) "
                   "pair (a callable cannot be fine-tuned)")


def evaluate(model: Any, suite: str, *, tasks: Optional[Sequence[str]] = None, data_dir: Optional[str] = None,
             output: Optional[str | os.PathLike] = None, seeds: Optional[Sequence[int]] = None,
             methods: Optional[Sequence[str]] = None, name: str = "model",
             include_path: Sequence[str | os.PathLike] = (), device: str = "auto", precision: str = "auto",
             batch_size: int | str = 64, max_length: Optional[int] = None, limit: Optional[int] = None,
             save_predictions: bool = False, force: bool = False, train: Optional[dict] = None,
             log_to: Optional[str | Sequence[str]] = None, log_dir: Optional[str | os.PathLike] = None,
             **suite_overrides: Any) -> EvalResult:
    """Run ``suite`` (a name or a YAML path) on ``model`` and return its records.

    ``model``: a checkpoint folder or hub id, an in-memory ``(model, tokenizer)`` pair, a callable mapping a
    batch of texts (or ``(a, b)`` pairs) to logits or labels, ``{name: model}`` for several, or None for a
    training-time suite that trains its own methods. Training-time suites (label-noise, minority) fine-tune
    copies of the model given (the object is never modified). ``name`` is the table row (``TASK/.../NAME``
    prefixes work as in ``--checkpoint``). ``suite_overrides`` are suite params (``ratios=[0.1]``), checked
    as ``--set`` is; ``train`` overrides the suite's ``train:`` block (``{"epochs": 1}``). ``log_to``
    (``"tensorboard,mlflow"`` or a list) logs the records, tables and examples as ``rbm run --log-to`` does.

    Without ``output`` nothing is kept on disk (checkpoints a training suite needs, and attack logs, live in a
    temporary folder removed at the end) and the records are the same as ``rbm run``'s.
    """
    from .checkpoints import CallablePredictor
    from .commands.run import with_params
    from .evaluators.base import CheckpointRef, RunContext
    from .inference import check_max_length, resolve_device, resolve_precision
    from .results import MemoryStore, ResultStore
    from .runner import execute, failure_summary, plan_suite
    from .suites import get_suite
    from .tasks import forget_user_tasks, get_task, load_task_files

    from .trackers import parse_log_to

    trackers = parse_log_to(log_to)
    forget_user_tasks()
    load_task_files(include_path)
    check_max_length(max_length)
    resolve_precision(resolve_device(device), precision)
    spec = get_suite(str(suite), list(include_path))
    spec = with_params(spec, [f"{k}={_yaml(v)}" for k, v in suite_overrides.items()])
    models = _as_models(model, name)
    with tempfile.TemporaryDirectory(prefix="rbm-evaluate-") as scratch:
        run_dir = Path(output) if output is not None else Path(scratch) / "run"
        store = None if output is not None else MemoryStore(run_dir)
        ctx = RunContext(output=run_dir, data_dir=data_dir, tasks=[get_task(t).name for t in tasks] if tasks else None,
                         methods=list(methods) if methods else None, seeds=list(seeds) if seeds else None,
                         device=device, precision=precision, batch_size=batch_size, max_length=max_length,
                         force=force, save_predictions=save_predictions,
                         options={"limit": limit, "limit_seed": 0} if limit else {},
                         include=[str(p) for p in include_path], store=store)
        if train:
            spec = dataclasses.replace(spec, train={**spec.train, **train})
        if spec.evaluator in _TRAINING_EVALUATORS and models:
            if len(models) > 1:
                raise RBMError(f"suite {spec.name}: trains from one base model (got {len(models)})")
            (only,) = models.values()
            base = Path(scratch) / "base"
            spec = dataclasses.replace(spec, train={**spec.train, "model": _save_base(only, base)})
        else:
            for label, m in models.items():
                path, predictor = _predictor(label, m, ctx)
                ref = CheckpointRef.from_name(label, path)
                if predictor is not None:
                    ctx._open[ref.path] = predictor
                    ctx.force = ctx.force or isinstance(predictor, CallablePredictor)  # no content to compare
                ctx.checkpoints.append(ref)
        if output is not None:
            ResultStore(run_dir).check_writable()
        modes = [(m[0], m[0].training) for m in models.values()
                 if isinstance(m, tuple) and len(m) == 2 and hasattr(m[0], "training")]
        try:
            outcome = execute(plan_suite(spec, ctx), ctx)
        finally:  # scoring switches a model to eval mode: give the caller's model back in the mode it came in
            for module, training in modes:
                module.train(training)
        if outcome.failed:
            raise RBMError(failure_summary(outcome.failed))
        if trackers and outcome.records:
            from .reports.tables import render, tables_for
            from .trackers import log_run

            log_run(trackers, outcome.records, run_dir, render(tables_for(outcome.records), "markdown"),
                    {"suite": spec.name, "evaluator": spec.evaluator, "params": spec.params, "train": spec.train,
                     "models": sorted(models)}, log_dir)
        return EvalResult(outcome.records, Path(output) if output is not None else None,
                          dict(store.predictions) if store is not None else {})


def _yaml(value: Any) -> str:
    import json

    return json.dumps(list(value) if isinstance(value, tuple) else value)


def train(method: str, task: str, output: str | os.PathLike, **settings: Any) -> str:
    """Fine-tune with a bundled method (``rbm train``'s arguments as keywords: seed, model, data_dir, epochs,
    lr, batch_size, max_train_examples, method_args={...}, include_path=[...]); returns the checkpoint
    folder, a plain Hugging Face folder with its ``rbm_card.json``."""
    from .tasks import forget_user_tasks, load_task_files
    from .training import TrainConfig
    from .training import train as _train

    forget_user_tasks()
    load_task_files(settings.pop("include_path", ()))
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise RBMError(f"train(): unknown setting(s) {', '.join(unknown)} (expected {', '.join(sorted(fields))})")
    return _train(TrainConfig(method=method, task=task, output=str(output), **settings))


def table(records: Sequence[dict] | EvalResult, layout: Optional[str] = None, format: str = "markdown",
          baseline: Optional[str] = None, suite: Optional[str] = None, majority_row: bool = False) -> str:
    """The tables ``rbm table`` prints, from records in memory (``EvalResult.records`` or read from
    ``results.jsonl``); ``layout`` keeps only tables of that layout (tasks, advglue, degradation, groups,
    attack, ...)."""
    from .reports.tables import render, tables_for
    from .tasks import register_record_tasks

    recs = list(records.records if isinstance(records, EvalResult) else records)
    register_record_tasks(recs)
    if layout is not None:
        recs = [r for r in recs if r.get("layout") == layout]
        if not recs:
            raise RBMError(f"table(): no records with layout {layout!r}")
    return render(tables_for(recs, baseline=baseline, suite=suite, majority_row=majority_row), format)

