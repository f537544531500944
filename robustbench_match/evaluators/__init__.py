"""Suite kinds: one folder each (``evaluators/<kind>/``: ``evaluator.py``, ``params.py``, ``layout.py``), and
this one index of their names. Adding a kind = one folder + one line in :data:`KINDS`.

The index is lazy (``module:attr`` strings) and this module imports nothing heavy, so ``rbm suites`` (which
reads every kind's params) never imports torch, datasets or textattack. Shared machinery lives beside the
folders: ``base`` (Cell, Evaluator, RunContext), ``params`` (the typed-params base), ``planning`` (grids
of checkpoints × seeds × conditions) and ``scoring`` (examples → metrics → CellResult).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..registry import Registry

_P = "robustbench_match.evaluators."


@dataclass(frozen=True)
class Kind:
    """Where a suite kind's parts live: ``folder`` under evaluators/, its evaluator and params classes, and the
    table layouts (the ``layout`` names its records carry → functions of ``folder/layout.py``)."""

    folder: str
    evaluator: str
    params: str
    layouts: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    "glue": Kind("glue", "GlueEvaluator", "GlueParams", {"tasks": "tasks_layout"}),
    "advglue": Kind("advglue", "AdvGlueEvaluator", "AdvGlueParams", {"advglue": "advglue_layout"}),
    "label-noise": Kind("training_conditions", "LabelNoiseEvaluator", "TrainingConditionParams",
                        {"label-noise": "label_noise_layout"}),
    "minority": Kind("training_conditions", "MinorityEvaluator", "TrainingConditionParams",
                     {"minority": "minority_layout"}),
    "mnli-negation": Kind("groups", "GroupEvaluator", "GroupParams", {"groups": "groups_layout"}, ("groups",)),
    "textattack": Kind("textattack", "TextAttackEvaluator", "TextAttackParams", {"attack": "attack_layout"}),
    "perturbation": Kind("perturbation", "PerturbationEvaluator", "PerturbationParams",
                         {"perturbation": "perturbation_layout"}, ("checklist",)),
}

#: the registries the rest of the package reads, all built from :data:`KINDS` (plugins may register more)
EVALUATORS: Registry = Registry("evaluator")
PARAMS: Registry = Registry("evaluator")
LAYOUTS: Registry = Registry("table layout")
for _name, _kind in KINDS.items():
    EVALUATORS.register(_name, f"{_P}{_kind.folder}.evaluator:{_kind.evaluator}", aliases=_kind.aliases)
    PARAMS.register(_name, f"{_P}{_kind.folder}.params:{_kind.params}", aliases=_kind.aliases)
    for _layout, _fn in _kind.layouts.items():
        LAYOUTS.register(_layout, f"{_P}{_kind.folder}.layout:{_fn}")

__all__ = ["KINDS", "Kind", "EVALUATORS", "PARAMS", "LAYOUTS"]
