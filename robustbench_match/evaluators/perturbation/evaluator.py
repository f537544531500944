"""The ``perturbation`` suite: CheckList's invariance (INV) and directional (DIR) tests and its minimum
functionality tests (MFT) on any task rbm knows, with the paired statistics every other suite has.

Cells, per checkpoint and eval set: one per perturbation family and (for seeded families) perturbation seed,
condition ``perturb:FAMILY`` or ``perturb:FAMILY:seed-S``; and one per MFT template file that names the task,
condition ``mft:NAME``. A perturbation cell scores the clean eval set and its perturbed copy with the same model
and stores, beside the task's metrics on both, the **flip rate** over the rows the family really changed — rows
whose *model input* changed (token ids for a Hugging Face model, text for a callable): an uncased tokenizer
makes ``upper`` change nothing, and such rows are counted and left out of the flip rate, never scored as
robust. The drop is tested on the same rows (exact McNemar for accuracy, paired bootstrap otherwise). Rows the
family left alone are not re-predicted: their prediction is the clean one (inference is batch-invariant).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Optional

import numpy as np

from ...checkpoints import CallablePredictor, HFCheckpoint, PredictionsFile
from ...data import Examples
from ...errors import RBMError
from ...metrics import compute_metrics
from ...perturbations import FAMILIES, TEXTATTACK_FAMILIES, expectations, family_problem, perturb_examples
from ...tasks import get_task
from ..base import Cell, CellResult, Evaluator, RunContext
from ..planning import plan_grid
from .params import PerturbationParams

log = logging.getLogger(__name__)

PERTURB, MFT = "perturb:", "mft:"


def perturb_condition(family: str, seed: Optional[int]) -> str:
    return f"{PERTURB}{family}" if seed is None else f"{PERTURB}{family}:seed-{seed}"


class PerturbationEvaluator(Evaluator):
    layout = "perturbation"
    params_class = PerturbationParams

    def __init__(self) -> None:
        self._clean: dict[tuple, tuple] = {}  # (checkpoint, examples sha) -> clean outputs, reused by every family
        self._perturbed: dict[tuple, object] = {}
        self._loaded: dict[tuple, object] = {}  # clean eval sets and MFT files, read once per process

    # ------------------------------------------------------------------ planning
    def plan(self, suite, ctx: RunContext) -> list[Cell]:
        from ...attacks.environment import configure_nltk

        params: PerturbationParams = self.params(suite)
        families = params.family_names()
        configure_nltk(ctx.data_dir)
        if any(f in TEXTATTACK_FAMILIES for f in families):
            from ...attacks.environment import import_textattack

            import_textattack(ctx.data_dir)  # its nltk stopwords: a missing resource stops the run now
        if any(FAMILIES.get(f).needs_nltk for f in families):
            _require_wordnet()
        base = plan_grid(suite, ctx, params=params, fits=self.task_problem,
                         nothing=f"suite {suite.name}: give checkpoints to perturb (--checkpoint TASK/NAME=PATH)")
        mfts = self._mft_files(params, ctx)
        cells = []
        for cell in base:
            if isinstance(cell.checkpoint, PredictionsFile):
                raise RBMError(f"checkpoint {cell.model} ({cell.checkpoint.path}): the perturbation suite scores texts "
                               f"it writes, so it needs a model (a Hugging Face folder, hub id, adapter or Python "
                               f"callable), not a predictions file")
            task = get_task(cell.task)
            fitting = [f for f in families if family_problem(FAMILIES.get(f), task) is None]
            refused = [f for f in families if f not in fitting]
            if refused and params.families is not None:  # asked for by name: say why, once, and stop
                raise RBMError(f"params.families: {family_problem(FAMILIES.get(refused[0]), task)}")
            for family in fitting:
                spec = FAMILIES.get(family)
                settings = params.family_settings(family)
                fields = self._fields(params, task, family)
                for seed in (params.perturbation_seeds if spec.seeded else (None,)):
                    cells.append(replace(cell, condition=perturb_condition(family, seed), params={
                        "family": family, "perturbation_seed": 0 if seed is None else seed, "settings": settings,
                        "fields": list(fields), "expectation": _expectation(task, family),
                        "max_failures": params.max_failures}))
            for mft in mfts.values():
                if mft.fits(task.name):
                    cells.append(replace(cell, condition=f"{MFT}{mft.name}", params={
                        "mft": mft.name, "mft_sha256": mft.sha256, "max_failures": params.max_failures}))
        if not cells:
            raise RBMError(f"suite {suite.name}: no family or MFT fits the tasks {sorted({c.task for c in base})}")
        return cells

    @staticmethod
    def _fields(params: PerturbationParams, task, family: str) -> tuple[str, ...]:
        expectation = expectations(task).get(family)
        if expectation is not None and expectation.fields:
            return expectation.fields
        if params.fields:
            missing = [f for f in params.fields if f not in task.text_keys]
            if missing:
                raise RBMError(f"params.fields: {missing[0]!r} is not a text field of task {task.name} "
                               f"({', '.join(task.text_keys)})")
            return tuple(params.fields)
        return tuple(task.text_keys)

    @staticmethod
    def _mft_files(params: PerturbationParams, ctx: RunContext) -> dict:
        from ...perturbations.mft import mft_files

        found = mft_files(ctx.include)
        if params.mft is None:
            return found
        unknown = [m for m in params.mft if m not in found]
        if unknown:
            raise RBMError(f"params.mft: no MFT file named {unknown[0]!r} (known: {', '.join(sorted(found)) or 'none'}; "
                           f"a file of your own needs --include-path)")
        return {m: found[m] for m in params.mft}

    # ------------------------------------------------------------------ data
    def examples(self, cell: Cell, ctx: RunContext) -> Examples:
        """What a cell scores: the perturbed eval set, or the MFT cases (their sha256 is the record's data)."""
        if cell.params.get("mft"):
            return self._mft_examples(cell, ctx)
        return self._perturbed_set(cell, ctx).examples

    def _clean_examples(self, cell: Cell, ctx: RunContext) -> Examples:
        """The clean eval set (every family of a checkpoint scores the same one: read once)."""
        key = ("clean", cell.task, cell.eval_set, cell.eval_ref)
        if key not in self._loaded:
            self._loaded[key] = super().examples(cell, ctx)
        return self._loaded[key]

    def _mft(self, name: str, ctx: RunContext):
        from ...perturbations.mft import mft_files

        if ("mft",) not in self._loaded:
            self._loaded[("mft",)] = mft_files(ctx.include)
        return self._loaded[("mft",)][name]

    def _perturbed_set(self, cell: Cell, ctx: RunContext):
        clean = self._clean_examples(cell, ctx)
        p = cell.params
        key = (clean.sha256, p["family"], p["perturbation_seed"], repr(sorted(p["settings"].items())), tuple(p["fields"]))
        if key not in self._perturbed:
            self._perturbed[key] = perturb_examples(clean, FAMILIES.get(p["family"]), int(p["perturbation_seed"]),
                                                    p["settings"], p["fields"])
        return self._perturbed[key]

    def _mft_examples(self, cell: Cell, ctx: RunContext) -> Examples:
        from ...perturbations.mft import expand

        mft = self._mft(cell.params["mft"], ctx)
        task = get_task(cell.task)
        texts: dict[str, list[str]] = {k: [] for k in task.text_keys}
        labels, tests = [], []
        for t, test in enumerate(mft.tests):
            expected = [task.label_names.index(l) for l in test.labels if l in task.label_names]
            for case in expand(mft, test):
                for key, text in zip(task.text_keys, case):
                    texts[key].append(text)
                labels.append(expected[0])
                tests.append(t)
        n = len(labels)
        return Examples(task, f"mft:{mft.name}", texts, np.asarray(labels, dtype=np.int64), np.arange(n), mft.path,
                        {"test": tests})

    # ------------------------------------------------------------------ scoring
    def evaluate(self, cell: Cell, ctx: RunContext) -> CellResult:
        if cell.params.get("mft"):
            return self._evaluate_mft(cell, ctx)
        clean = self._clean_examples(cell, ctx)
        perturbed = self._perturbed_set(cell, ctx)
        task = clean.task
        clean_pred, clean_prob = self._outputs(cell, clean)
        changed, changed_by = _input_changed(cell.checkpoint, clean, perturbed.examples, perturbed.changed)
        pred = clean_pred.copy()
        prob = None if clean_prob is None else clean_prob.copy()
        rows = np.flatnonzero(changed)
        if len(rows):
            sub_pred, sub_prob = self._outputs(cell, perturbed.examples.subset(rows), cache=False)
            pred[rows] = sub_pred
            if prob is not None and sub_prob is not None:
                prob[rows] = sub_prob
        metrics = perturbation_metrics(task, clean.labels, clean_pred, pred, changed)
        details = _cell_details(cell.params, clean, perturbed, changed_by)
        violations = None
        expectation = cell.params.get("expectation")
        if expectation:
            violations, checked = dir_violations(expectation, task, clean_pred, pred, clean_prob, prob, changed)
            metrics["violation_rate"] = float(violations[checked].mean()) if checked.any() else float("nan")
            metrics["n_checked"] = float(checked.sum())
            details["expectation"] = expectation
        flipped = changed & (pred != clean_pred) if not task.is_regression else changed
        shown = violations if violations is not None else flipped
        details["failures"] = failure_examples(clean, perturbed.examples, clean_pred, pred, np.flatnonzero(shown),
                                               int(cell.params.get("max_failures", 5)))
        columns = {"clean_prediction": clean_pred.tolist(), "changed": changed.tolist()}
        texts_file, texts = perturbed_texts_file(clean, perturbed)
        details["perturbed_texts"] = texts_file
        if prob is not None and expectation and expectation["expect"] == "confidence-not-up":
            top = clean_prob.argmax(axis=1)
            columns["clean_confidence"] = clean_prob[np.arange(len(top)), top].round(6).tolist()
            columns["confidence"] = prob[np.arange(len(top)), top].round(6).tolist()
        return CellResult(metrics=metrics, main_metric=task.main_metric, n_examples=len(clean),
                          data_source=perturbed.examples.source, data_sha256=perturbed.examples.sha256,
                          predictions=pred, example_ids=clean.idx, labels=clean.labels, details=details,
                          columns=columns, guard=(clean.labels, clean_pred, task.main_metric),
                          attachments={texts_file["file"]: texts})

    def _outputs(self, cell: Cell, examples: Examples, cache: bool = True) -> tuple[np.ndarray, Optional[np.ndarray]]:
        key = (id(cell.checkpoint), examples.sha256)
        if cache and key in self._clean:
            return self._clean[key]
        out = predict_with_probabilities(cell.checkpoint, examples)
        if cache:
            self._clean[key] = out
        return out

    def _evaluate_mft(self, cell: Cell, ctx: RunContext) -> CellResult:
        from ...stats import proportion_ci

        cases = self._mft_examples(cell, ctx)
        task = cases.task
        pred, _ = predict_with_probabilities(cell.checkpoint, cases)
        mft = self._mft(cell.params["mft"], ctx)
        test_of = np.asarray(cases.extra["test"])
        passed = np.zeros(len(cases), dtype=bool)
        tests = []
        for t, test in enumerate(mft.tests):
            ok = [task.label_names.index(l) for l in test.labels if l in task.label_names]
            rows = np.flatnonzero(test_of == t)
            passed[rows] = np.isin(pred[rows], ok)
            failures = int((~passed[rows]).sum())
            low, high = proportion_ci(failures, len(rows), "clopper-pearson")
            tests.append({"name": test.name, "expected": [l for l in test.labels if l in task.label_names],
                          "n": int(len(rows)), "failures": failures, "failure_rate": failures / len(rows),
                          "ci_low": low, "ci_high": high,
                          "examples": [{"text": [cases.texts[k][i] for k in task.text_keys],
                                        "prediction": task.label_names[int(pred[i])]}
                                       for i in rows[~passed[rows]][: int(cell.params.get("max_failures", 5))]]})
        failed = int((~passed).sum())
        low, high = proportion_ci(failed, len(cases), "clopper-pearson")
        metrics = {"failure_rate": failed / len(cases), "failure_ci_low": low, "failure_ci_high": high,
                   "tests_failed": float(np.mean([t["failures"] > 0 for t in tests]))}
        details = {"mft": mft.name, "mft_file": mft.path, "mft_sha256": mft.sha256, "tests": tests,
                   # the guard judges the model, not these cases (a test expects one label of every case)
                   "guard_on": "clean eval set"}
        clean = self._clean_examples(cell, ctx)
        clean_pred, _ = self._outputs(cell, clean)
        return CellResult(metrics=metrics, main_metric="failure_rate", n_examples=len(cases), data_source=cases.source,
                          data_sha256=cases.sha256, predictions=pred, example_ids=cases.idx, labels=cases.labels,
                          details=details, columns={"test": [mft.tests[t].name for t in test_of],
                                                    "passed": passed.tolist()},
                          guard=(clean.labels, clean_pred, task.main_metric))

    def task_problem(self, task) -> Optional[str]:
        return None


# ---------------------------------------------------------------------------- helpers
def _cell_details(params: dict, clean: Examples, perturbed, changed_by: str) -> dict:
    """What a perturbation record says about how it was made (family, seed, settings, what changed and how)."""
    family = FAMILIES.get(params["family"])
    details = {"family": family.name, "test": family.test, "perturbation_seed": params["perturbation_seed"],
               "settings": params["settings"], "fields": params["fields"], "changed_by": changed_by,
               "n_text_changed": int(perturbed.changed.sum()), "source": family.source,
               "clean_data_sha256": clean.sha256, "guard_on": "clean eval set"}
    if family.name == "synonym":
        from ...perturbations.lexical import pos_aware

        details["pos_aware"] = pos_aware()
    return details


def _require_wordnet() -> None:
    """The synonym family's nltk data (WordNet, stopwords; the tagger only makes it POS-aware): present, fetched
    once when online, else one line."""
    from ...attacks.environment import ensure_nltk

    ensure_nltk(["wordnet", "stopwords"])


def _expectation(task, family: str) -> Optional[dict]:
    found = expectations(task).get(family)
    return None if found is None else found.as_dict()


def predict_with_probabilities(checkpoint, examples: Examples) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Predicted label ids (scores for regression) and the softmax over the model's outputs (None when the
    checkpoint returns labels, or for regression): one forward pass serves both."""
    task = examples.task
    if isinstance(checkpoint, HFCheckpoint):
        logits = checkpoint.logits(examples)
        if task.is_regression:
            return logits[:, 0], None
        mapping, _ = checkpoint.label_map(task)
        return mapping[logits.argmax(axis=1)], _softmax(logits)
    if isinstance(checkpoint, CallablePredictor) and not task.is_regression:
        pred = checkpoint.predict(examples)
        try:
            logits = checkpoint.logits(examples)
        except RBMError:
            return pred, None
        return pred, _softmax(logits)
    return np.asarray(checkpoint.predict(examples)), None


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _input_changed(checkpoint, clean: Examples, perturbed: Examples, text_changed: np.ndarray) -> tuple[np.ndarray, str]:
    """Rows whose model input changed: token ids for a Hugging Face model (with its truncation), else text."""
    if not isinstance(checkpoint, HFCheckpoint) or not text_changed.any():
        return text_changed.copy(), "text" if not isinstance(checkpoint, HFCheckpoint) else "tokens"
    _, tokenizer = checkpoint.load()
    max_length = checkpoint.max_length or int(checkpoint.card.get("hyperparameters", {}).get("max_length", 128))
    rows = np.flatnonzero(text_changed)

    def ids(ex: Examples) -> list:
        a = [ex.text_a[i] for i in rows]
        b = None if ex.text_b is None else [ex.text_b[i] for i in rows]
        return tokenizer(a, b, truncation=True, max_length=max_length)["input_ids"]

    changed = np.zeros(len(clean), dtype=bool)
    changed[rows] = [x != y for x, y in zip(ids(clean), ids(perturbed))]
    return changed, "tokens"


def perturbation_metrics(task, labels: np.ndarray, clean_pred: np.ndarray, pred: np.ndarray,
                         changed: np.ndarray) -> dict[str, float]:
    """The task's metrics on the perturbed set (plain names) and on the clean one (``clean_``), the drop of the
    main metric with its paired p on the same rows, and the flip rate over the changed rows."""
    from ...metrics import metric_info
    from ...stats import mcnemar_exact, paired_bootstrap

    perturbed = compute_metrics(task.metrics, labels, pred)
    clean = compute_metrics(task.metrics, labels, clean_pred)
    main = task.main_metric
    n_changed = int(changed.sum())
    out = {**perturbed, **{f"clean_{k}": v for k, v in clean.items()},
           "drop": clean[main] - perturbed[main], "n_changed": float(n_changed),
           "changed_share": n_changed / len(labels) if len(labels) else float("nan")}
    if metric_info(main).paired_test == "mcnemar":
        out["drop_p"] = mcnemar_exact(clean_pred == labels, pred == labels).p_value
    elif n_changed:
        out["drop_p"] = paired_bootstrap(labels, clean_pred, pred, main, n_boot=2000, seed=0).p_value
    else:
        out["drop_p"] = 1.0
    if task.is_regression:
        diff = np.abs(np.asarray(pred, float) - np.asarray(clean_pred, float))[changed]
        out["mean_abs_change"] = float(diff.mean()) if n_changed else float("nan")
        out["flip_rate"] = float("nan")
    else:
        out["flip_rate"] = float((pred[changed] != clean_pred[changed]).mean()) if n_changed else float("nan")
        if "accuracy" in task.metrics:
            out["changed_clean_accuracy"] = float((clean_pred[changed] == labels[changed]).mean()) if n_changed else float("nan")
            out["changed_accuracy"] = float((pred[changed] == labels[changed]).mean()) if n_changed else float("nan")
    return out


def dir_violations(expectation: dict, task, clean_pred: np.ndarray, pred: np.ndarray, clean_prob: Optional[np.ndarray],
                   prob: Optional[np.ndarray], changed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(violation per row, rows the expectation applies to) among the changed rows."""
    if expectation["expect"] == "confidence-not-up":
        if clean_prob is None or prob is None:
            raise RBMError("expectation confidence-not-up needs the model's probabilities: give a model or a callable "
                           "that returns logits (this one returns labels)")
        top = clean_prob.argmax(axis=1)
        rise = prob[np.arange(len(top)), top] - clean_prob[np.arange(len(top)), top]
        return changed & (rise > expectation.get("tolerance", 0.0)), changed.copy()
    label = task.label_names.index(expectation["label"])
    checked = changed & (clean_pred == label)
    return checked & (pred == label), checked


def perturbed_texts_file(clean: Examples, perturbed) -> tuple[dict, str]:
    """The perturbed texts of the rows the family changed, as one JSON line each (``idx`` and the changed fields),
    named by their sha256: every checkpoint scored on the same perturbation shares one file, and a record names it
    (``details.perturbed_texts``) so that its predictions can be re-scored from the texts the model saw."""
    import hashlib

    from ...results import dumps

    lines = []
    for i in np.flatnonzero(perturbed.changed):
        row = {"idx": int(clean.idx[i])}
        row.update({k: perturbed.examples.texts[k][i] for k in perturbed.fields if perturbed.examples.texts[k][i] != clean.texts[k][i]})
        lines.append(dumps(row))
    text = "".join(line + "\n" for line in lines)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return {"file": f"perturbed/{sha[:20]}.jsonl", "sha256": sha, "rows": len(lines)}, text


def failure_examples(clean: Examples, perturbed: Examples, clean_pred: np.ndarray, pred: np.ndarray,
                     rows: np.ndarray, limit: int) -> list[dict]:
    """A few failing rows (the report shows them with a word diff): the first ``limit`` in dataset order."""
    task = clean.task

    def name(v) -> str:
        return str(round(float(v), 3)) if task.is_regression else task.label_names[int(v)]

    return [{"idx": int(clean.idx[i]), "label": name(clean.labels[i]),
             "original": [clean.texts[k][i] for k in task.text_keys],
             "perturbed": [perturbed.texts[k][i] for k in task.text_keys],
             "clean_prediction": name(clean_pred[i]), "prediction": name(pred[i])} for i in rows[:limit]]
