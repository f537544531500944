"""LaTeX tables compile and print what they mean (issue 12).

Every layout (Tables 1, 2, 3, 5, 6, 7 and the attack tables; Table 4 is a timing benchmark, not a
layout) is built from hand-made records with twelve seeds, a model name with an underscore, a
significant difference (p < 0.001), a negative delta and a degenerate model. Each is compiled with
pdflatex, and the PDF's text (pdftotext) must show ``<``, the minus sign U+2212, ``†`` and the name as
written — so a mangled symbol (``¡0.001``, a hyphen, a missing dagger) fails here.

In CI (``CI`` set) a missing pdflatex is a failure, not a skip: ``.ci/run`` installs Debian's
texlive-latex-base, texlive-latex-recommended and poppler-utils.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from robustbench_match.reports.tables import LATEX_PACKAGES, LatexOptions, latex_escape, render, tables_for

SEEDS = range(1, 13)  # 2/2^12 < 0.001: the exact test can print "<0.001"
NAME = "my_model"  # a user's model name with an underscore
ODD = "run 50% & #2"  # and one with the other characters LaTeX treats specially
MINUS = "\u2212"


def _tools() -> None:
    missing = [t for t in ("pdflatex", "pdftotext") if shutil.which(t) is None]
    if not missing:
        return
    msg = f"{', '.join(missing)} not installed (apt-get install texlive-latex-base texlive-latex-recommended poppler-utils)"
    if os.environ.get("CI"):
        pytest.fail(f"CI must compile the LaTeX tables: {msg}")
    pytest.skip(msg)


def compile_text(tex: str, folder: Path, name: str = "t") -> str:
    """pdflatex the document, then the PDF's text as pdftotext reads it (content order)."""
    _tools()
    (folder / f"{name}.tex").write_text(tex)
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    out = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", f"{name}.pdf", "-"], cwd=folder, capture_output=True,
                         text=True, timeout=60, check=True)
    return out.stdout


# ---------------------------------------------------------------------------- records for every layout

MODELS = {"vanilla": 0.0, NAME: 0.03, "worse": -0.05, ODD: 0.01}  # offsets from vanilla


def _jitter(model: str, seed: int) -> float:
    return 0.004 * ((seed * 7 + len(model)) % 5) / 4


def _base(model: str, seed: int, level: float) -> float:
    return level + MODELS[model] + (_jitter(model, seed) if model != NAME else 0.0) + 0.001 * seed


def _rec(suite, layout, model, task, eval_set, condition, seed, metrics, main, degenerate=False, details=None):
    return {"suite": suite, "layout": layout, "evaluator": layout, "model": model, "task": task,
            "eval_set": eval_set, "condition": condition, "seed": seed, "metrics": metrics, "main_metric": main,
            "higher_is_better": {k: "success" not in k and "drop" not in k for k in metrics},
            "degenerate": degenerate,
            "details": {"majority_score": 0.5, "majority_share": 0.5, "prediction_share": 1.0 if degenerate else 0.6,
                        **(details or {})}}


def tasks_records(suite="glue-dev"):
    """Table 1 (and Table 7's ablation rows): checkpoints × tasks; CoLA's MCC goes negative."""
    out = []
    for seed in SEEDS:
        for task, main, level in (("cola", "matthews_correlation", 0.02), ("rte", "accuracy", 0.6)):
            for m in MODELS:
                out.append(_rec(suite, "tasks", m, task, task, "clean", seed, {main: _base(m, seed, level)}, main))
            out.append(_rec(suite, "tasks", "constant", task, task, "clean", seed, {main: 0.9}, main, True))
    return out


def advglue_records():
    out = []
    for seed in SEEDS:
        for cond, level in (("adversarial", 0.4), ("clean", 0.8)):
            for e in ("sst2", "rte"):
                for m in MODELS:
                    acc = _base(m, seed, level)
                    out.append(_rec("advglue", "advglue", m, e, e, cond, seed, {"accuracy": acc, "advglue_score": acc},
                                    "advglue_score"))
                out.append(_rec("advglue", "advglue", "constant", e, e, cond, seed,
                                {"accuracy": 0.5, "advglue_score": 0.5}, "advglue_score", True))
    return out


def condition_records(layout, conditions, metric):
    out = []
    for seed in SEEDS:
        for cond, drop in conditions:
            for task in ("mrpc", "rte"):
                for m in MODELS:
                    v = _base(m, seed, 0.7 - drop)
                    out.append(_rec(layout, layout, m, task, task, cond, seed, {metric: v, "accuracy": v}, metric))
                out.append(_rec(layout, layout, "constant", task, task, cond, seed, {metric: 0.95, "accuracy": 0.68},
                                metric, True))
    return out


def group_records():
    out = []
    names = ["entailment/no-negation", "entailment/negation", "neutral/no-negation"]
    for seed in SEEDS:
        for m, level in (("erm", 0.30), ("erm+match-tuning", 0.33), (NAME, 0.20), ("constant", 0.40)):
            worst = level + 0.001 * seed + (0.002 * (seed % 3) if m == "erm" else 0.0)
            groups = [{"id": g, "name": n, "size": 91 + g, "accuracy": worst + 0.1 * g, "ci_low": max(worst - 0.05, 0),
                       "ci_high": worst + 0.05} for g, n in enumerate(names)]
            out.append(_rec("mnli-negation", "groups", m, "mnli", "mnli-m", "clean", seed,
                            {"accuracy": worst + 0.2, "worst_group_accuracy": worst, "worst_group_ci_low": worst - 0.05,
                             "worst_group_ci_high": worst + 0.05}, "worst_group_accuracy", m == "constant",
                            {"groups": groups, "words": ["no", "never"],
                             "interval": {"method": "clopper-pearson", "level": 0.95}}))
    return out


def attack_records():
    out = []
    for seed in SEEDS:
        for m in [*MODELS, "constant"]:
            clean = 0.5 if m == "constant" else _base(m, seed, 0.8)
            attacked = clean if m == "constant" else clean - 0.4
            out.append(_rec("textattack", "attack", m, "sst2", "sst2", "attack:pwws", seed,
                            {"original_accuracy": clean, "accuracy_under_attack": attacked,
                             "accuracy_drop": clean - attacked, "attack_success_rate": (clean - attacked) / clean},
                            "accuracy_under_attack", m == "constant", {"query_budget": 200}))
    return out


LAYOUT_RECORDS = {
    "table1-tasks": lambda: tasks_records(),
    "table2-advglue": advglue_records,
    "table3-label-noise": lambda: condition_records("label-noise", [("clean", 0.0), ("noise-10", 0.1)], "accuracy"),
    "table5-minority": lambda: condition_records("minority", [("clean", 0.0), ("minority-30", 0.2)], "minority_accuracy"),
    "table6-groups": group_records,
    "table7-ablation": lambda: tasks_records("ablation"),
    "attack": attack_records,
}
WITH_NEGATIVE = {"table1-tasks", "table2-advglue", "table7-ablation"}  # Δ < 0 (`worse`), CoLA MCC < 0
WITH_P = {"table1-tasks", "table2-advglue", "table3-label-noise", "table5-minority", "table6-groups", "table7-ablation"}


# ---------------------------------------------------------------------------- tests


def test_escape_every_symbol():
    assert latex_escape("p <0.001 > q") == r"p $<$0.001 $>$ q"
    assert latex_escape("\u22124.73 ± 1.00 (↓ 2.0)†") == r"$-$4.73 $\pm$ 1.00 ($\downarrow$ 2.0)$^\dagger$"
    assert latex_escape("-4.73") == r"$-$4.73" and latex_escape("noise-10 model-2") == "noise-10 model-2"
    assert latex_escape(ODD + "_x") == r"run 50\% \& \#2\_x" and latex_escape("a{b}~^\\") == (
        r"a\{b\}\textasciitilde{}\textasciicircum{}\textbackslash{}")
    assert latex_escape("clean → adv Δ ≥ ×") == r"clean $\rightarrow$ adv $\Delta$ $\geq$ $\times$"


@pytest.mark.parametrize("ci", [False, True], ids=["plain", "ci"])
@pytest.mark.parametrize("layout", sorted(LAYOUT_RECORDS))
def test_every_layout_compiles_and_prints_its_symbols(layout, ci, tmp_path):
    specs = tables_for(LAYOUT_RECORDS[layout](), ci=ci)
    tex = render(specs, "latex", latex=LatexOptions(standalone=True, caption=f"Layout {layout}", label=f"tab:{layout}"))
    body = tex.replace("$<$", "").replace("$>$", "")
    assert "<" not in body and ">" not in body, "a bare < or > prints as ¡ or ¿ in OT1"
    assert not re.search(r"(?<![\w.)\]])-\d", tex), "a hyphen used as a minus sign"
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"\hline" not in tex
    text = compile_text(tex, tmp_path)
    assert "¡" not in text and "¿" not in text
    assert NAME in text, f"{NAME} not printed as written"
    assert "†" in text
    if layout in WITH_NEGATIVE:
        assert MINUS in text
    if layout in WITH_P:
        assert "<0.001" in text.replace(" ", ""), "a significant p-value must print as <0.001"
    if layout in ("table1-tasks", "table7-ablation"):
        delta = specs[0].frame.loc["worse", "Δ"]
        assert delta.startswith(MINUS) and delta in text
        assert ("[" in delta) == ci  # --ci: the interval follows the Δ, and compiles  # the negative Δ of `worse`, with a true minus
        assert "\u2013" in text  # "–" (no value) as an en dash
        assert "50% & #2" in text  # a name with LaTeX's special characters, as written


def test_fragment_in_a_plain_ot1_document(tmp_path):
    """The issue's case: our tabular \\input into a document with the default (OT1) font encoding."""
    specs = tables_for(tasks_records())
    (tmp_path / "table.tex").write_text(render(specs, "latex", latex=LatexOptions(fragment=True)))
    doc = "\n".join([r"\documentclass{article}", r"\usepackage{booktabs}", r"\usepackage[landscape]{geometry}",
                     r"\begin{document}", r"\begin{table}\centering\small", r"\input{table}", r"\end{table}",
                     r"\end{document}", ""])
    text = compile_text(doc, tmp_path, "paper")
    assert "<0.001" in text.replace(" ", "") and "¡" not in text
    assert specs[0].frame.loc["worse", "Δ"] in text and "†" in text


def test_standalone_preamble_lists_exactly_the_packages_used():
    tex = render(tables_for(tasks_records()), "latex", standalone=True)
    used = re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", tex)
    assert used == [p for p, _ in LATEX_PACKAGES] == ["cmap", "fontenc", "booktabs", "geometry"]
    assert r"\usepackage[T1]{fontenc}" in tex and r"\toprule" in tex
    assert "amssymb" not in tex and "inputenc" not in tex


def test_compile_check_catches_a_mangled_symbol(tmp_path):
    """The check above can fail: a bare < in OT1 text prints ¡, and a hyphen is not U+2212."""
    doc = "\n".join([r"\documentclass{article}", r"\begin{document}", "p <0.001, delta -4.73", r"\end{document}", ""])
    text = compile_text(doc, tmp_path, "mangled")
    assert "<0.001" not in text.replace(" ", "") and MINUS not in text
