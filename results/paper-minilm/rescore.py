"""Re-score every stored record of the paper-minilm grid from its saved predictions, independently of
``rbm``: gold labels are read again from the raw data files (pandas / json / datasets) and every metric
is recomputed with sklearn / scipy. Exit 1 if any record disagrees with its predictions.

    python results/paper-minilm/rescore.py [--data-dir ../shared/data] [--markdown]

Why: a table is only as trustworthy as the link between the number and the model's outputs. This
checks that link for every record (predictions file present, one row per dev example, labels equal to
the raw dev file, stored metric = recomputed metric within 1e-6).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-6  # far below one changed prediction (1/1,500 of a dev set); float32 vs float64 correlations differ ~1e-9
GLUE_DEV = {  # task: (folder, label column, header?, label names in id order or None)
    "sst2": ("SST-2", "label", True, None),
    "cola": ("CoLA", 1, False, None),
    "mrpc": ("MRPC", "Quality", True, None),
    "stsb": ("STS-B", "score", True, None),
    "rte": ("RTE", "label", True, ["entailment", "not_entailment"]),
}
MNLI_NAMES = ["entailment", "neutral", "contradiction"]
NEGATION_WORDS = ("nobody", "no", "never", "nothing")


@lru_cache(maxsize=None)
def glue_gold(data_dir: str, task: str) -> dict[int, float]:
    folder, column, header, names = GLUE_DEV[task]
    frame = pd.read_csv(Path(data_dir) / "glue" / folder / "dev.tsv", sep="\t", quoting=csv.QUOTE_NONE,
                        header=0 if header else None, encoding="utf-8-sig", keep_default_na=False)
    values = frame[column].tolist()
    labels = [names.index(v) for v in values] if names else [float(v) for v in values]
    return dict(enumerate(labels))


@lru_cache(maxsize=None)
def advglue_gold(data_dir: str, task: str) -> dict[int, float]:
    rows = json.loads((Path(data_dir) / "advglue" / "dev.json").read_text())[task]
    return {int(r["idx"]): float(r["label"]) for r in rows}


@lru_cache(maxsize=None)
def mnli_rows(data_dir: str) -> tuple[dict[int, float], dict[int, str]]:
    from datasets import load_from_disk

    ds = load_from_disk(str(Path(data_dir) / "glue" / "MNLI" / "dev_matched_hf"))
    return ({int(i): float(y) for i, y in zip(ds["idx"], ds["label"])},
            {int(i): h for i, h in zip(ds["idx"], ds["hypothesis"])})


def gold_for(record: dict, data_dir: str) -> dict[int, float]:
    if record["evaluator"] == "advglue" and record["condition"] == "adversarial":
        return advglue_gold(data_dir, record["task"])
    if record["task"] == "mnli":
        return mnli_rows(data_dir)[0]
    return glue_gold(data_dir, record["task"])


_BY_NAME: dict[str, list[Path]] = {}


def predictions_path(record: dict, folder: Path | None = None) -> Path:
    """The stored path; a path relative to its run folder (records since issue 25) is read there when the
    folder is known, else found below this folder — by its sha256 where several run folders hold the same
    relative path (identical copies, e.g. a retrained seed that reproduced its predictions byte for byte, are
    interchangeable); an absolute path from another checkout is read from the same place under this folder."""
    path = Path(record["predictions_file"])
    if folder is not None and not path.is_absolute() and (folder / path).is_file():
        return folder / path
    if path.is_file():
        return path
    if not path.is_absolute():
        if not _BY_NAME:
            for p in HERE.rglob("*.jsonl"):
                _BY_NAME.setdefault(p.name, []).append(p)
        matches = [p for p in _BY_NAME.get(path.name, []) if p.as_posix().endswith("/" + path.as_posix())]
        want = record.get("predictions_sha256")
        if want and len(matches) > 1:
            matches = [p for p in matches if hashlib.sha256(p.read_bytes()).hexdigest() == want]
        if matches and (len(matches) == 1 or want):
            return sorted(matches)[0]  # several left after the sha256 filter are byte-identical copies
    tail = str(path).split("paper-minilm/", 1)[-1]
    return HERE / tail


def negation_groups(idx: np.ndarray, labels: np.ndarray, data_dir: str) -> np.ndarray:
    hyps = mnli_rows(data_dir)[1]
    neg = np.array([bool(set(re.sub(r"[^\w\s]", "", hyps[i].lower()).split()) & set(NEGATION_WORDS))
                    for i in idx])
    return labels.astype(int) * 2 + neg


def recompute(record: dict, idx: np.ndarray, y: np.ndarray, p: np.ndarray, data_dir: str) -> dict[str, float]:
    """Every metric we can recompute independently for this record's evaluator."""
    out: dict[str, float] = {}
    if record["task"] == "stsb":
        out["spearmanr"] = float(spearmanr(y, p).statistic)
        out["pearson"] = float(pearsonr(y, p).statistic)
        return out
    y, p = y.astype(int), p.astype(int)
    out["accuracy"] = float(accuracy_score(y, p))
    if record["task"] == "mrpc":
        out["f1"] = float(f1_score(y, p))
    if record["task"] == "cola":
        out["matthews_correlation"] = float(matthews_corrcoef(y, p))
    if record["evaluator"] == "advglue":
        out["advglue_score"] = out["accuracy"]  # the official score of a binary task is its accuracy
    if record["evaluator"] == "minority":
        out["minority_accuracy"] = float(accuracy_score(y[y == 1], p[y == 1]))
    if record["evaluator"] == "mnli-negation":
        groups = negation_groups(idx, y, data_dir)
        acc = [float((p[groups == g] == y[groups == g]).mean()) for g in np.unique(groups)]
        out["worst_group_accuracy"] = min(acc)
    return out


def check_attack(record: dict, folder: Path | None = None) -> list[str]:
    """TextAttack cells: recount the per-example attack log (TextAttack's own definitions). The log's path is
    relative to the record's run folder (or, in older records, absolute from the machine that ran it)."""
    log = Path(record["details"]["log"])
    if not log.is_absolute() and folder is not None:
        log = folder / log
    elif not log.is_file():
        log = HERE / str(log).split("paper-minilm/", 1)[-1]
    frame = pd.read_csv(log)
    n = len(frame)
    counts = frame["result"].value_counts()
    succ, fail = counts.get("successful", 0), counts.get("failed", 0)
    mine = {"original_accuracy": (succ + fail) / n, "accuracy_under_attack": fail / n,
            "attack_success_rate": succ / (succ + fail) if succ + fail else float("nan"),
            "avg_queries": frame.loc[frame["result"] != "skipped", "num_queries"].mean()}
    return [f"{k}: stored {record['metrics'][k]!r} vs log {v!r}" for k, v in mine.items()
            if abs(record["metrics"][k] - v) > TOLERANCE]


@lru_cache(maxsize=None)
def sst2_dev_sentences(data_dir: str) -> list[str]:
    return pd.read_csv(Path(data_dir) / "glue" / "SST-2" / "dev.tsv", sep="\t", quoting=csv.QUOTE_NONE,
                       keep_default_na=False)["sentence"].tolist()


def perturbed_texts(record: dict, folder: Path | None) -> dict[int, str]:
    """The perturbed texts a record names (``details.perturbed_texts``: a file shared by every checkpoint scored on
    the same perturbation, checked against its sha256), by dev index; rows the family left alone are not in it."""
    shared = record["details"]["perturbed_texts"]
    path = (folder or HERE) / shared["file"]
    if not path.is_file():  # the record read without its run folder: the file is named by its content's hash
        path = next(iter(sorted(HERE.rglob(Path(shared["file"]).name))), path)
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != shared["sha256"]:
        raise SystemExit(f"{shared['file']}: sha256 differs from the one record {record['key']} names")
    return {r["idx"]: r["sentence"] for r in map(json.loads, raw.decode("utf-8").splitlines())}


def check_perturbation(record: dict, rows: list[dict], data_dir: str, folder: Path | None = None) -> list[str]:
    """Perturbation cells: the perturbed and clean accuracies, the flip rate over the changed rows and the DIR
    violation rate from the saved columns, and every changed row's saved text differs from the raw dev text;
    MFT cells: the failure rate is the share of cases outside the expected label."""
    m = record["metrics"]
    y = np.array([r["label"] for r in rows], dtype=int)
    p = np.array([r["prediction"] for r in rows], dtype=int)
    if record["details"].get("mft"):
        mine = {"failure_rate": float((~np.array([r["passed"] for r in rows])).mean())}
        wrong = int(sum(r["passed"] != (r["prediction"] == r["label"]) for r in rows))
        problems = [f"{wrong} cases whose pass/fail is not prediction == expected label"] if wrong else []
    else:
        clean = np.array([r["clean_prediction"] for r in rows], dtype=int)
        changed = np.array([r["changed"] for r in rows], dtype=bool)
        mine = {"accuracy": float(accuracy_score(y, p)), "clean_accuracy": float(accuracy_score(y, clean)),
                "n_changed": float(changed.sum()), "drop": float(accuracy_score(y, clean) - accuracy_score(y, p))}
        if changed.any():
            mine["flip_rate"] = float((p[changed] != clean[changed]).mean())
        if "confidence" in rows[0]:
            rise = np.array([r["confidence"] - r["clean_confidence"] for r in rows])
            mine["violation_rate"] = float((rise[changed] > 0).mean()) if changed.any() else float("nan")
        raw = sst2_dev_sentences(data_dir)
        texts = perturbed_texts(record, folder)
        same = sum(r["changed"] and texts.get(r["idx"], raw[r["idx"]]) == raw[r["idx"]] for r in rows)
        problems = [f"{same} rows counted as changed whose saved text equals the dev text"] if same else []
    tolerance = {"violation_rate": 2e-6}  # confidences are saved rounded to 6 decimals
    for name, value in mine.items():
        if not abs(m[name] - value) <= tolerance.get(name, TOLERANCE):
            problems.append(f"{name}: stored {m[name]!r} vs recomputed {value!r}")
    return problems


def check_record(record: dict, data_dir: str, folder: Path | None = None) -> tuple[list[str], int]:
    """(problems, metrics compared); ``folder``: the run folder the record is stored in."""
    if record["evaluator"] == "textattack":
        problems = check_attack(record, folder)
        return problems, 4
    path = predictions_path(record, folder)
    if not path.is_file():
        return [f"predictions file missing: {record['predictions_file']}"], 0
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if record["evaluator"] == "perturbation":
        if record["task"] != "sst2":
            return [f"perturbation records are re-scored for sst2 only (got {record['task']})"], 0
        if not record["details"].get("mft") and len(rows) != len(glue_gold(data_dir, "sst2")):
            return [f"{len(rows)} predictions for {len(glue_gold(data_dir, 'sst2'))} dev examples"], 0
        run = folder or next((p.parent for p in path.parents if p.name == "predictions"), HERE)
        problems = check_perturbation(record, rows, data_dir, run)
        if not record["details"].get("mft"):
            gold = glue_gold(data_dir, "sst2")
            wrong = int(sum(abs(gold[r["idx"]] - r["label"]) > 1e-6 for r in rows))
            problems += [f"{wrong} labels differ from the raw dev file"] if wrong else []
        return problems, 1 if record["details"].get("mft") else 5
    idx = np.array([r["idx"] for r in rows])
    y = np.array([r["label"] for r in rows], dtype=float)
    p = np.array([r["prediction"] for r in rows], dtype=float)
    gold = gold_for(record, data_dir)
    problems = []
    if len(rows) != record["n_examples"] or len(set(idx.tolist())) != len(rows) or set(idx.tolist()) != set(gold):
        problems.append(f"{len(rows)} predictions for {len(gold)} dev examples (record says {record['n_examples']})")
        return problems, 0
    wrong = int(sum(abs(gold[i] - v) > 1e-6 for i, v in zip(idx.tolist(), y)))
    if wrong:
        problems.append(f"{wrong} labels differ from the raw dev file")
    mine = recompute(record, idx, np.array([gold[i] for i in idx.tolist()]), p, data_dir)
    if record["main_metric"] not in mine:
        problems.append(f"main metric {record['main_metric']} cannot be recomputed here")
    mine = {name: value for name, value in mine.items() if name in record["metrics"]}  # what the record stores
    for name, value in mine.items():
        stored = record["metrics"][name]
        if not abs(stored - value) <= TOLERANCE:
            problems.append(f"{name}: stored {stored!r} vs recomputed {value!r}")
    return problems, len(mine)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(HERE.parents[1] / ".." / "shared" / "data"))
    ap.add_argument("--markdown", action="store_true", help="print a Markdown summary table")
    args = ap.parse_args()
    bad = 0
    lines = ["| folder | records | metrics recomputed | disagreeing records |", "|---|---|---|---|"]
    for results in sorted(HERE.glob("**/results.jsonl")):
        records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
        compared = failing = 0
        for record in records:
            problems, n = check_record(record, args.data_dir, results.parent)
            compared += n
            if problems:
                failing += 1
                print(f"{results.parent.relative_to(HERE)}: {record['key']}: " + "; ".join(problems), file=sys.stderr)
        bad += failing
        lines.append(f"| {results.parent.relative_to(HERE)} | {len(records)} | {compared} | {failing} |")
    if args.markdown:
        print("\n".join(lines))
    else:
        print(f"rescore: {bad} record(s) disagree with their predictions" if bad else
              "rescore: every record equals its saved predictions")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
