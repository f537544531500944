"""`rbm report`: a self-contained static site (``index.html`` + one JSON file per record) from stored records
only — leaderboards per suite, degradation curves, per-group bars, attack outcomes and the adversarial
examples themselves, and each model's provenance. Opens from ``file://`` offline: no server, no CDN, inline
CSS, inline SVG figures and a few lines of plain JavaScript (sorting, task filter, example search); every
table is a semantic ``<table>`` that reads and prints without JavaScript.

The leaderboards are exactly ``rbm table --ci --majority-row``'s tables (the same :class:`TableSpec`
cells, bold and † rules); nothing here re-runs a model.
"""
from __future__ import annotations

import csv
import datetime as _dt
import difflib
import functools
import html
import io
import logging
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .._version import __version__
from ..errors import RBMError
from ..figures import legend_label, literal_text
from ..inputs import inside, path_component
from ..results import RESULTS_FILE, ResultStore, atomic_write_text, dumps, load_records
from ..tabulation import DAGGER, MAJORITY_ROW, TableSpec
from ..tasks import TASKS, get_task
from .tables import tables_for

MARKER = ".rbm-report"  # a folder holding it was written by rbm report (only such a folder is rewritten)
_MANIFEST = "file: "  # MARKER's lines naming each file the report wrote (the only files a rewrite may delete)
log = logging.getLogger(__name__)
NUMBER = re.compile(r"[<−\-+]?\d+(?:\.\d+)?")


# ---------------------------------------------------------------------------- inputs
@dataclass
class Sources:
    """The records (deduplicated as ``rbm table`` reads them) and the run folder each came from."""

    records: list[dict]
    run_of: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def read(cls, run_dirs: list[str]) -> "Sources":
        records = load_records(run_dirs)
        run_of: dict[str, Path] = {}
        for d in map(Path, run_dirs):
            folder = d.parent if d.name == RESULTS_FILE else d
            for rec in ResultStore(folder).records():
                run_of.setdefault(rec["key"], folder)
        return cls(records, run_of)


def check_output(out: Path) -> None:
    """Write only into a new or empty folder, or one an earlier ``rbm report`` wrote (never over other files)."""
    if out.exists() and not out.is_dir():
        raise RBMError(f"-o {out}: is a file (expected a folder for the report)")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise RBMError(f"-o {out}: the folder holds files that rbm report did not write; choose a new or empty "
                       f"folder (nothing was written)")


class ReportFolder:
    """Every write and delete of ``rbm report`` goes through here: a path must stay inside the folder once
    symlinks are followed (``SITE/records`` linked to the user's own folder is refused before anything is
    written), and a rewrite deletes only the files its marker lists as written by an earlier report — a file
    a user put beside them is kept, and said so."""

    def __init__(self, out: Path) -> None:
        check_output(out)
        self.out = out
        self.written: list[str] = []

    def check(self, rel: str) -> Path:
        """``out/rel``, refused in one line when it or a folder on the way is a symlink (the report writes and
        deletes only its own plain files), and, as every writer, when it resolves outside the folder."""
        path = self.out / rel
        for part in [*reversed(Path(rel).parents[:-1]), Path(rel)]:
            if (self.out / part).is_symlink():
                raise RBMError(f"-o {self.out}: {part} is a symbolic link; rbm report writes only plain files and "
                               f"folders of its own (nothing was written)")
        return inside(self.out, path, "report file")

    def earlier(self) -> set[str]:
        """The files an earlier report listed in its marker (none for a new folder or an older marker)."""
        try:
            lines = (self.out / MARKER).read_text(encoding="utf-8").splitlines()
        except OSError:
            return set()
        return {line[len(_MANIFEST):] for line in lines if line.startswith(_MANIFEST)}

    def write(self, rel: str, text: str) -> None:
        atomic_write_text(self.check(rel), text)
        self.written.append(rel)

    def finish(self) -> None:
        """Delete what the earlier report wrote and this one did not; keep (and name) every other file of
        ``records/``; then record this report's files in the marker."""
        keep = set(self.written)
        for rel in sorted(self.earlier() - keep):
            path = self.out / rel
            if path.is_file() and not path.is_symlink() and rel.startswith("records/") and ".." not in rel:
                path.unlink()
        foreign = sorted(p.name for p in (self.out / "records").iterdir()
                         if f"records/{p.name}" not in keep) if (self.out / "records").is_dir() else []
        if foreign:
            log.warning("%s: %d file(s) not written by rbm report kept as they are (%s)", self.out / "records",
                        len(foreign), ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else ""))
        atomic_write_text(self.check(MARKER), "written by rbm report; rbm report may rewrite this folder\n"
                          + "".join(f"{_MANIFEST}{rel}\n" for rel in sorted(keep)))


def href(rel: str) -> str:
    """A relative link to a file of the site: percent-encoded, so the browser's decoding of ``%7C`` in a file
    name (``records/glue-dev%7Cm.json``) gives back the name on disk."""
    return urllib.parse.quote(rel, safe="/")


# ---------------------------------------------------------------------------- leaderboards
def sort_value(text: str) -> str:
    """The number a cell sorts by (its first number; ``<0.001`` → 0.0009); empty for ``–``/NaN."""
    m = NUMBER.search(text)
    if not m:
        return ""
    token = m.group(0).replace("−", "-")
    return "0.0009" if token.startswith("<") else token.lstrip("+")


@functools.lru_cache(maxsize=None)  # one lookup per header, not per cell
def column_task(column: str) -> str:
    """The task a column belongs to (its display name appears in the header), else empty."""
    found = [t for t in TASKS.names() if re.search(rf"(?<![\w-]){re.escape(get_task(t).display)}(?![\w-])", column)]
    return found[0] if len(found) == 1 else ""


def table_html(spec: TableSpec, table_id: str) -> str:
    cols = [str(c) for c in spec.frame.columns]
    head = "".join(
        f'<th scope="col" data-task="{column_task(c)}"><button type="button" class="sort" data-col="{i + 1}">'
        f"{html.escape(c)}</button></th>" for i, c in enumerate(cols))
    body, reference = [], []
    for i, label in enumerate(spec.frame.index):
        cells = []
        for c in cols:
            text = str(spec.frame.iloc[i][c])
            bold = spec.bold is not None and c in spec.bold.columns and bool(spec.bold.iloc[i][c])
            klass = " degenerate" if DAGGER in text else ""
            shown = f"<strong>{html.escape(text)}</strong>" if bold else html.escape(text)
            cells.append(f'<td class="num{klass}" data-task="{column_task(c)}" data-value="{sort_value(text)}">'
                         f"{shown}</td>")
        row = f'<th scope="row">{html.escape(str(label))}</th>{"".join(cells)}'
        if str(label) == MAJORITY_ROW:  # a reference, not a contender: below the sorted rows
            reference.append(f'<tr class="reference">{row}</tr>')
        else:
            body.append(f"<tr>{row}</tr>")
    foot = f'<tfoot>{"".join(reference)}</tfoot>' if reference else ""
    return (f'<table class="leaderboard" id="{table_id}"><caption>{html.escape(spec.title)}</caption>'
            f'<thead><tr><th scope="col">Method</th>{head}</tr></thead><tbody>{"".join(body)}</tbody>{foot}'
            f'</table><p class="note">{html.escape(spec.note)}</p>')


# ---------------------------------------------------------------------------- figures (inline SVG)
def svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: inline in HTML


@literal_text
def group_figure(records: list[dict]):
    """Per-group accuracy per model (mean over seeds; the exact interval of a single seed, else ± sd); the
    worst group of each model hatched."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = [g["name"] for g in records[0]["details"]["groups"]]
    models = sorted({r["model"] for r in records})
    fig, ax = plt.subplots(figsize=(min(12, 1.2 + 1.1 * len(names) * max(1, len(models)) / 2), 3.2))
    width = 0.8 / max(1, len(models))
    for k, model in enumerate(models):
        mine = [r for r in records if r["model"] == model]
        acc = np.array([[next(g for g in r["details"]["groups"] if g["name"] == n).get("accuracy", np.nan)
                         for n in names] for r in mine], dtype=float) * 100
        mean = np.nanmean(acc, axis=0)
        if len(mine) == 1:
            groups = mine[0]["details"]["groups"]
            low = np.array([g.get("ci_low", np.nan) for g in groups], dtype=float) * 100
            high = np.array([g.get("ci_high", np.nan) for g in groups], dtype=float) * 100
            err = np.vstack([mean - low, high - mean])
        else:
            err = np.nanstd(acc, axis=0, ddof=1)
        x = np.arange(len(names)) + k * width
        bars = ax.bar(x, mean, width, yerr=err, capsize=2, label=legend_label(model))
        bars[int(np.nanargmin(mean))].set_hatch("//")
    ax.set_xticks(np.arange(len(names)) + width * (len(models) - 1) / 2, names, rotation=20, fontsize=8)
    ax.set_ylabel("accuracy (×100)")
    ax.set_title("per-group accuracy (hatched: each model's worst group; bars: exact interval at one seed, "
                 "else ± sd)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", alpha=0.3)
    return fig


@literal_text
def attack_figure(records: list[dict]):
    """Accuracy under attack and attack success rate per model and recipe (mean ± sd over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    recipes = sorted({r["condition"].split("attack:", 1)[-1] for r in records})
    models = sorted({r["model"] for r in records})
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.0), squeeze=False)
    width = 0.8 / max(1, len(models))
    for ax, (metric, label) in zip(axes[0], (("accuracy_under_attack", "accuracy under attack"),
                                             ("attack_success_rate", "attack success rate"))):
        for k, model in enumerate(models):
            vals = [[r["metrics"].get(metric) for r in records if r["model"] == model
                     and r["condition"].endswith("attack:" + recipe)] for recipe in recipes]
            mean = [100 * np.nanmean(np.array(v, dtype=float)) if v else np.nan for v in vals]
            sd = [100 * np.nanstd(np.array(v, dtype=float), ddof=1) if len(v) > 1 else 0 for v in vals]
            ax.bar(np.arange(len(recipes)) + k * width, mean, width, yerr=sd, capsize=2, label=legend_label(model))
        ax.set_xticks(np.arange(len(recipes)) + width * (len(models) - 1) / 2, recipes)
        ax.set_title(f"{label} (×100, mean ± sd)", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


# ---------------------------------------------------------------------------- adversarial examples
def word_diff(original: str, perturbed: str) -> tuple[str, str]:
    """Both texts as HTML with the words that differ marked (``<del>`` in the original, ``<ins>`` in the
    perturbed text), by a word-level alignment — TextAttack's red/green colouring of changed words."""
    a, b = original.split(), perturbed.split()
    out_a, out_b = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        left, right = " ".join(map(html.escape, a[i1:i2])), " ".join(map(html.escape, b[j1:j2]))
        if op == "equal":
            out_a.append(left)
            out_b.append(right)
            continue
        if left:
            out_a.append(" ".join(f"<del>{w}</del>" for w in map(html.escape, a[i1:i2])))
        if right:
            out_b.append(" ".join(f"<ins>{w}</ins>" for w in map(html.escape, b[j1:j2])))
    return " ".join(x for x in out_a if x), " ".join(x for x in out_b if x)


def attack_log_path(run_dir: Path, record: dict) -> Optional[Path]:
    """The cell's attack log under its run folder (records store the path as written at run time)."""
    stored = (record.get("details") or {}).get("log")
    if not isinstance(stored, str):
        return None
    parts = Path(stored).parts
    for i, part in enumerate(parts):
        if part == "cells" and ".." not in parts[i:]:
            path = run_dir.joinpath(*parts[i:])
            if path.is_file():
                return path
    return None


def label_names(record: dict) -> dict[str, str]:
    labels = ((record.get("checkpoint") or {}).get("labels") or {}).get(record["task"]) or {}
    names = labels.get("id2label") or {}
    if not names:
        names = {str(i): n for i, n in enumerate(get_task(record["task"]).label_names or ())}
    return {str(k): str(v) for k, v in names.items()}


def examples_html(record: dict, run_dir: Optional[Path]) -> str:
    path = attack_log_path(run_dir, record) if run_dir else None
    title = f"{record['model']} · {record['task']} · {record['condition'].split('attack:', 1)[-1]} · seed {record.get('seed', '–')}"
    m = record["metrics"]
    counts = (f"{int(m.get('n_successful') or 0)} successful, {int(m.get('n_failed') or 0)} failed, "
              f"{int(m.get('n_skipped') or 0)} skipped (already misclassified) of {int(m.get('n_attacked') or 0)}")
    if path is None:
        return f"<details class='attack'><summary>{html.escape(title)} — {counts}</summary><p>attack log not found " \
               f"under the run folder</p></details>"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("result") == "successful"]
    names = label_names(record)
    body = []
    for r in rows:
        before, after = word_diff(r["original_text"], r["perturbed_text"])
        if r.get("original_text_b"):
            b_before, b_after = word_diff(r["original_text_b"], r.get("perturbed_text_b") or "")
            before, after = f"{before}<br>{b_before}", f"{after}<br>{b_after}"
        out = f"{names.get(r['original_output'], r['original_output'])} → {names.get(r['perturbed_output'], r['perturbed_output'])}"
        body.append(f"<tr class='example'><td>{before}</td><td>{after}</td>"
                    f"<td>{html.escape(names.get(r['label'], r['label']))}</td><td>{html.escape(out)}</td>"
                    f"<td class='num'>{html.escape(r.get('num_queries', ''))}</td></tr>")
    table = ("<table class='examples'><thead><tr><th scope='col'>original</th><th scope='col'>perturbed</th>"
             "<th scope='col'>label</th><th scope='col'>output before → after</th><th scope='col'>queries</th>"
             f"</tr></thead><tbody>{''.join(body)}</tbody></table>")
    return f"<details class='attack'><summary>{html.escape(title)} — {counts}</summary>{table}</details>"


def perturbation_examples_html(record: dict) -> str:
    """A perturbation cell's failing rows (stored in its record: flips of an INV family, violations of a DIR
    one; MFT: each failing test's cases), the changed words marked as for the attacks."""
    d = record.get("details") or {}
    seed = f"seed {record.get('seed', '–')}"
    if d.get("mft"):
        failing = [t for t in d.get("tests", []) if t.get("failures")]
        rows = "".join(f"<tr class='example'><td>{html.escape(t['name'])}</td><td>{html.escape(' | '.join(e['text']))}</td>"
                       f"<td>{html.escape(', '.join(t['expected']))}</td><td>{html.escape(e['prediction'])}</td></tr>"
                       for t in failing for e in t.get("examples", []))
        head = "<th scope='col'>test</th><th scope='col'>case</th><th scope='col'>expected</th><th scope='col'>predicted</th>"
        what = f"MFT {d['mft']} — {len(failing)} of {len(d.get('tests', []))} tests with failures"
    else:
        shown = d.get("failures") or []
        rows = ""
        for e in shown:
            pairs = [word_diff(a, b) for a, b in zip(e["original"], e["perturbed"])]
            before, after = "<br>".join(p[0] for p in pairs), "<br>".join(p[1] for p in pairs)
            rows += (f"<tr class='example'><td>{before}</td><td>{after}</td><td>{html.escape(e['label'])}</td>"
                     f"<td>{html.escape(e['clean_prediction'] + ' → ' + e['prediction'])}</td></tr>")
        head = ("<th scope='col'>original</th><th scope='col'>perturbed</th><th scope='col'>label</th>"
                "<th scope='col'>prediction before → after</th>")
        m = record["metrics"]
        kind = "violations" if d.get("test") == "DIR" else "flips"
        what = (f"{d.get('family')} — {int(m.get('n_changed') or 0)} of {record.get('n_examples')} rows changed; "
                f"first {len(shown)} {kind}")
    title = f"{record['model']} · {record['task']} · {what} · {seed}"
    if not rows:
        return f"<details class='attack'><summary>{html.escape(title)}</summary><p>no failing example</p></details>"
    return (f"<details class='attack'><summary>{html.escape(title)}</summary><table class='examples'><thead><tr>{head}"
            f"</tr></thead><tbody>{rows}</tbody></table></details>")


# ---------------------------------------------------------------------------- provenance
def provenance_html(records: list[dict], link_of: dict[str, str]) -> str:
    by_model: dict[str, list[dict]] = {}
    for r in records:
        by_model.setdefault(r["model"], []).append(r)
    parts = []
    for model in sorted(by_model):
        recs = sorted(by_model[model], key=lambda r: (r["suite"], r["task"], str(r["condition"]), str(r.get("seed"))))
        first = recs[0]
        ck = first.get("checkpoint") or {}
        hp = ck.get("hyperparameters") or {}
        facts = [("method", ck.get("method") or "–"), ("kind", ck.get("kind") or "–"),
                 ("hyperparameters", ", ".join(f"{k}={v}" for k, v in sorted(hp.items())) or "–"),
                 ("versions", ", ".join(f"{k} {v}" for k, v in sorted((first.get("versions") or {}).items())) or "–"),
                 ("git", f"{first.get('git') or '–'}{' (dirty)' if first.get('git_dirty') else ''}")]
        dl = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts)
        rows = "".join(
            f"<tr><td>{html.escape(r['suite'])}</td><td>{html.escape(r['task'])}</td><td>{html.escape(str(r['condition']))}</td>"
            f"<td>{html.escape(str(r.get('seed', '–')))}</td>"
            f"<td><code>{html.escape(((r.get('checkpoint') or {}).get('train_data_sha256') or '–')[:12])}</code></td>"
            f"<td><code>{html.escape(((r.get('fingerprint') or {}).get('sha256') or '–')[:12])}</code></td>"
            f"<td>{html.escape(str((r.get('executor') or {}).get('kind') or '–'))}</td>"
            f"<td>{html.escape(str(r.get('date') or '–'))}</td>"
            f"<td><a href='{html.escape(href(link_of[r['key']]))}'>JSON</a></td></tr>" for r in recs)
        parts.append(f"<details class='model'><summary>{html.escape(model)} ({len(recs)} records)</summary><dl>{dl}</dl>"
                     "<table class='records'><thead><tr><th scope='col'>suite</th><th scope='col'>task</th>"
                     "<th scope='col'>condition</th><th scope='col'>seed</th><th scope='col'>training rows sha256</th>"
                     "<th scope='col'>fingerprint</th><th scope='col'>executor</th><th scope='col'>date</th>"
                     f"<th scope='col'>record</th></tr></thead><tbody>{rows}</tbody></table></details>")
    return "".join(parts)


# ---------------------------------------------------------------------------- the page
def suite_section(suite: str, records: list[dict], sources: Sources, baseline: Optional[str], n: int) -> str:
    from .degradation_plot import degradation_figures

    try:
        specs = tables_for(records, baseline=baseline, ci=True, majority_row=True)
    except RBMError:  # records older than the majority-class guard: no reference row
        specs = tables_for(records, baseline=baseline, ci=True)
    tables = "".join(table_html(spec, f"t{n}-{i}") for i, spec in enumerate(specs))
    kind = records[0].get("evaluator") or records[0].get("layout")
    figures = []
    if kind in ("label-noise", "minority"):
        figures = [svg(fig) for _, fig in degradation_figures(records, baseline)]
    elif kind in ("mnli-negation", "groups") and records[0].get("details", {}).get("groups"):
        for eval_set in sorted({r["eval_set"] for r in records}):
            figures.append(svg(group_figure([r for r in records if r["eval_set"] == eval_set])))
    elif kind == "textattack":
        figures = [svg(attack_figure(records))]
    figs = "".join(f"<figure>{f}</figure>" for f in figures)
    examples = ""
    if kind == "textattack":
        cells = sorted(records, key=lambda r: (r["model"], r["task"], r["condition"], str(r.get("seed"))))
        examples = ("<h3>Adversarial examples</h3><p><label>Search examples: <input type='search' class='example-search' "
                    "placeholder='a word, a model'></label> Changed words: <del>removed</del> / <ins>inserted</ins>.</p>"
                    + "".join(examples_html(r, sources.run_of.get(r["key"])) for r in cells))
    if kind == "perturbation":
        cells = sorted(records, key=lambda r: (r["model"], r["task"], r["condition"], str(r.get("seed"))))
        examples = ("<h3>Failing examples</h3><p><label>Search examples: <input type='search' class='example-search' "
                    "placeholder='a word, a model, a family'></label> Changed words: <del>removed</del> / "
                    "<ins>inserted</ins>.</p>" + "".join(perturbation_examples_html(r) for r in cells))
    return (f"<section class='suite' id='suite-{path_component(suite)}'><h2>{html.escape(suite)}</h2>{tables}"
            f"{figs}{examples}</section>")


CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1240px;padding:0 16px;color:#1b1b1b}
h1{font-size:1.6rem}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.82rem;width:100%}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid #e3e3e3;padding:3px 6px;text-align:left;vertical-align:top}
td.num{font-variant-numeric:tabular-nums;white-space:normal}
thead th{background:#f4f4f4;position:sticky;top:0}
button.sort{all:unset;cursor:pointer;font-weight:600}button.sort::after{content:" \\2195";color:#999}
th[aria-sort=ascending] button.sort::after{content:" \\2191"}th[aria-sort=descending] button.sort::after{content:" \\2193"}
td.degenerate{color:#8a8a8a;font-style:italic}tr.reference th,tr.reference td{color:#666;font-style:italic}
.note{font-size:.78rem;color:#444}figure{margin:.6rem 0;overflow:hidden}figure svg{max-width:100%;height:auto}
del{background:#fbd3d3;text-decoration:line-through;color:#8b0000}ins{background:#d3f5d3;text-decoration:none;color:#064d06}
details{margin:.3rem 0}summary{cursor:pointer}.hidden{display:none}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:.82rem}dt{font-weight:600}
@media print{button.sort::after{content:""}details{display:block}thead th{position:static}}
"""

JS = """
function cellValue(row,col){const c=row.cells[col];const v=c&&c.dataset.value;return v===undefined||v===''?NaN:parseFloat(v);}
document.querySelectorAll('table.leaderboard').forEach(function(t){
 t.querySelectorAll('button.sort').forEach(function(b){b.addEventListener('click',function(){
  const col=parseInt(b.dataset.col,10),th=b.parentElement,asc=th.getAttribute('aria-sort')!=='ascending';
  t.querySelectorAll('thead th').forEach(function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',asc?'ascending':'descending');
  const body=t.tBodies[0],rows=Array.from(body.rows);
  rows.sort(function(a,b){const x=cellValue(a,col),y=cellValue(b,col);
   if(isNaN(x)&&isNaN(y))return 0;if(isNaN(x))return 1;if(isNaN(y))return -1;return asc?x-y:y-x;});
  rows.forEach(function(r){body.appendChild(r);});});});});
const filter=document.getElementById('task-filter');
if(filter){filter.addEventListener('change',function(){const task=filter.value;
 document.querySelectorAll('[data-task]').forEach(function(c){const t=c.dataset.task;
  c.classList.toggle('hidden',!!task&&!!t&&t!==task);});});}
document.querySelectorAll('input.example-search').forEach(function(inp){inp.addEventListener('input',function(){
 const q=inp.value.toLowerCase();const sec=inp.closest('section');
 sec.querySelectorAll('details.attack').forEach(function(d){let any=false;
  d.querySelectorAll('tr.example').forEach(function(r){const hit=!q||r.textContent.toLowerCase().includes(q)||d.querySelector('summary').textContent.toLowerCase().includes(q);
   r.classList.toggle('hidden',!hit);any=any||hit;});
  if(q){d.open=any;}});});});
"""


def build_report(run_dirs: list[str], output: str, baseline: Optional[str] = None, title: Optional[str] = None) -> Path:
    """Write the site into ``output`` (see the module docstring); returns the path of ``index.html``."""
    out = Path(output)
    folder = ReportFolder(out)
    sources = Sources.read(run_dirs)
    if not sources.records:
        raise RBMError(f"{', '.join(run_dirs)}: no stored results to report")
    link_of = {rec["key"]: f"records/{path_component(rec['key'])}.json" for rec in sources.records}
    for rel in [MARKER, "index.html", *link_of.values()]:  # every path checked before the first byte is written
        folder.check(rel)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / MARKER).exists():
        atomic_write_text(out / MARKER, "written by rbm report; rbm report may rewrite this folder\n")
    for rec in sources.records:
        folder.write(link_of[rec["key"]], dumps(rec) + "\n")
    suites = sorted({r["suite"] for r in sources.records})
    sections = "".join(suite_section(s, [r for r in sources.records if r["suite"] == s], sources, baseline, i)
                       for i, s in enumerate(suites))
    tasks = sorted({r["task"] for r in sources.records}, key=lambda t: get_task(t).display)
    options = "".join(f"<option value='{html.escape(t)}'>{html.escape(get_task(t).display)}</option>" for t in tasks)
    nav = "".join(f"<li><a href='#suite-{path_component(s)}'>{html.escape(s)}</a></li>" for s in suites)
    models = sorted({r["model"] for r in sources.records})
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title or 'robustbench-match report')}</title><style>{CSS}</style></head>
<body><header><h1>{html.escape(title or 'robustbench-match report')}</h1>
<p>{len(sources.records)} stored records, {len(models)} models, {len(suites)} suites, from {html.escape(', '.join(run_dirs))}.
Generated {now} by robustbench-match {__version__} from the stored records only (no model was run).
Cells: mean ± sd (max) over seeds; Δ with its 95 % interval over paired seeds and the exact sign-flip p;
{DAGGER} marks a degenerate model (≥ 95 % of predictions in one class), never bold or ranked.</p>
<nav aria-label="suites"><ul>{nav}<li><a href="#provenance">provenance</a></li></ul></nav>
<p><label>Show task: <select id="task-filter"><option value="">all tasks</option>{options}</select></label>
(click a column header to sort)</p></header>
<main>{sections}<section id="provenance"><h2>Provenance</h2>{provenance_html(sources.records, link_of)}</section></main>
<script>{JS}</script></body></html>
"""
    folder.write("index.html", page)
    folder.finish()
    return out / "index.html"
