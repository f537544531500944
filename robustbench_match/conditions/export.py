"""Write a perturbed training set to disk so that any trainer can use exactly the same data.

Two formats. ``tsv``: the task's own glue_data layout (``DIR/<TASK>/train.tsv``), same row order, so
``--data-dir DIR`` works for this project's trainer and for GLUE scripts alike. When the source was a
local TSV its other columns (CoLA's source code, MRPC's ids) are carried over untouched. ``jsonl``:
one object per row with the HF field names, the label id and name, the source row and a ``changed``
flag. Both come with ``manifest.json`` (condition, seed, counts, file sha256, and the
``train_data_sha256`` that a checkpoint card must carry to be accepted for the cell).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..data import Examples, file_sha256
from ..errors import DataError, RBMError
from ..results import atomic_write_text
from ..tasks import TaskSpec
from .base import Perturbed

FORMATS = ("tsv", "jsonl")
MANIFEST = "manifest.json"
WRITTEN_BY = "rbm data export"  # marks a manifest (and so the file it lists) as ours to replace


def _label_text(task: TaskSpec, label) -> str:
    form = task.layout.label_form
    if form == "name":
        return task.label_names[int(label)]
    return f"{float(label):g}" if form == "float" else str(int(label))


def _source_frame(examples: Examples):
    """The raw source TSV as strings when the examples were read from one, else None."""
    import pandas as pd

    path = Path(examples.source.split(" [", 1)[0])
    if path.suffix != ".tsv" or not path.is_file():
        return None
    return pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, header=0 if examples.task.layout.header else None,
                       dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _tsv_frame(perturbed: Perturbed):
    """Rows of the perturbed set in the task's TSV layout (source columns kept when available)."""
    import pandas as pd

    ex, task = perturbed.examples, perturbed.examples.task
    layout = task.layout
    frame = _source_frame(ex)
    if frame is not None and (len(ex) == 0 or int(ex.idx.max()) < len(frame)):  # idx = row in the source file
        frame = frame.iloc[ex.idx].reset_index(drop=True)
    else:  # hub data: build the layout's columns from the examples
        width = max((c for c in layout.columns.values() if isinstance(c, int)), default=-1) + 1
        cols = list(range(width)) if not layout.header else list(layout.columns.values())
        frame = pd.DataFrame({c: [""] * len(ex) for c in cols})
        for key in task.text_keys:
            frame[layout.columns[key]] = ex.texts[key]
    frame[layout.columns["label"]] = [_label_text(task, y) for y in ex.labels]
    return frame


def _write_tsv(perturbed: Perturbed, out_dir: Path) -> Path:
    task = perturbed.examples.task
    path = out_dir / task.glue_dir / f"{task.split_files['train']}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = _tsv_frame(perturbed)
    bad = [i for i, row in enumerate(frame.itertuples(index=False)) if any("\t" in str(v) or "\n" in str(v) for v in row)]
    if bad:
        raise DataError(f"{path}: row {bad[0]} holds a tab or newline; a quote-free TSV cannot store it (use --format jsonl)")
    frame.to_csv(path, sep="\t", index=False, header=task.layout.header, quoting=csv.QUOTE_NONE,
                 lineterminator="\n", escapechar=None)
    return path


def _write_jsonl(perturbed: Perturbed, out_dir: Path) -> Path:
    ex, task = perturbed.examples, perturbed.examples.task
    path = out_dir / f"{task.name}.{perturbed.condition}.seed-{perturbed.seed}.train.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    changed = set(perturbed.changed.tolist()) if perturbed.kind == "label-noise" else set()
    with open(path, "w", encoding="utf-8") as f:
        for i, row in enumerate(ex.rows()):
            row["label_name"] = None if task.is_regression else task.label_names[int(row["label"])]
            row["changed"] = int(ex.idx[i]) in changed
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def check_export_target(out_dir: str | Path, data_root: Path | None, task: TaskSpec, fmt: str = "tsv",
                        perturbed: Perturbed | None = None) -> None:
    """Refuse an ``--output`` where the export would overwrite or shadow real data: the data root itself, a
    folder inside it or holding it (``ROOT/RTE/`` would shadow ``ROOT/glue/RTE/``: later runs would train on
    the noisy labels), a folder that looks like another data root, or an existing file that no export wrote."""
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise RBMError(f"--output {out}: is a file, not a folder")
    target = out.resolve()
    if data_root is not None:
        root = data_root.resolve()
        if target == root or target.is_relative_to(root) or root.is_relative_to(target):
            where = "is" if target == root else ("is inside" if target.is_relative_to(root) else "contains")
            raise RBMError(f"--output {out}: {where} the data root {root}; an export there would overwrite or "
                           f"shadow the clean data (choose a folder outside it)")
    if (out / "glue").is_dir():
        raise RBMError(f"--output {out}: looks like a glue_data root (it has glue/); an export there would shadow "
                       f"its clean data (choose a new folder)")
    check_replaceable(out, export_path(out, task, fmt, perturbed))


def export_path(out: Path, task: TaskSpec, fmt: str, perturbed: Perturbed | None = None) -> Path | None:
    """Where an export writes its data file (None: not known before the set is built)."""
    if fmt == "tsv":
        return out / task.glue_dir / f"{task.split_files['train']}.tsv"
    if perturbed is None:
        return None
    return out / f"{task.name}.{perturbed.condition}.seed-{perturbed.seed}.train.jsonl"


def _our_manifest(path: Path) -> dict | None:
    """The manifest an earlier ``rbm data export`` wrote here, or None if ``path`` is anything else."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("file"), str):
        return None
    ours = data.get("written_by") == WRITTEN_BY or {"file_sha256", "train_data_sha256", "format"} <= set(data)
    return data if ours else None


def check_replaceable(out: Path, target: Path | None) -> None:
    """An export replaces only what an earlier export wrote, unchanged: the folder's manifest must be ours,
    and the data file it names (still with the sha256 it recorded) must be the one about to be written. A
    hand-made file, a foreign ``manifest.json``, an edited export or a second export into the same folder
    (its manifest would stop describing the first) are refused; nothing is written."""
    manifest_path = out / MANIFEST
    if not manifest_path.exists():
        if target is not None and target.exists():
            raise RBMError(f"--output {out}: {target} exists and was not written by rbm data export (no {MANIFEST}); "
                           f"refusing to overwrite it (choose a new folder)")
        return
    manifest = _our_manifest(manifest_path)
    if manifest is None:
        raise RBMError(f"--output {out}: {manifest_path} exists and is not a manifest written by rbm data export; "
                       f"refusing to overwrite it (choose a new folder)")
    listed = out / manifest["file"]
    if ".." in Path(manifest["file"]).parts or Path(manifest["file"]).is_absolute():
        raise RBMError(f"--output {out}: {manifest_path} names {manifest['file']!r}, outside the folder; refusing it")
    if listed.exists():
        if target is not None and listed != target:
            raise RBMError(f"--output {out}: already holds the export {manifest['file']} ({MANIFEST}); export into "
                           f"another folder (one export per folder)")
        if file_sha256(listed) != manifest.get("file_sha256"):
            raise RBMError(f"--output {out}: {listed} was changed after rbm data export wrote it (sha256 differs from "
                           f"{MANIFEST}); refusing to overwrite it (choose a new folder)")
    if target is not None and target.exists() and target != listed:
        raise RBMError(f"--output {out}: {target} exists and is not the file {MANIFEST} lists; refusing to overwrite "
                       f"it (choose a new folder)")


def export_perturbed(perturbed: Perturbed, out_dir: str | Path, fmt: str = "tsv") -> dict:
    """Write the set and its manifest; returns the manifest."""
    if fmt not in FORMATS:
        raise RBMError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    check_replaceable(out, export_path(out, perturbed.examples.task, fmt, perturbed))
    path = _write_tsv(perturbed, out) if fmt == "tsv" else _write_jsonl(perturbed, out)
    ex = perturbed.examples
    manifest = {
        **perturbed.manifest(),
        "written_by": WRITTEN_BY, "format": fmt, "file": str(path.relative_to(out)), "file_sha256": file_sha256(path),
        "source": ex.source.split(" [", 1)[0],
        "label_counts": {str(k): int(v) for k, v in zip(*np.unique(ex.labels, return_counts=True))},
        "changed_rows": perturbed.changed.tolist(),
        "note": ("changed_rows are 0-based rows of the source split (label-noise: flipped; minority: dropped). "
                 "A checkpoint trained on this file is accepted for the cell when its rbm_card.json has "
                 "train_data_sha256 equal to the value above."),
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest
