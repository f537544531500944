"""The evaluator registry: one entry per kind of suite. Entries are lazy (``module:Class``) so that
listing suites never imports torch, datasets or textattack."""
from .base import EVALUATORS, CellResult, Cell, CheckpointRef, Evaluator, RunContext, TrainRequest

EVALUATORS.register("glue", "robustbench_match.evaluators.glue:GlueEvaluator")
EVALUATORS.register("advglue", "robustbench_match.evaluators.advglue:AdvGlueEvaluator")
EVALUATORS.register("label-noise", "robustbench_match.evaluators.training_conditions:LabelNoiseEvaluator")
EVALUATORS.register("minority", "robustbench_match.evaluators.training_conditions:MinorityEvaluator")
EVALUATORS.register("mnli-negation", "robustbench_match.evaluators.groups:GroupEvaluator", aliases=("groups",))
EVALUATORS.register("textattack", "robustbench_match.attacks.evaluator:TextAttackEvaluator")

__all__ = ["EVALUATORS", "Cell", "CellResult", "CheckpointRef", "Evaluator", "RunContext", "TrainRequest"]
