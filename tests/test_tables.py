"""Tables from stored records: mean ± sd (max) over seeds, Avg, Δ vs baseline, bold best; LaTeX compiles."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from robustbench_match.cli import main
from robustbench_match.reports.tables import render, tables_for
from robustbench_match.results import ResultStore


def _rec(model, task, eval_set, seed, value, metric="accuracy"):
    return {"key": f"glue-dev|{model}|{eval_set}|clean|{seed}", "suite": "glue-dev", "layout": "tasks",
            "model": model, "task": task, "eval_set": eval_set, "condition": "clean", "seed": seed,
            "metrics": {metric: value}, "main_metric": metric}


@pytest.fixture
def records():
    recs = []
    for seed, (v_rte, m_rte) in enumerate([(0.70, 0.74), (0.72, 0.75), (0.68, 0.73)], 1):
        recs.append(_rec("vanilla", "rte", "rte", seed, v_rte))
        recs.append(_rec("match-tuning", "rte", "rte", seed, m_rte))
    for seed in (1, 2, 3):
        recs.append(_rec("vanilla", "cola", "cola", seed, 0.60, "matthews_correlation"))
        recs.append(_rec("match-tuning", "cola", "cola", seed, 0.58 + 0.01 * seed, "matthews_correlation"))
    recs.append(_rec("vanilla", "mnli", "mnli-mm", 1, 0.5))
    recs.append(_rec("vanilla", "mnli", "mnli-m", 1, 0.6))
    return recs


def test_markdown_numbers(records):
    (spec,) = tables_for(records)
    f = spec.frame
    assert list(f.columns) == ["CoLA", "MNLI-m", "MNLI-mm", "RTE", "Avg", "Δ"]
    assert list(f.index) == ["vanilla", "match-tuning"]
    sd = np.std([70, 72, 68], ddof=1)
    assert f.loc["vanilla", "RTE"] == f"70.00 ± {sd:.2f} (72.00)"
    assert f.loc["vanilla", "Avg"] == f"{np.mean([60, 60, 50, 70]):.2f}"
    # match-tuning lacks MNLI: its Avg covers its own tasks and is marked
    assert f.loc["match-tuning", "Avg"] == f"{np.mean([60, 74]):.2f}*"
    assert f.loc["match-tuning", "Δ"] == f"{np.mean([60, 74]) - 60:+.2f}"
    md = render([spec], "markdown")
    assert "**74.00 ± 1.00 (75.00)**" in md and "Method |" in md


def test_baseline_option_and_unknown_baseline(records):
    (spec,) = tables_for(records, baseline="match-tuning")
    assert spec.frame.loc["match-tuning", "Δ"] == "+0.00"
    with pytest.raises(Exception, match="no such row"):
        tables_for(records, baseline="nope")


def test_csv_and_latex_structure(records):
    specs = tables_for(records)
    csv = render(specs, "csv").splitlines()
    assert csv[0].startswith("method,table,CoLA") and len(csv) == 3
    tex = render(specs, "latex")
    assert r"\begin{tabular}{lrrrrrr}" in tex and r"\textbf{" in tex and r"$\pm$" in tex and "_" not in tex.replace(r"\_", "")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (apt-get install texlive-latex-base)")
def test_latex_compiles(records, tmp_path):
    tex = tmp_path / "t.tex"
    tex.write_text(render(tables_for(records), "latex", standalone=True))
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


def test_rbm_table_cli(records, tmp_path, capsys):
    store = ResultStore(tmp_path)
    for r in records:
        store.put(r)
    assert main(["table", str(tmp_path), "--format", "markdown"]) == 0
    assert "match-tuning" in capsys.readouterr().out
    assert main(["table", str(tmp_path / "nothing")]) == 1
    assert "no results.jsonl" in capsys.readouterr().err
