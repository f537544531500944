"""Render TableSpecs as Markdown (tabulate), LaTeX (compiles with a bare texlive-latex-base) or CSV (pandas)."""
from __future__ import annotations

import io
from typing import Optional

import pandas as pd
from tabulate import tabulate

from ..errors import RBMError
from .layouts import LAYOUTS, TableSpec

FORMATS = ("markdown", "latex", "csv")

_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}
_LATEX_SYMBOLS = {"±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "Δ": r"$\Delta$", "–": "--",
                  "≥": r"$\geq$", "≤": r"$\leq$", "×": r"$\times$"}


def latex_escape(text: str) -> str:
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))
    for sym, rep in _LATEX_SYMBOLS.items():
        out = out.replace(sym, rep)
    return out


def tables_for(records: list[dict], baseline: Optional[str] = None, suite: Optional[str] = None) -> list[TableSpec]:
    """One group of tables per suite in the records, each drawn with its evaluator's layout."""
    if suite:
        records = [r for r in records if r["suite"] == suite]
        if not records:
            raise RBMError(f"no stored results for suite {suite!r}")
    if not records:
        raise RBMError("no results to tabulate")
    specs: list[TableSpec] = []
    for name in sorted({r["suite"] for r in records}):
        group = [r for r in records if r["suite"] == name]
        layout = LAYOUTS.get(group[0].get("layout") or "tasks")
        specs.extend(layout(group, baseline))
    return specs


def _marked(spec: TableSpec, mark) -> pd.DataFrame:
    frame = spec.frame.copy()
    if spec.bold is not None:
        for col in frame.columns:
            if col in spec.bold.columns:
                for row in frame.index:
                    flag = spec.bold.loc[row, col] if row in spec.bold.index else False
                    if bool(flag) and flag == flag:
                        frame.loc[row, col] = mark(frame.loc[row, col])
    return frame


def to_markdown(specs: list[TableSpec]) -> str:
    parts = []
    for spec in specs:
        frame = _marked(spec, lambda v: f"**{v}**")
        body = tabulate(frame, headers=["Method", *frame.columns], tablefmt="github", stralign="right",
                        showindex=True, disable_numparse=True)
        parts.append(f"### {spec.title}\n\n{body}\n" + (f"\n{spec.note}\n" if spec.note else ""))
    return "\n".join(parts)


def to_latex(specs: list[TableSpec], standalone: bool = False) -> str:
    """Plain LaTeX tables (no extra packages beyond amssymb/geometry); with ``standalone`` a complete document that pdflatex compiles."""
    parts = []
    for spec in specs:
        frame = spec.frame.map(latex_escape)
        frame.index = [latex_escape(i) for i in frame.index]
        if spec.bold is not None:
            bold = spec.bold.copy()
            bold.index = frame.index
            frame = _marked(TableSpec(spec.title, frame, bold), lambda v: rf"\textbf{{{v}}}")
        header = " & ".join(["Method", *map(latex_escape, frame.columns)]) + r" \\"
        rows = [" & ".join([str(i), *map(str, row)]) + r" \\" for i, row in zip(frame.index, frame.values)]
        colspec = "l" + "r" * len(frame.columns)
        caption = latex_escape(spec.title + (". " + spec.note if spec.note else ""))
        parts.append("\n".join([
            r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{colspec}}}", r"\hline",
            header, r"\hline", *rows, r"\hline", r"\end{tabular}", rf"\caption{{{caption}}}",
            r"\end{table}"]))
    body = "\n\n".join(parts)
    if not standalone:
        return body + "\n"
    return "\n".join([r"\documentclass{article}", r"\usepackage[utf8]{inputenc}",
                      r"\usepackage{amssymb}", r"\usepackage[margin=1cm,landscape]{geometry}",
                      r"\begin{document}", body, r"\end{document}", ""])


def to_csv(specs: list[TableSpec]) -> str:
    """All tables stacked in one CSV, a ``table`` column telling them apart."""
    frames = []
    for spec in specs:
        frame = spec.frame.copy()
        frame.insert(0, "table", spec.title)
        frame.index.name = "method"
        frames.append(frame)
    buf = io.StringIO()
    pd.concat(frames).to_csv(buf)
    return buf.getvalue()


def render(specs: list[TableSpec], fmt: str, standalone: bool = False) -> str:
    if fmt == "markdown":
        return to_markdown(specs)
    if fmt == "latex":
        return to_latex(specs, standalone=standalone)
    if fmt == "csv":
        return to_csv(specs)
    raise RBMError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")

