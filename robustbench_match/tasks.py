"""The task registry: the nine GLUE tasks, their inputs, label order, metrics and file layouts.

Label names and ids follow the Hugging Face ``glue`` dataset, so a checkpoint's ``id2label``
can be checked (and remapped) against them by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .registry import Registry


@dataclass(frozen=True)
class LocalLayout:
    """How the classic ``glue_data/<TASK>/`` folder stores a task (header, columns, label form)."""

    header: bool = True
    # field (HF text key or "label") -> TSV header name, or column index when there is no header
    columns: dict[str, str | int] = field(default_factory=dict)
    label_form: str = "int"  # "int" (HF ids), "name" (label names), or "float" (regression)


@dataclass(frozen=True)
class TaskSpec:
    """One GLUE task. ``eval_sets`` maps the names used in results and tables to dataset splits."""

    name: str  # Hugging Face glue config name
    display: str  # name used in tables
    glue_dir: str  # folder name in the classic glue_data layout
    text_keys: tuple[str, ...]
    label_names: Optional[tuple[str, ...]]  # None for regression
    metrics: tuple[str, ...]
    main_metric: str
    layout: LocalLayout
    split_files: dict[str, str] = field(default_factory=lambda: {"train": "train", "validation": "dev"})
    eval_sets: dict[str, str] = field(default_factory=dict)

    @property
    def is_regression(self) -> bool:
        return self.label_names is None

    @property
    def num_labels(self) -> int:
        return 1 if self.label_names is None else len(self.label_names)

    @property
    def is_pair(self) -> bool:
        return len(self.text_keys) == 2

    def eval_splits(self) -> dict[str, str]:
        return self.eval_sets or {self.name: "validation"}


TASKS: Registry[TaskSpec] = Registry("task")


def _add(spec: TaskSpec, *aliases: str) -> None:
    TASKS.register(spec.name, spec, aliases=(spec.glue_dir, *aliases))


_add(TaskSpec("cola", "CoLA", "CoLA", ("sentence",), ("unacceptable", "acceptable"),
              ("matthews_correlation",), "matthews_correlation",
              LocalLayout(header=False, columns={"sentence": 3, "label": 1})))
_add(TaskSpec("sst2", "SST-2", "SST-2", ("sentence",), ("negative", "positive"),
              ("accuracy",), "accuracy",
              LocalLayout(columns={"sentence": "sentence", "label": "label"})), "sst")
_add(TaskSpec("mrpc", "MRPC", "MRPC", ("sentence1", "sentence2"), ("not_equivalent", "equivalent"),
              ("f1", "accuracy"), "f1",
              LocalLayout(columns={"sentence1": "#1 String", "sentence2": "#2 String", "label": "Quality"})))
_add(TaskSpec("stsb", "STS-B", "STS-B", ("sentence1", "sentence2"), None,
              ("spearmanr", "pearson"), "spearmanr",
              LocalLayout(columns={"sentence1": "sentence1", "sentence2": "sentence2", "label": "score"},
                          label_form="float")), "sts")
_add(TaskSpec("qqp", "QQP", "QQP", ("question1", "question2"), ("not_duplicate", "duplicate"),
              ("f1", "accuracy"), "f1",
              LocalLayout(columns={"question1": "question1", "question2": "question2", "label": "is_duplicate"})))
_add(TaskSpec("mnli", "MNLI", "MNLI", ("premise", "hypothesis"), ("entailment", "neutral", "contradiction"),
              ("accuracy",), "accuracy",
              LocalLayout(columns={"premise": "sentence1", "hypothesis": "sentence2", "label": "gold_label"},
                          label_form="name"),
              split_files={"train": "train", "validation_matched": "dev_matched",
                           "validation_mismatched": "dev_mismatched"},
              eval_sets={"mnli-m": "validation_matched", "mnli-mm": "validation_mismatched"}),
     "mnli-m", "mnli-mm", "mnli_matched", "mnli_mismatched")
_add(TaskSpec("qnli", "QNLI", "QNLI", ("question", "sentence"), ("entailment", "not_entailment"),
              ("accuracy",), "accuracy",
              LocalLayout(columns={"question": "question", "sentence": "sentence", "label": "label"},
                          label_form="name")))
_add(TaskSpec("rte", "RTE", "RTE", ("sentence1", "sentence2"), ("entailment", "not_entailment"),
              ("accuracy",), "accuracy",
              LocalLayout(columns={"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"},
                          label_form="name")))
_add(TaskSpec("wnli", "WNLI", "WNLI", ("sentence1", "sentence2"), ("not_entailment", "entailment"),
              ("accuracy",), "accuracy",
              LocalLayout(columns={"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"})))

GLUE_TASKS: tuple[str, ...] = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")


def get_task(name: str) -> TaskSpec:
    """Look a task up by HF config name or glue_data folder name, case-insensitively."""
    return TASKS.get(name)


def eval_set_display(task: TaskSpec, eval_set: str) -> str:
    """Column header for an eval set: ``SST-2``, ``MNLI-m``, ``MNLI-mm``."""
    if eval_set == task.name:
        return task.display
    suffix = eval_set[len(task.name):] if eval_set.startswith(task.name) else "-" + eval_set
    return task.display + suffix
