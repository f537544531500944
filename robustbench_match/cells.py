"""A cell as a self-contained JSON spec, and the fingerprint of what decides its number.

Why a spec: a cell must run anywhere — in this process, in a local worker, in a SLURM job on
another node — from one file that says what to score, where the data is, and the checkpoint or the
full training request (``rbm run-cell SPEC.json``). Paths in it are absolute.

Why a fingerprint: a stored record used to be reused by its name alone, so rerunning a cell with
another checkpoint, data folder or ``--num-examples`` printed the old number. The fingerprint hashes
what decides the number — the checkpoint's content (or the training request), the eval data's
sha256 and the evaluator's params — and the runner redoes a stored record whose fingerprint differs,
saying which part changed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Optional

from .checkpoints import checkpoint_digest
from .errors import RBMError

SPEC_VERSION = 1
PARTS = ("checkpoint", "eval_data", "evaluator", "task")
_PART_NAMES = {"checkpoint": "checkpoint (content or training request)", "eval_data": "eval data",
               "evaluator": "evaluator params", "task": "task file"}
#: TrainConfig fields that do not change the trained weights (where and how the run is kept)
_TRAIN_NOT_IDENTITY = ("output", "overwrite", "device", "log_every", "data_dir")

_split_cache: dict[tuple, Optional[str]] = {}


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def train_identity(request, data_dir: Optional[str]) -> dict:
    """What decides a trained checkpoint: every training setting but where it is written, and its data
    (the recipe and, where it can be computed here, the training set's sha256)."""
    cfg = dataclasses.asdict(request.config)
    for k in _TRAIN_NOT_IDENTITY:
        cfg.pop(k, None)
    sha = request.expected_sha256
    if sha is None and request.data is None:
        sha = _plain_train_sha(request.config.task, data_dir, request.config.max_train_examples)
    return {"train": cfg, "data": request.data, "train_data_sha256": sha}


def _plain_train_sha(task: str, data_dir: Optional[str], max_examples: Optional[int]) -> Optional[str]:
    """The sha256 the trainer will record for a task's (sampled) train split; None where it cannot be
    read here (the hub, or no local copy): the recipe then stands for the data."""
    from .data import resolve_data_dir

    from .tasks import get_task

    try:
        root = resolve_data_dir(data_dir)
    except RBMError:
        return None
    if root is None and get_task(task).data_files is None:
        return None
    key = (task, str(root), max_examples)
    if key not in _split_cache:
        from .data import load_train, training_pool

        try:
            _split_cache[key] = training_pool(load_train(task, root), max_examples).sha256
        except RBMError:
            _split_cache[key] = None
    return _split_cache[key]


# ---------------------------------------------------------------------------- the fingerprint
def fingerprint(suite, cell, ctx, eval_sha256: Optional[str]) -> dict:
    """``{"sha256": ..., "parts": {checkpoint, eval_data, evaluator, task}}``: each part hashed on its own, so
    a changed record can say which of them changed (``task``: the sha256 of the task's YAML file)."""
    if cell.train is not None and cell.train.config is not None and cell.checkpoint is None:
        checkpoint = train_identity(cell.train, ctx.data_dir)
    elif cell.checkpoint is not None and hasattr(cell.checkpoint, "digest"):  # in memory: its content
        checkpoint = cell.checkpoint.digest()
    elif cell.checkpoint is not None:
        checkpoint = checkpoint_digest(str(cell.checkpoint.path))
    else:
        checkpoint = {"kind": "none"}
    evaluator = {"evaluator": suite.evaluator, "params": suite.params, "cell_params": cell.params,
                 "eval_ref": dataclasses.asdict(cell.eval_ref) if cell.eval_ref is not None else None,
                 "max_length": ctx.max_length, "precision": ctx.precision}
    from .tasks import get_task

    parts = {"checkpoint": _sha(checkpoint), "eval_data": eval_sha256 or "unknown", "evaluator": _sha(evaluator),
             "task": get_task(cell.task).sha256 or "unknown"}
    return {"sha256": _sha(parts), "parts": parts}


def stale_reason(record: dict, fp: dict) -> Optional[str]:
    """None when ``record`` was made from what ``fp`` describes; else why it must be redone (one phrase).

    Records from before fingerprints are compared on what they carry, the eval data's sha256 (new weights
    in a reused checkpoint path cannot be told apart there; --force redoes such records)."""
    old = record.get("fingerprint")
    if not old:
        data = (record.get("data") or {}).get("sha256")
        if data and fp["parts"]["eval_data"] not in ("unknown", data):
            return f"its eval data changed (sha256 {data[:12]} → {fp['parts']['eval_data'][:12]})"
        return None
    if old.get("sha256") == fp["sha256"]:
        return None
    old_parts = old.get("parts") or {}
    # a record from before a part existed (the task file's, added with task YAML files) is compared on the
    # parts it has: it stays valid until one of those changes
    changed = [p for p in PARTS if p in old_parts and old_parts.get(p) != fp["parts"].get(p)]
    if not changed and old_parts and set(old_parts) < set(PARTS):
        return None
    what = ", ".join(_PART_NAMES[p] for p in changed) or "its fingerprint"
    return f"it was made with another {what}"


# ---------------------------------------------------------------------------- the spec
def _abs(path: Optional[str]) -> Optional[str]:
    if path in (None, ""):
        return path
    p = Path(path).expanduser()
    return str(p.resolve()) if p.exists() or path.startswith((".", "/", "~")) else path


def to_spec(suite, cell, ctx) -> dict:
    """The JSON spec of one planned cell (absolute paths, so it runs from any folder or node)."""
    ref = cell.checkpoint_ref
    if ref is None and cell.checkpoint is not None and cell.train is None:
        raise RBMError(f"cell {cell.key}: a checkpoint without its reference cannot travel")
    train = None
    if cell.train is not None:
        config = None
        if cell.train.config is not None:
            config = dataclasses.asdict(cell.train.config)
            config["output"] = _abs(config["output"])
            config["data_dir"] = _abs(config.get("data_dir"))
        train = {"config": config, "data": cell.train.data, "expected_sha256": cell.train.expected_sha256}
    return {
        "spec": SPEC_VERSION,
        "key": cell.key,
        "suite": {"name": suite.name, "description": suite.description, "evaluator": suite.evaluator,
                  "tasks": list(suite.tasks), "params": suite.params, "train": suite.train,
                  "metadata": suite.metadata, "path": str(suite.path) if suite.path else None},
        "cell": {"model": cell.model, "task": cell.task, "eval_set": cell.eval_set, "condition": cell.condition,
                 "seed": cell.seed, "params": cell.params,
                 "eval_ref": dataclasses.asdict(cell.eval_ref) if cell.eval_ref is not None else None},
        "checkpoint": None if ref is None else {"model": ref.model, "path": _abs(ref.path), "task": ref.task,
                                                "condition": ref.condition, "seed": ref.seed},
        "train": train,
        "run": {"output": _abs(str(ctx.output)), "data_dir": _abs(ctx.data_dir), "device": ctx.device,
                "precision": ctx.precision, "batch_size": ctx.batch_size, "max_length": ctx.max_length,
                "force": ctx.force, "save_predictions": ctx.save_predictions, "options": ctx.options,
                "include": [_abs(str(p)) for p in ctx.include]},
        "fingerprint": cell.fingerprint,
    }


def from_spec(spec: dict, where: str = "spec"):
    """(suite, cell, ctx) back from a spec; the cell's checkpoint is opened lazily by the runner."""
    from .checkpoints import EvalSetRef
    from .evaluators.base import Cell, CheckpointRef, RunContext, TrainRequest
    from .evaluators.params import parse_params
    from .evaluators.planning import build_train_examples
    from .suites import Suite

    if not isinstance(spec, dict) or spec.get("spec") != SPEC_VERSION:
        raise RBMError(f"{where}: not a cell spec of version {SPEC_VERSION} (expected the JSON that `rbm run` "
                       f"writes under RUN_DIR/jobs/specs/)")
    try:
        s, c, r = spec["suite"], spec["cell"], spec["run"]
        suite = Suite(name=s["name"], description=s.get("description", ""), evaluator=s["evaluator"],
                      tasks=list(s["tasks"]), params=dict(s.get("params") or {}), train=dict(s.get("train") or {}),
                      metadata=dict(s.get("metadata") or {}), path=Path(s["path"]) if s.get("path") else None)
        suite.typed_params = parse_params(suite.evaluator, suite.params, str(suite.path or where))
        from .tasks import load_task_files

        load_task_files(list(r.get("include") or []))  # user tasks, before the suite names them
        ctx = RunContext(output=Path(r["output"]), data_dir=r.get("data_dir"), device=r.get("device", "auto"),
                         precision=r.get("precision", "auto"), batch_size=r.get("batch_size", 64) if r.get("batch_size") == "auto" else int(r.get("batch_size", 64)),
                         max_length=r.get("max_length"), force=bool(r.get("force")),
                         save_predictions=bool(r.get("save_predictions")), options=dict(r.get("options") or {}),
                         include=list(r.get("include") or []))
        ref = None
        if spec.get("checkpoint"):
            ref = CheckpointRef(**spec["checkpoint"])
        train = None
        if spec.get("train"):
            t = spec["train"]
            config = None
            if t.get("config") is not None:
                from .training import TrainConfig

                config = TrainConfig(**t["config"])
                from .inputs import inside

                inside(ctx.output, config.output, f"{where}: the trained checkpoint")
            recipe, task, data_dir = t.get("data"), c["task"], ctx.data_dir
            train = TrainRequest(config=config, expected_sha256=t.get("expected_sha256"), data=recipe,
                                 train_examples=(lambda: build_train_examples(recipe, task, data_dir)) if recipe else None)
        eval_ref = EvalSetRef(**c["eval_ref"]) if c.get("eval_ref") else None
        cell = Cell(suite.name, c["model"], c["task"], c["eval_set"], c["condition"], c["seed"], None, ref, train,
                    dict(c.get("params") or {}), eval_ref, spec.get("fingerprint"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RBMError(f"{where}: malformed cell spec ({type(exc).__name__}: {exc})") from None
    if cell.key != spec.get("key"):
        raise RBMError(f"{where}: key {spec.get('key')!r} does not match its cell ({cell.key})")
    return suite, cell, ctx


def write_spec(path: Path, spec: dict) -> Path:
    from .results import atomic_write_text, dumps

    atomic_write_text(path, dumps(spec) + "\n")
    return path


def read_spec(path: str | os.PathLike) -> dict:
    p = Path(path)
    if not p.is_file():
        raise RBMError(f"{p}: no such cell spec (expected a JSON file written by `rbm run`)")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RBMError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
