"""Tables from stored records: mean ± sd (max) over seeds, Avg, Δ vs baseline with its exact p, n, NaN, † and
bold only where significant (issue 8). LaTeX compiles: tests/reports/test_latex.py."""
from __future__ import annotations

from pathlib import Path

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
    assert list(f.columns) == ["CoLA", "MNLI-m", "MNLI-mm", "RTE", "Avg", "Δ", "p"]
    assert list(f.index) == ["vanilla", "match-tuning"]
    sd = np.std([70, 72, 68], ddof=1)
    assert f.loc["vanilla", "RTE"] == f"70.00 ± {sd:.2f} (72.00)"
    assert f.loc["vanilla", "Avg"] == f"{np.mean([60, 60, 50, 70]):.2f}"
    # match-tuning lacks MNLI: its Avg covers its own tasks and is marked
    assert f.loc["match-tuning", "Avg"] == f"{np.mean([60, 74]):.2f}*"
    # ... and its Δ compares like with like: both rows' means over the tasks both have (CoLA, RTE), marked *,
    # not its 2-task Avg minus vanilla's 4-task Avg; the p pairs the 3 seeds of those tasks
    assert f.loc["match-tuning", "Δ"] == f"{np.mean([60, 74]) - np.mean([60, 70]):+.2f}*"
    assert f.loc["match-tuning", "p"] == "0.250 (n=3)" and "Δ* over the tasks both rows have" in spec.note
    md = render([spec], "markdown")
    # three seeds cannot make any difference significant: nothing is bold, and the note says why
    assert "**" not in md and "Method |" in md and not spec.bold.to_numpy().any()
    assert "with n=3 seeds the exact test cannot go below p = 0.25" in spec.note.lower()
    assert f.loc["vanilla", "MNLI-m"] == "60.00 (n=1)" and "Seeds: n = 3 per value unless it says (n=k)" in spec.note


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
    assert r"\begin{tabular}{lrrrrrrr}" in tex and r"$\pm$" in tex and "_" not in tex.replace(r"\_", "")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex and r"\hline" not in tex


def test_rbm_table_cli(records, tmp_path, capsys):
    store = ResultStore(tmp_path)
    for r in records:
        store.put(r)
    assert main(["table", str(tmp_path), "--format", "markdown"]) == 0
    assert "match-tuning" in capsys.readouterr().out
    assert main(["table", str(tmp_path / "nothing")]) == 1
    assert "no results.jsonl" in capsys.readouterr().err


# ---------------------------------------------------------------------------- issue 8: tables that cannot overclaim

ADV_SST2 = 148  # examples in AdvGLUE dev advSST-2


def _adv(model, seed, correct, degenerate=False, majority=76):
    """An advglue record as `rbm run` writes it (schema of results/*/results.jsonl), built by hand."""
    acc = correct / ADV_SST2
    return {"schema": 1, "key": f"advglue|{model}|sst2|adversarial|{seed}", "suite": "advglue", "suite_version": 1,
            "evaluator": "advglue", "layout": "advglue", "model": model, "task": "sst2", "eval_set": "sst2",
            "condition": "adversarial", "seed": seed, "metrics": {"accuracy": acc, "advglue_score": acc},
            "main_metric": "advglue_score", "higher_is_better": {"accuracy": True, "advglue_score": True},
            "n_examples": ADV_SST2, "degenerate": degenerate,
            "details": {"prediction_share": 1.0 if degenerate else 0.55, "majority_score": majority / ADV_SST2,
                        "majority_share": majority / ADV_SST2}}


@pytest.fixture
def issue_case():
    """Issue 8's case: `other` is 7 examples (4.73 points) below `vanilla` on every seed; `constant` predicts
    one class and scores higher (48.65)."""
    return ([_adv("vanilla", s, 64) for s in (1, 2, 3)] + [_adv("other", s, 57) for s in (1, 2, 3)]
            + [_adv("constant", s, 72, degenerate=True) for s in (1, 2, 3)])


def test_issue_case_rbm_table(issue_case, tmp_path, capsys):
    store = ResultStore(tmp_path)
    for r in issue_case:
        store.put(r)
    assert main(["table", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (spec,) = tables_for(issue_case)
    f = spec.frame
    assert f.loc["other", "Δ"] == "\u22124.73" and f.loc["other", "p"] == "0.250 (n=3)"  # not significant
    assert f.loc["constant", "Avg"] == "48.65 ± 0.00 (48.65)†" and f.loc["constant", "advSST-2"] == "48.65†"
    assert f.loc["constant", "Δ"] == "+5.41†" and f.loc["constant", "p"].endswith("†")
    assert not spec.bold.to_numpy().any() and "**" not in out  # nothing bold
    assert " 0.250 (n=3) |" in out and "48.65 ± 0.00 (48.65)†" in out
    assert "With n=3 seeds the exact test cannot go below p = 0.25" in out
    assert "† a degenerate model among the seeds: ≥ 95 % of its predictions in one class" in out
    assert "constant / Avg: 3 of 3 seeds" in out and "<0.001" not in out


def test_majority_row(issue_case, tmp_path, capsys):
    store = ResultStore(tmp_path)
    for r in issue_case:
        store.put(r)
    assert main(["table", str(tmp_path), "--majority-row"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "majority class" in line and line.startswith("|"))
    assert f"{76 / ADV_SST2 * 100:.2f}" == "51.35" and row.count("51.35") == 2  # advSST-2 and Avg
    assert "most frequent label" in out
    # records from before the guard have no majority score: one line, not a traceback
    old = tmp_path / "old"
    store = ResultStore(old)
    for r in issue_case:
        store.put({**r, "details": {}})
    assert main(["table", str(old), "--majority-row"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "details.majority_score" in err[0]


def test_nan_seeds_are_shown_with_n():
    recs = [_rec("a", "stsb", "stsb", s, v, "spearmanr") for s, v in ((1, 0.80), (2, 0.82), (3, float("nan")))]
    recs += [_rec("b", "stsb", "stsb", s, float("nan"), "spearmanr") for s in (1, 2, 3)]
    (spec,) = tables_for(recs)
    assert spec.frame.loc["a", "STS-B"] == "81.00 ± 1.41 (82.00) (n=2 of 3; 1 NaN)"
    assert spec.frame.loc["b", "STS-B"] == "NaN (n=3)"
    assert spec.frame.loc["b", "Avg"] == "NaN*" and "NaN: the stored metric is undefined" in spec.note
    md = render([spec], "markdown")
    assert "nan" not in md.replace("NaN", "") and "+nan" not in md.lower()


def test_negative_numbers_use_a_true_minus(records):
    recs = [dict(r, metrics={k: -v for k, v in r["metrics"].items()}) if r["model"] == "match-tuning" else r
            for r in records]
    (spec,) = tables_for(recs)
    assert spec.frame.loc["match-tuning", "RTE"].startswith("\u221274.00 ± 1.00 (\u221273.00)")
    assert spec.frame.loc["match-tuning", "Δ"].startswith("\u2212")
    assert "-" not in "".join(spec.frame.loc["match-tuning"])


def test_latex_options_and_flag_errors(records, tmp_path, capsys):
    store = ResultStore(tmp_path)
    for r in records:
        store.put(dict(r, model=r["model"].replace("-", "_")))
    assert main(["table", str(tmp_path), "--format", "latex", "--caption", "Our 50% & #1 run", "--label", "tab:glue"]) == 0
    out = capsys.readouterr().out
    assert r"\caption{Our 50\% \& \#1 run. Metric" in out and r"\label{tab:glue}" in out and "match\\_tuning" in out
    assert main(["table", str(tmp_path), "--format", "latex", "--latex-fragment"]) == 0
    frag = capsys.readouterr().out
    assert frag.lstrip().startswith("% ") and r"\begin{table}" not in frag and r"\documentclass" not in frag
    assert r"\begin{tabular}" in frag and r"\toprule" in frag
    for bad, what in ((["--format", "markdown", "--standalone"], "--standalone: only with --format latex"),
                      (["--format", "latex", "--standalone", "--latex-fragment"], "choose one"),
                      (["--format", "latex", "--latex-fragment", "--caption", "x"], "not with --latex-fragment"),
                      (["--format", "latex", "--label", "tab 1"], "--label 'tab 1'")):
        assert main(["table", str(tmp_path), *bad]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and what in err[0], err


def test_degradation_plot_marks_degenerate_points_and_the_majority_line(tmp_path):
    from robustbench_match.reports.degradation_plot import curves, majority_lines, plot_degradation

    recs = []
    for seed in (1, 2, 3):
        for cond, acc in (("clean", 0.70), ("noise-10", 0.64)):
            for model, shift in (("vanilla", 0.0), ("constant", -0.1)):
                value = float("nan") if (model, cond, seed) == ("vanilla", "noise-10", 3) else acc + shift + 0.01 * seed
                recs.append({"suite": "ln", "evaluator": "label-noise", "layout": "label-noise", "model": model,
                             "task": "rte", "eval_set": "rte", "condition": cond, "seed": seed,
                             "metrics": {"accuracy": value}, "main_metric": "accuracy",
                             "degenerate": model == "constant" and cond == "noise-10",
                             "details": {"majority_score": 0.527}})
    lines = curves(recs, "label-noise")
    clean, noisy = lines["rte"]["vanilla"]
    assert (noisy.n, noisy.n_total) == (2, 3) and noisy.mean == pytest.approx(65.5)  # the NaN seed is counted
    assert clean.sd == pytest.approx(1.0) and clean.n_degenerate == 0
    assert [p.n_degenerate for p in lines["rte"]["constant"]] == [0, 3]
    assert majority_lines(recs, "label-noise") == {"rte": pytest.approx(52.7), "Avg": pytest.approx(52.7)}
    files = plot_degradation(recs, tmp_path, formats=("png",))
    assert [f.name for f in files] == ["degradation_ln.png"] and files[0].stat().st_size > 1000


def test_issue_case_from_a_real_run(data_dir, tmp_path, capsys):
    """The same case through `rbm run` on the real advSST-2 dev set: predictions files right on 64 (vanilla),
    57 (other) and 72 (constant: class 0 everywhere) of the 148 examples, one per seed; the runner's guard
    flags `constant`, and `rbm table` prints it with † and `other` as not significant."""
    import json

    import yaml

    gold = [r["label"] for r in json.loads((Path(data_dir) / "advglue" / "dev.json").read_text())["sst2"]]
    args = []
    for model, preds in (("vanilla", [g if i < 64 else 1 - g for i, g in enumerate(gold)]),
                         ("other", [g if i < 57 else 1 - g for i, g in enumerate(gold)]), ("constant", [0] * len(gold))):
        (tmp_path / f"{model}.json").write_text(json.dumps({"advglue/sst2": preds}))
        args += [a for s in (1, 2, 3) for a in ("--checkpoint", f"sst2/seed-{s}/{model}={tmp_path / model}.json")]
    suite = tmp_path / "adv.yaml"
    suite.write_text(yaml.safe_dump({"suite": "issue8", "description": "issue 8's case", "evaluator": "advglue",
                                     "tasks": ["sst2"], "params": {"clean": False}, "metadata": {"version": 1}}))
    out = tmp_path / "out"
    assert main(["run", str(suite), "--data-dir", data_dir, "--output", str(out), "--format", "none", *args]) == 0
    capsys.readouterr()
    assert main(["table", str(out), "--majority-row"]) == 0
    text = capsys.readouterr().out
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in text.splitlines() if line.startswith("|") and "---" not in line}
    assert rows["other"] == ["38.51", "38.51 ± 0.00 (38.51)", "\u22124.73", "0.250 (n=3)"]
    assert rows["constant"] == ["48.65†", "48.65 ± 0.00 (48.65)†", "+5.41†", "0.250 (n=3)†"]
    assert rows["majority class"][:2] == ["51.35", "51.35"]  # 76 of 148 positive
    assert "**" not in text and "constant / advSST-2: 3 of 3 seeds" in text


def test_delta_pairs_the_same_seeds_as_p_when_the_baseline_has_extra_seeds():
    """Vanilla has CoLA seeds 4-6 too (lower ones): Δ must be the mean per-seed difference over seeds 1-3 —
    the sample its p tests — not this row's mean minus vanilla's 6-seed mean (which flips its sign here)."""
    vanilla_cola = {1: 0.17, 2: 0.17, 3: 0.18, 4: 0.12, 5: 0.12, 6: 0.14}
    recs = [_rec("vanilla", "cola", "cola", s, v, "matthews_correlation") for s, v in vanilla_cola.items()]
    mt_cola, sst2_v, sst2_m = {1: 0.16, 2: 0.16, 3: 0.17}, {1: 0.90, 2: 0.91, 3: 0.90}, {1: 0.89, 2: 0.90, 3: 0.89}
    for s in (1, 2, 3):
        recs += [_rec("match-tuning", "cola", "cola", s, mt_cola[s], "matthews_correlation"),
                 _rec("vanilla", "sst2", "sst2", s, sst2_v[s]), _rec("match-tuning", "sst2", "sst2", s, sst2_m[s])]
    (spec,) = tables_for(recs)
    f = spec.frame
    paired = np.mean([(mt_cola[s] + sst2_m[s]) / 2 - (vanilla_cola[s] + sst2_v[s]) / 2 for s in (1, 2, 3)]) * 100
    unpaired = (np.mean([*mt_cola.values()]) + np.mean([*sst2_m.values()])) / 2 * 100 \
        - (np.mean([*vanilla_cola.values()]) + np.mean([*sst2_v.values()])) / 2 * 100
    assert paired < 0 < unpaired  # the case where the two definitions disagree in sign
    assert f.loc["match-tuning", "Δ"] == f"{paired:+.2f}".replace("-", "\u2212")
    assert f.loc["match-tuning", "p"] == "0.250 (n=3)"
    assert f.loc["vanilla", "CoLA"].endswith("(n=6)") and "seeds both rows have" in spec.note
    # rows that share no seed: the difference of means, said so
    other = [dict(r, model="other", seed=r["seed"] + 10) for r in recs if r["model"] == "match-tuning"]
    (spec,) = tables_for([r for r in recs if r["model"] == "vanilla"] + other)
    assert spec.frame.loc["other", "Δ"].endswith("(unpaired)") and "share no seed" in spec.note
    # (means of the per-seed Avg, i.e. over the seeds where a row has every task: vanilla's 1-3)
    apart = np.mean([(mt_cola[s] + sst2_m[s]) / 2 - (vanilla_cola[s] + sst2_v[s]) / 2 for s in (1, 2, 3)]) * 100
    assert spec.frame.loc["other", "Δ"] == f"{apart:+.2f} (unpaired)".replace("-", "\u2212")
