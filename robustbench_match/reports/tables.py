"""Render TableSpecs as Markdown (tabulate), LaTeX (booktabs; compiled in CI) or CSV (pandas).

LaTeX is pasted into papers, so every cell must print what it means under any font encoding: ``<``
and ``>`` go into math (a bare ``<`` prints ``¡`` in OT1), a negative number gets a true minus
(``$-$``), ``±``/arrows/``†`` become their math symbols, and user-provided names have ``_ % & # $ { }``
escaped. Three shapes: a ``table`` float (caption, label), a bare ``tabular`` fragment for ``\\input``,
or a standalone document whose preamble loads exactly the packages below.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Optional

import pandas as pd
from tabulate import tabulate

from ..errors import RBMError
from ..inputs import markdown_cell, printable
from ..evaluators import LAYOUTS
from ..tabulation import CI_NOTE, MAJORITY_NOTE, MAJORITY_ROW, SHOW_CI, TableSpec

FORMATS = ("markdown", "latex", "csv", "json")

_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}
_LATEX_SYMBOLS = {"±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "→": r"$\rightarrow$",
                  "Δ": r"$\Delta$", "–": "--", "—": "---", "≥": r"$\geq$", "≤": r"$\leq$", "×": r"$\times$",
                  "−": r"$-$", "<": r"$<$", ">": r"$>$", "†": r"$^\dagger$", "‡": r"$^\ddagger$", "·": r"$\cdot$", "≈": r"$\approx$",
                  "|": r"$|$", "\u00a0": "~"}
_LATEX_MAP = {**_LATEX_SPECIAL, **_LATEX_SYMBOLS}
_HYPHEN_MINUS = re.compile(r"(?<![\w.)\]])-(?=\d)")  # "-4.7" (a number), not "model-2" or "noise-10"
_LABEL = re.compile(r"[A-Za-z0-9:._/+-]+")

#: the standalone preamble: exactly what the tables use, each for a reason
LATEX_PACKAGES = (
    ("cmap", None),  # before fontenc: the PDF's text maps back to Unicode (dashes, ligatures) when copied
    ("fontenc", "T1"),  # \_ as a glyph (copyable from the PDF), not OT1's drawn rule
    ("booktabs", None),  # \toprule \midrule \bottomrule
    ("geometry", "margin=1cm,landscape"),  # wide tables (attack recipes × eval sets) fit the page
)


def latex_escape(text: str) -> str:
    """Text of a cell or a name, safe in LaTeX text mode under OT1 and T1 alike, on one line (a newline from
    a hand-edited record would end a ``%`` comment or a ``\\caption`` paragraph: it prints as ``\\n``)."""
    text = _HYPHEN_MINUS.sub("\u2212", printable(text))
    return "".join(_LATEX_MAP.get(ch, ch) for ch in text)


@dataclass
class LatexOptions:
    """How ``to_latex`` wraps the tabulars: a float (default), a bare fragment, or a whole document."""

    standalone: bool = False
    fragment: bool = False
    caption: Optional[str] = None  # replaces each table's title in its caption (the notes still follow)
    label: Optional[str] = None  # \label of the first table; further tables get -2, -3, …

    def check(self) -> None:
        if self.standalone and self.fragment:
            raise RBMError("--standalone and --latex-fragment: choose one (a document, or a tabular to \\input)")
        if self.fragment and (self.caption or self.label):
            raise RBMError("--caption/--label: not with --latex-fragment (a bare tabular has no caption; "
                           "put \\caption and \\label around your \\input)")
        if self.label is not None and not _LABEL.fullmatch(self.label):
            raise RBMError(f"--label {self.label!r}: expected letters, digits and : . _ / + - only (e.g. tab:advglue)")


def tables_for(records: list[dict], baseline: Optional[str] = None, suite: Optional[str] = None,
               majority_row: bool = False, ci: bool = False, perturbation_metric: str = "flip_rate") -> list[TableSpec]:
    """One group of tables per suite in the records, each drawn with its evaluator's layout; with
    ``majority_row`` each table that has the records' majority-class scores gets that reference row; with
    ``ci`` every paired Δ carries its 95 % interval over seeds; ``perturbation_metric`` is what the perturbation
    suite's family columns show (flip_rate, drop, perturbed)."""
    from ..evaluators.perturbation.layout import PERTURBATION_METRIC, PERTURBATION_METRICS

    if perturbation_metric not in PERTURBATION_METRICS:
        raise RBMError(f"--perturbation-metric {perturbation_metric!r}: expected one of {', '.join(PERTURBATION_METRICS)}")
    token, metric_token = SHOW_CI.set(ci), PERTURBATION_METRIC.set(perturbation_metric)
    try:
        specs = _tables(records, baseline, suite, majority_row)
    finally:
        SHOW_CI.reset(token)
        PERTURBATION_METRIC.reset(metric_token)
    if ci:
        for spec in specs:
            cells = " ".join(map(str, spec.frame.to_numpy().ravel()))
            if "Δ" in spec.frame.columns or "(↑" in cells or "(↓" in cells:
                spec.note = (spec.note.rstrip(".") + ". " if spec.note else "") + CI_NOTE + "."
    return specs


def _tables(records: list[dict], baseline: Optional[str], suite: Optional[str], majority_row: bool) -> list[TableSpec]:
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
    if majority_row:
        if not any(s.majority for s in specs):
            raise RBMError("--majority-row: no record stores details.majority_score (results written before the "
                           "degenerate-model guard; re-run them with this version)")
        specs = [add_majority_row(s) for s in specs]
    return specs


def add_majority_row(spec: TableSpec) -> TableSpec:
    """Append the "majority class" reference row (never bold, never ranked) where the spec has one."""
    if not spec.majority:
        return spec
    frame = spec.frame.copy()
    frame.loc[MAJORITY_ROW] = [spec.majority.get(c, "–") for c in frame.columns]
    bold = None
    if spec.bold is not None:
        bold = spec.bold.copy()
        bold.loc[MAJORITY_ROW] = False
    note = spec.note.rstrip(".") + ". " + MAJORITY_NOTE + "."
    return TableSpec(spec.title, frame, bold, note, spec.majority)


def _marked(frame: pd.DataFrame, bold: Optional[pd.DataFrame], mark) -> pd.DataFrame:
    frame = frame.copy()
    if bold is not None:
        for col in frame.columns:
            if col in bold.columns:
                for i, row in enumerate(frame.index):
                    flag = bold.iloc[i][col] if i < len(bold.index) else False
                    if bool(flag) and flag == flag:
                        frame.iloc[i, frame.columns.get_loc(col)] = mark(frame.iloc[i][col])
    return frame


def to_markdown(specs: list[TableSpec]) -> str:
    parts = []
    for spec in specs:
        frame = _marked(spec.frame.map(markdown_cell), spec.bold, lambda v: f"**{v}**")
        frame.index = [markdown_cell(i) for i in frame.index]
        body = tabulate(frame, headers=["Method", *map(markdown_cell, frame.columns)], tablefmt="github",
                        stralign="right", showindex=True, disable_numparse=True)
        note = printable(spec.note) if spec.note else ""  # one line: a line of its own could start a row or a heading
        parts.append(f"### {printable(spec.title)}\n\n{body}\n" + (f"\n{note}\n" if note else ""))
    return "\n".join(parts)


def _tabular(spec: TableSpec) -> str:
    frame = spec.frame.map(latex_escape)
    frame = _marked(frame, spec.bold, lambda v: rf"\textbf{{{v}}}")
    header = " & ".join(["Method", *map(latex_escape, frame.columns)]) + r" \\"
    lines = [rf"\begin{{tabular}}{{l{'r' * len(frame.columns)}}}", r"\toprule", header, r"\midrule"]
    for label, row in zip(spec.frame.index, frame.values):
        if label == MAJORITY_ROW:
            lines.append(r"\midrule")
        lines.append(" & ".join([latex_escape(label), *map(str, row)]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def to_latex(specs: list[TableSpec], standalone: bool = False, options: Optional[LatexOptions] = None) -> str:
    """booktabs tables: ``table`` floats with caption (title or ``options.caption``, then the notes) and
    label; ``options.fragment``: bare tabulars (notes as comments); ``standalone``: a document that
    pdflatex compiles with Debian's texlive-latex-base + texlive-latex-recommended."""
    opts = options or LatexOptions(standalone=standalone)
    opts.check()
    parts = []
    for i, spec in enumerate(specs):
        tabular = _tabular(spec)
        if opts.fragment:
            comments = [f"% {printable(spec.title)}", *(f"% {printable(line)}" for line in spec.note.split(". ") if line)]
            parts.append("\n".join([*comments, tabular]))
            continue
        title = opts.caption if opts.caption else spec.title
        if opts.caption and len(specs) > 1:
            title = f"{opts.caption} ({spec.title})"
        caption = latex_escape(title.rstrip(".") + (". " + spec.note if spec.note else ""))
        lines = [r"\begin{table}[t]", r"\centering", r"\small", tabular, rf"\caption{{{caption}}}"]
        if opts.label:
            lines.append(rf"\label{{{opts.label if i == 0 else f'{opts.label}-{i + 1}'}}}")
        parts.append("\n".join([*lines, r"\end{table}"]))
    body = "\n\n".join(parts)
    if not opts.standalone:
        return body + "\n"
    preamble = [r"\documentclass{article}"]
    preamble += [rf"\usepackage[{o}]{{{p}}}" if o else rf"\usepackage{{{p}}}" for p, o in LATEX_PACKAGES]
    return "\n".join([*preamble, r"\begin{document}", body, r"\end{document}", ""])


#: a spreadsheet reads a field starting with one of these as a formula (OWASP, "CSV Injection")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")


def csv_field(value: object) -> str:
    """A CSV field a spreadsheet shows as text: one starting with ``= + - @``, a tab or a carriage return is
    prefixed with ``'`` as OWASP recommends (a model named ``=HYPERLINK(...)`` stays a name), unless it is a
    plain number (``-4.70`` stays a number). Control characters print escaped (:func:`printable`)."""
    text = str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        text = "'" + text
    return printable(text)


def to_csv(specs: list[TableSpec]) -> str:
    """All tables stacked in one CSV, a ``table`` column telling them apart. Every field (names, titles,
    headers and cells) passes :func:`csv_field`: no field is a formula when the file opens in a spreadsheet."""
    frames = []
    for spec in specs:
        frame = spec.frame.map(csv_field)
        frame.columns = [csv_field(c) for c in frame.columns]
        frame.index = [csv_field(i) for i in frame.index]
        frame.insert(0, "table", csv_field(spec.title))
        frame.index.name = "method"
        frames.append(frame)
    buf = io.StringIO()
    pd.concat(frames).to_csv(buf)
    return buf.getvalue()


def to_json(specs: list[TableSpec]) -> str:
    """Every table as {title, columns, rows: [{row, cells, bold}], note}, cells as the tables print them
    (the numbers behind them are the records in results.jsonl)."""
    import json

    tables = []
    for spec in specs:
        rows = []
        for i, label in enumerate(spec.frame.index):
            cells = {str(c): str(v) for c, v in spec.frame.iloc[i].items()}
            bold = [] if spec.bold is None else [str(c) for c in spec.bold.columns
                                                 if i < len(spec.bold.index) and bool(spec.bold.iloc[i][c])]
            rows.append({"row": str(label), "cells": cells, "bold": bold})
        tables.append({"title": spec.title, "columns": [str(c) for c in spec.frame.columns], "rows": rows,
                       "note": spec.note})
    return json.dumps(tables, indent=2, ensure_ascii=False) + "\n"


def render(specs: list[TableSpec], fmt: str, standalone: bool = False,
           latex: Optional[LatexOptions] = None) -> str:
    if fmt == "markdown":
        return to_markdown(specs)
    if fmt == "latex":
        return to_latex(specs, standalone=standalone, options=latex)
    if fmt == "csv":
        return to_csv(specs)
    if fmt == "json":
        return to_json(specs)
    raise RBMError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
