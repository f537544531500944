"""AdvGLUE (Wang et al., 2021; paper Table 2): each GLUE checkpoint on its task's adversarial dev set,
beside its clean GLUE-dev score, so the table can show the drop.

Cells: condition ``adversarial`` (AdvGLUE dev) and ``clean`` (GLUE dev, scored exactly as the ``glue``
suite scores it), eval sets named as in GLUE (``sst2`` … ``mnli-m``, ``mnli-mm``), so the clean cells
are ordinary GLUE cells. AdvGLUE dev was built from GLUE *dev*: checkpoints this suite trains itself
only ever see the GLUE *train* split, and a task without one is skipped, never trained on dev data.
"""
from __future__ import annotations

import json
import logging
from typing import Optional

import numpy as np

from ...checkpoints import ADVGLUE, GLUE_DEV, EvalSetRef
from ...data import Examples, find_in_data_dir, hub_progress, resolve_data_dir
from ...errors import DataError, RBMError
from ...tasks import TaskSpec, get_task
from ..base import Cell, CellResult, Evaluator, RunContext, limit_eval
from .params import AdvGlueParams
from ..planning import Scoring, plan_grid, split_available
from ..scoring import score_examples
from .scoring import SCORE, SUBSETS, subset_score

log = logging.getLogger(__name__)

HUB_ADVGLUE = "AI-Secure/adv_glue"
# ---------------------------------------------------------------------------- data
def load_advglue(eval_set: str, data_dir: Optional[str] = None) -> Examples:
    """One AdvGLUE dev subset: ``ROOT/advglue/dev.json`` when a data dir is set, else the hub."""
    if eval_set not in SUBSETS:
        raise RBMError(f"advglue: unknown subset {eval_set!r} (expected one of {', '.join(SUBSETS)})")
    task, key, config = SUBSETS[eval_set]
    spec = get_task(task)
    root = resolve_data_dir(data_dir)
    if root is None:
        return _from_hub(spec, config)
    folder = find_in_data_dir(root, "advglue", "adv_glue", "AdvGLUE")
    path = folder / "dev.json" if folder is not None else None
    if path is None or not path.is_file():
        raise DataError(f"{root}: no advglue/dev.json (expected {root}/advglue/dev.json from the AdvGLUE release)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or key not in data:
        raise DataError(f"{path}: no key {key!r} (expected an object with {', '.join(v[1] for v in SUBSETS.values())})")
    return _examples(spec, data[key], f"{path}#{key}")


def _from_hub(spec: TaskSpec, config: str) -> Examples:
    import datasets

    try:
        with hub_progress(f"hub dataset {HUB_ADVGLUE}/{config}"):
            ds = datasets.load_dataset(HUB_ADVGLUE, config, split="validation")
    except Exception as exc:  # offline or renamed: one message either way
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"hub dataset {HUB_ADVGLUE}/{config}: could not load ({first}); pass --data-dir with "
                        f"advglue/dev.json to work offline") from None
    return _examples(spec, list(ds), f"hub:{HUB_ADVGLUE}/{config}/validation")


def _examples(spec: TaskSpec, rows: list, source: str) -> Examples:
    fields = (*spec.text_keys, "label")
    for i, row in enumerate(rows):
        missing = [f for f in fields if not isinstance(row, dict) or f not in row]
        if missing:
            raise DataError(f"{source}: row {i} lacks {missing} (expected fields {list(fields)})")
    labels = np.asarray([row["label"] for row in rows], dtype=np.int64)
    bad = np.flatnonzero((labels < 0) | (labels >= spec.num_labels))
    if len(bad):
        raise DataError(f"{source}: row {bad[0]}: label {labels[bad[0]]} is not a {spec.name} label id "
                        f"(0..{spec.num_labels - 1}: {', '.join(spec.label_names)})")
    idx = np.asarray([row.get("idx", i) for i, row in enumerate(rows)], dtype=np.int64)
    return Examples(spec, "validation", {k: [str(row[k]) for row in rows] for k in spec.text_keys}, labels, idx, source)


# ---------------------------------------------------------------------------- the evaluator
def _eval_ref(eval_set: str, condition: str) -> EvalSetRef:
    """How a predictions file names a cell's data in this suite: bare keys are the adversarial sets."""
    if condition == "adversarial":
        return EvalSetRef(ADVGLUE, eval_set)
    return EvalSetRef(GLUE_DEV, eval_set, plain=False)


class AdvGlueEvaluator(Evaluator):
    layout = "advglue"
    params_class = AdvGlueParams

    def eval_sets(self, suite, task: str) -> dict[str, str]:
        return {s: SUBSETS[s][0] for s in self.params(suite).subsets if SUBSETS[s][0] == task}

    def plan(self, suite, ctx: RunContext) -> list[Cell]:
        """Adversarial cells (bare predictions-file keys are the AdvGLUE sets, as in AdvGLUE submissions)
        and, with ``params.clean``, the same models on clean GLUE dev; trained cells share one checkpoint."""
        params = self.params(suite)
        scorings = [Scoring("adversarial", ADVGLUE)]
        if params.clean:
            scorings.append(Scoring("clean", GLUE_DEV, plain_keys=False, absent="clean score and drop skipped",
                                    note_absent_tasks=False))
        cells = plan_grid(suite, ctx, eval_sets=lambda t: self.eval_sets(suite, t), scorings=scorings,
                          params=params,
                          nothing=f"suite {suite.name}: give the GLUE checkpoints to attack "
                                  f"(--checkpoint sst2/NAME=PATH), or methods to train (--methods vanilla)")
        return [c for c in cells if c.condition == "adversarial" or self._clean_ok(c, ctx)]

    def _clean_ok(self, cell: Cell, ctx: RunContext) -> bool:
        split = get_task(cell.task).eval_splits()[cell.eval_set]
        missing = split_available(cell.task, split, ctx.data_dir)
        if missing:
            log.warning("suite %s: %s; no clean score (nor drop) for %s/%s", cell.suite, missing, cell.model,
                        cell.eval_set)
        return missing is None

    def examples(self, cell: Cell, ctx: RunContext) -> Examples:
        """AdvGLUE dev for adversarial cells; GLUE dev, exactly as the glue suite reads it, for clean ones."""
        if cell.condition == "clean":
            return super().examples(cell, ctx)
        return limit_eval(load_advglue(cell.eval_set, ctx.data_dir), ctx)

    def evaluate(self, cell: Cell, ctx: RunContext) -> CellResult:
        result = score_examples(cell, self.examples(cell, ctx))
        result.metrics[SCORE] = subset_score(cell.task, result.metrics)
        result.main_metric = SCORE
        return result
