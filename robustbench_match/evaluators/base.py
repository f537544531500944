"""What every suite's evaluator shares: cells, their keys, and the evaluator interface.

A *cell* is the unit of work and of resumption: one (suite, model, eval set, condition, seed).
The runner asks an evaluator to ``plan`` the cells of a suite, skips cells already stored,
materialises each cell's checkpoint (given on the command line, or trained by the bundled
trainer for training-time conditions) and calls ``evaluate``. Evaluators never write results
themselves, so every suite gets atomic storage, resumption and tables for free.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from ..checkpoints import GLUE_DEV, EvalSetRef
from ..errors import RBMError
from ..inputs import check_name, check_seed, inside, path_component
from ..tasks import TASKS, get_task
from .params import SuiteParams, suite_params

if TYPE_CHECKING:
    from ..checkpoints import Predictor
    from ..tasks import TaskSpec
    from ..data import Examples
    from ..suites import Suite


@dataclass(frozen=True)
class CheckpointRef:
    """One ``--checkpoint NAME=PATH``. NAME is ``[TASK/][CONDITION/][seed-N/]MODEL`` in any order
    before MODEL, e.g. ``vanilla``, ``sst2/vanilla``, ``rte/noise-10/seed-1/mine``."""

    model: str
    path: str
    task: Optional[str] = None
    condition: Optional[str] = None
    seed: Optional[int] = None

    @classmethod
    def parse(cls, spec: str) -> "CheckpointRef":
        if "=" not in spec:
            raise RBMError(f"--checkpoint {spec!r}: expected NAME=PATH (e.g. vanilla=runs/sst2-vanilla)")
        name, path = spec.split("=", 1)
        return cls.from_name(name, path, spec)

    @classmethod
    def from_name(cls, name: str, path: str, spec: Optional[str] = None) -> "CheckpointRef":
        """NAME and PATH given apart (the Python API): a NAME may hold ``=`` (``bert lr=1e-4``) and stays whole."""
        spec = f"{name}={path}" if spec is None else spec
        tokens = [t for t in name.strip().split("/") if t]
        if not tokens or not path.strip():
            raise RBMError(f"--checkpoint {spec!r}: empty name or path (expected NAME=PATH)")
        model, task, condition, seed = check_name(tokens[-1], f"--checkpoint {spec[:60]!r}", "MODEL"), None, None, None
        for tok in tokens[:-1]:
            m = re.fullmatch(r"seed-?(\d{1,10})", tok)
            if m:
                seed = check_seed(int(m.group(1)), f"--checkpoint {spec[:60]!r}: seed")
            elif tok in TASKS:
                task = get_task(tok).name
            elif condition is None:
                _check_condition_token(spec, tok)
                condition = tok
            else:
                raise RBMError(f"--checkpoint {spec!r}: cannot read {tok!r} (expected TASK/CONDITION/seed-N/MODEL)")
        return cls(model, path.strip(), task, condition, seed)


def _check_condition_token(spec: str, tok: str) -> None:
    """A name token that is neither a task nor seed-N must be a condition (clean, noise-10, minority-30):
    a mistyped task (``rtee/mine``) must not silently become a condition of its own."""
    import difflib

    from ..conditions.base import parse_condition

    try:
        parse_condition(tok)
    except RBMError:
        close = difflib.get_close_matches(tok.lower(), TASKS.names(), n=1, cutoff=0.6)
        hint = f"; did you mean the task {close[0]!r}?" if close else ""
        raise RBMError(f"--checkpoint {spec!r}: {tok!r} is neither a task nor a condition (clean, noise-PCT, "
                       f"minority-PCT){hint} (expected [TASK/][CONDITION/][seed-N/]MODEL)") from None


def limit_eval(examples: "Examples", ctx: "RunContext") -> "Examples":
    """``rbm run --limit N [--limit-seed S]``: a seeded sample of N rows of each eval set."""
    from ..data import sample_eval

    limit = (ctx.options or {}).get("limit")
    return sample_eval(examples, limit, int((ctx.options or {}).get("limit_seed") or 0)) if limit else examples


@dataclass
class TrainRequest:
    """A checkpoint the runner must train with the bundled trainer before the cell can be evaluated."""

    config: Any  # robustbench_match.training.TrainConfig
    train_examples: Optional[Callable[[], "Examples"]] = None  # builds the (perturbed) training set
    expected_sha256: Optional[str] = None  # external checkpoints for this cell must carry this data hash
    data: Optional[dict] = None  # JSON recipe of the training set (planning.build_train_examples); None: the split


@dataclass
class Cell:
    suite: str
    model: str
    task: str
    eval_set: str
    condition: str = "clean"
    seed: Optional[int] = None
    checkpoint: Optional["Predictor"] = None
    checkpoint_ref: Optional[CheckpointRef] = None
    train: Optional[TrainRequest] = None
    params: dict = field(default_factory=dict)
    #: the data the cell scores, as a predictions file names it; default: the task's GLUE dev set
    eval_ref: Optional[EvalSetRef] = None
    #: what decides the cell's number (see robustbench_match.cells.fingerprint); set by the runner
    fingerprint: Optional[dict] = None

    def __post_init__(self) -> None:
        if self.eval_ref is None:
            self.eval_ref = EvalSetRef(GLUE_DEV, self.eval_set)

    @property
    def key(self) -> str:
        seed = "-" if self.seed is None else str(self.seed)
        return f"{self.suite}|{self.model}|{self.eval_set}|{self.condition}|{seed}"

    @property
    def slug(self) -> str:
        """A file-name-safe id for the cell's own files (predictions, attack logs, trained checkpoints)."""
        seed = "none" if self.seed is None else str(self.seed)
        leaf = f"{path_component(self.eval_set)}__{path_component(self.condition)}__seed-{seed}"
        return f"{path_component(self.suite)}/{path_component(self.model)}/{leaf}"


@dataclass
class CellResult:
    """What an evaluator returns; the runner adds provenance and stores it."""

    metrics: dict[str, float]
    main_metric: str
    n_examples: int
    data_source: str
    data_sha256: str
    predictions: Optional[np.ndarray] = None  # per example, in dataset order (label ids or scores)
    example_ids: Optional[np.ndarray] = None  # dataset index of each prediction
    labels: Optional[np.ndarray] = None  # gold labels, saved beside predictions for re-scoring
    details: dict = field(default_factory=dict)  # e.g. group sizes, attack settings
    #: more per-example columns for the predictions file (perturbed texts, clean predictions), in dataset order
    columns: dict[str, list] = field(default_factory=dict)
    #: (labels, predictions, main metric) the degenerate-model guard judges, when not the cell's own: a model is
    #: judged on its clean eval set (an MFT test expects one label of every case; a perturbation that makes a
    #: model one-sided is a finding about robustness, not a one-class model)
    guard: Optional[tuple] = None
    #: files the cell's predictions refer to, written beside them under the run folder with --save-predictions
    #: (relative path → text); content-addressed names let cells share one (the perturbed texts of a family)
    attachments: dict[str, str] = field(default_factory=dict)


class Evaluator:
    """Base class. Subclasses register with ``@EVALUATORS.register("name")``."""

    #: name of the table layout (``evaluators.KINDS``; its function in the kind's layout.py): how `rbm table` draws it
    layout: str = "tasks"
    #: the suite ``params`` dataclass (evaluators.params), checked when the suite file loads
    params_class: type = SuiteParams

    def params(self, suite: "Suite") -> SuiteParams:
        return suite_params(suite, self.params_class)

    def task_problem(self, task: "TaskSpec") -> Optional[str]:
        """Why this evaluator cannot run on ``task`` (a phrase), or None: ``--tasks`` may add any task that
        fits. Clean evaluation fits every task."""
        return None

    def plan(self, suite: "Suite", ctx: "RunContext") -> list[Cell]:
        raise NotImplementedError

    def evaluate(self, cell: Cell, ctx: "RunContext") -> CellResult:
        raise NotImplementedError

    def examples(self, cell: Cell, ctx: "RunContext") -> "Examples":
        """The examples a cell scores (here: its task's GLUE dev split); :meth:`check` measures against them."""
        from ..data import load_split

        task = get_task(cell.task)
        return limit_eval(load_split(task, task.eval_splits()[cell.eval_set], ctx.data_dir), ctx)

    def check(self, cells: list[Cell], ctx: "RunContext") -> None:
        """Check every cell's checkpoint against its data (prediction counts, labels, tasks) before any cell
        runs, so that a run stops before its first cell with one line, or not at all (issue 13)."""
        loaded: dict[tuple, "Examples"] = {}

        def examples(cell: Cell) -> "Examples":
            key = (cell.task, cell.eval_set, cell.eval_ref, repr(sorted(cell.params.items(), key=str)))
            if key not in loaded:
                loaded[key] = self.examples(cell, ctx)
            return loaded[key]

        for cell in cells:
            check = getattr(cell.checkpoint, "check", None)
            if check is not None:
                check(get_task(cell.task), cell.eval_ref, lambda c=cell: examples(c))


@dataclass
class RunContext:
    """Everything a run was asked for on the command line, shared by the runner and evaluators."""

    output: Path
    checkpoints: list[CheckpointRef] = field(default_factory=list)
    data_dir: Optional[str] = None
    tasks: Optional[list[str]] = None  # --tasks restriction (canonical names)
    methods: Optional[list[str]] = None  # --methods (training-time suites)
    seeds: Optional[list[int]] = None  # --seeds (training-time suites)
    device: str = "auto"
    precision: str = "auto"
    batch_size: int | str = 64  # or "auto" (checkpoints choose it: inference.choose_batch_size)
    max_length: Optional[int] = None
    force: bool = False
    save_predictions: bool = False
    options: dict = field(default_factory=dict)  # suite-specific command-line options (e.g. --recipe)
    train_overrides: dict = field(default_factory=dict)  # --epochs/--max-train-examples for trained cells
    include: list[str] = field(default_factory=list)  # --include-path folders (user tasks travel to workers)
    store: Optional[Any] = field(default=None, repr=False)  # a results.MemoryStore (Python API, no --output)

    _open: dict = field(default_factory=dict, repr=False)

    def open(self, ref: CheckpointRef) -> "Predictor":
        """The checkpoint behind a ref, opened once per path (a model is loaded once per run)."""
        from ..checkpoints import open_checkpoint

        if ref.path not in self._open:
            self._open[ref.path] = open_checkpoint(ref.model, ref.path, **self.predictor_options())
        return self._open[ref.path]

    def result_store(self):
        """Where records go: ``OUTPUT/results.jsonl``, or the in-memory store of ``evaluate(output=None)``."""
        from ..results import ResultStore

        return self.store if self.store is not None else ResultStore(self.output)

    def predictor_options(self) -> dict:
        return {"device": self.device, "precision": self.precision, "batch_size": self.batch_size,
                "max_length": self.max_length}

    def cell_dir(self, cell: Cell) -> Path:
        """A private folder for a cell's working files (e.g. partial attack logs); created on demand."""
        path = inside(self.output, self.output / "cells" / cell.slug, f"the files of cell {cell.key}")
        path.mkdir(parents=True, exist_ok=True)
        return path

