"""Issue 34 (hardening, round 3): the new surface — reports, task files, adapters, the Python API — tried as a
hostile or careless user would. Every case of the issue is a row or a test here: an error exits non-zero with
one line naming the file/flag/argument and no traceback, every earlier file keeps its bytes, nothing is
written outside the output folder; the silent-wrong cases assert the right number."""
from __future__ import annotations

import json
import re
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import rbm
from paths import DATA_DIR, REPO
from robustbench_match.errors import RBMError
from robustbench_match.results import ResultStore
from test_hardening import Row, checkpoints, env, snapshot, test_hostile_invocation_is_one_line_and_changes_nothing, \
    tiny_root  # noqa: F401 - fixtures and the row runner of rounds 1-2

pytestmark = pytest.mark.skipif(not (DATA_DIR / "glue" / "SST-2").is_dir(), reason=f"no shared data at {DATA_DIR}")


# ---------------------------------------------------------------------------- helpers
def _task(folder: Path, name: str = "rating", *, extra: str = "", rows: str | None = None,
          labels: str = '["1", "2", "3"]') -> Path:
    """A user task: a 1-3 rating CSV (half the rows rated "1"), its task file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dev.csv").write_text(rows if rows is not None else
                                    "text,label\ngood,1\nfine,2\nbad,1\nok,3\n", encoding="utf-8")
    (folder / f"{name}.yaml").write_text(f"task: {name}\nlabel_names: {labels}\ntext_fields: [text]\n"
                                         f"data_files: {{validation: dev.csv}}\n{extra}", encoding="utf-8")
    return folder


def _predictions(e, name: str, values: dict) -> Path:
    path = e["tmp"] / name
    path.write_text(json.dumps(values))
    return path


def _records(e) -> list[dict]:
    return [json.loads(line) for line in (e["run"] / "results.jsonl").read_text().splitlines()]


def _write_records(e, records: list[dict]) -> None:
    (e["run"] / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _renamed(e, model: str) -> None:
    rec = _records(e)[0]
    rec.update(model=model, key=f"glue-dev|{model}|sst2|clean|-")
    _write_records(e, [rec])


def _report_once(e, c) -> None:
    """An earlier report in out/ (so the folder is one rbm report may rewrite)."""
    from robustbench_match.cli import main

    assert main(["report", str(e["run"]), "-o", str(e["tmp"] / "out")]) == 0


def _records_symlink(e, c) -> None:
    _report_once(e, c)
    shutil.rmtree(e["tmp"] / "out" / "records")
    (e["folder"] / "mine.json").write_text('{"my": "data"}\n')
    (e["tmp"] / "out" / "records").symlink_to(e["folder"], target_is_directory=True)


def _index_symlink(e, c) -> None:
    _report_once(e, c)
    (e["tmp"] / "out" / "index.html").unlink()
    (e["tmp"] / "out" / "index.html").symlink_to(e["file"])


def _adapter(root: Path) -> Path:
    """A LoRA adapter saved by plain peft on the packaged MiniLM (2 labels; untrained: only loading matters)."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification

    from robustbench_match.models import default_base_model

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        default_base_model(), num_labels=2, id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1})
    model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=4, target_modules=["query", "value"]))
    model.save_pretrained(root / "lora")
    return root / "lora"


@pytest.fixture(scope="module")
def adapter(tmp_path_factory) -> Path:
    return _adapter(tmp_path_factory.mktemp("adapter"))


def _decoy_adapter(e, c, adapter: Path, keep_safetensors: bool) -> Path:
    """The adapter with a pickled ``adapter_model.bin``; its safetensors kept beside it, or renamed to a decoy."""
    import torch
    from safetensors.torch import load_file

    folder = e["tmp"] / "decoy"
    shutil.copytree(adapter, folder)
    weights = folder / "adapter_model.safetensors"
    torch.save(load_file(str(weights)), folder / "adapter_model.bin")
    if not keep_safetensors:
        weights.rename(folder / "decoy.safetensors")
    return folder


def _score_head_adapter(e, c, adapter: Path) -> Path:
    """The adapter with its head saved as ``score`` (a decoder's head name) while its base is a BERT."""
    from safetensors.torch import load_file, save_file

    folder = e["tmp"] / "score-head"
    shutil.copytree(adapter, folder)
    tensors = {k.replace("classifier", "score"): v for k, v in load_file(str(folder / "adapter_model.safetensors")).items()}
    save_file(tensors, str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})
    cfg = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**cfg, "modules_to_save": ["score"]}))
    return folder


def user_run(e, folder: Path, task: str = "rating", checkpoint: str | None = None) -> list:
    return ["run", "glue-dev", "--include-path", folder, "--tasks", task, "--checkpoint",
            f"{task}/m={checkpoint or e['tmp'] / 'p.json'}", "--output", e["tmp"] / "out", "--format", "none"]


def _tasks_dir(e) -> Path:
    return e["tmp"] / "tasks"


def _user(e, **task) -> None:
    """The rating task (``_task``'s arguments) in ``TMP/tasks`` and a predictions file ``TMP/p.json`` for it."""
    _task(_tasks_dir(e), **task)
    _predictions(e, "p.json", {"rating": ["1"] * 4})


# ---------------------------------------------------------------------------- rows: one line, nothing changed
ROWS_3 = [
    # -- data loss
    Row("report-records-is-a-symlink", lambda e, c: ["report", e["run"], "-o", e["tmp"] / "out"],
        "records is a symbolic link", _records_symlink),
    Row("report-index-is-a-symlink", lambda e, c: ["report", e["run"], "-o", e["tmp"] / "out"],
        "index.html is a symbolic link", _index_symlink),
    # -- security: a task file's strings reach LaTeX / Markdown / CSV / HTML
    Row("task-display-newline", lambda e, c: user_run(e, _tasks_dir(e)),
        "display: 'X\\n\\\\input{/etc/passwd}' contains a control character",
        lambda e, c: _task(_tasks_dir(e), extra='display: "X\\n\\\\input{/etc/passwd}"\n')),
    Row("task-label-name-newline", lambda e, c: user_run(e, _tasks_dir(e)), "label_names: 'a\\nb' contains a control",
        lambda e, c: _task(_tasks_dir(e), labels='["a\\nb", "c"]')),
    Row("task-alias-tab", lambda e, c: user_run(e, _tasks_dir(e)), "aliases: 'x\\ty' contains a control",
        lambda e, c: _task(_tasks_dir(e), extra='aliases: ["x\\ty"]\n')),
    # -- a user task never replaces another one
    Row("task-named-sst2", lambda e, c: user_run(e, _tasks_dir(e), "sst2"),
        "task: 'sst2' is already a name of the built-in task 'sst2'", lambda e, c: _task(_tasks_dir(e), "sst2")),
    Row("task-named-SST2", lambda e, c: user_run(e, _tasks_dir(e), "SST2"),
        "task: 'sst2' is already a name of the built-in task 'sst2'", lambda e, c: _task(_tasks_dir(e), "SST2")),
    Row("task-alias-rte", lambda e, c: user_run(e, _tasks_dir(e)),
        "task: 'rte' is already a name of the built-in task 'rte'",
        lambda e, c: _task(_tasks_dir(e), extra="aliases: [sst-two, rte]\n")),
    Row("task-in-two-include-paths", lambda e, c: user_run(e, _tasks_dir(e))[:2] + ["--include-path", e["tmp"] / "t2"]
        + user_run(e, _tasks_dir(e))[2:], "task: 'rating' is already a name of task 'rating'",
        lambda e, c: (_task(_tasks_dir(e)), _task(e["tmp"] / "t2"))),
    Row("task-display-of-another", lambda e, c: user_run(e, _tasks_dir(e)),
        "display: 'SST-2' is already the column header of the built-in task 'sst2'",
        lambda e, c: _task(_tasks_dir(e), extra="display: SST-2\n")),
    # -- silent wrong results
    Row("predictions-digit-names-0-is-no-label", lambda e, c: user_run(e, _tasks_dir(e)),
        "'rating'[0] = 0 is not a label of rating (expected one of the label names ['1', '2', '3']",
        lambda e, c: (_task(_tasks_dir(e)), _predictions(e, "p.json", {"rating": [0, 1, 1, 2]}))),
    Row("results-key-twice", lambda e, c: ["table", e["run"]], "line 1 gives key 'accuracy' twice",
        lambda e, c: (e["run"] / "results.jsonl").write_text(
            (e["run"] / "results.jsonl").read_text().replace('"accuracy": 0.9', '"accuracy": 0.9, "accuracy": 0.1'))),
    # -- tracebacks and unclear messages: data files
    Row("csv-empty", lambda e, c: user_run(e, _tasks_dir(e)), "dev.csv: empty file",
        lambda e, c: _user(e, rows="")),
    Row("csv-header-only", lambda e, c: user_run(e, _tasks_dir(e)), "dev.csv: only a header line, no data rows",
        lambda e, c: _user(e, rows="text,label\n")),
    Row("csv-bad-label-names-its-line", lambda e, c: user_run(e, _tasks_dir(e)),
        "dev.csv: line 7: label 7 is not a label of task rating",
        lambda e, c: _user(e, rows='text,label\ngood,1\n"two\nlines",2\n\nbad,3\nworse,7\n')),
    Row("csv-empty-sentence-names-its-line", lambda e, c: user_run(e, _tasks_dir(e)), "dev.csv: line 3: text is ''",
        lambda e, c: _user(e, rows='text,label\ngood,1\n"",2\n')),
    Row("peft-decoy-safetensors-beside-a-pickle", lambda e, c: run_adapter(e, e["tmp"] / "decoy"),
        "holds pickled weights (adapter_model.bin)", lambda e, c: _decoy_adapter(e, c, c["adapter"], False)),
    Row("peft-pickle-beside-its-safetensors", lambda e, c: run_adapter(e, e["tmp"] / "decoy"),
        "holds pickled weights (adapter_model.bin)", lambda e, c: _decoy_adapter(e, c, c["adapter"], True)),
    Row("peft-score-head-on-bert", lambda e, c: run_adapter(e, e["tmp"] / "score-head"),
        "its classification head is saved as 'score', but the base model",
        lambda e, c: _score_head_adapter(e, c, c["adapter"])),
    # -- absurd values
    Row("smart-noise-var-1e30", lambda e, c: train(e, "smart", "--noise-var", "1e30"), "--noise-var must be in (0, 1]"),
    Row("r3f-eps-1e9", lambda e, c: train(e, "r3f", "--r3f-eps", "1e9"), "--r3f-eps must be in (0, 1]"),
    Row("freelb-init-mag-1e6", lambda e, c: train(e, "freelb", "--adv-init-mag", "1e6"),
        "--adv-init-mag must be in [0, 10]"),
    Row("lora-r-100000", lambda e, c: train(e, "lora", "--lora-r", "100000"),
        "--lora-r 100000: larger than the adapted layers' smallest dimension (384)"),
]


def run_adapter(e, folder: Path) -> list:
    return ["run", "glue-dev", "--checkpoint", f"sst2/m={folder}", "--data-dir", e["root"], "--output",
            e["tmp"] / "out", "--format", "none", "--limit", 4]


def train(e, method: str, *extra) -> list:
    return ["train", "--method", method, "--task", "sst2", "--max-steps", 1, "--max-train-examples", 16,
            "--batch-size", 8, "--data-dir", e["root"], "--output", e["tmp"] / "out", *extra]


@pytest.mark.parametrize("row", ROWS_3, ids=[r.id for r in ROWS_3])
def test_round3_hostile_invocation_is_one_line_and_changes_nothing(row, env, checkpoints, adapter, capsys,
                                                                    monkeypatch):
    test_hostile_invocation_is_one_line_and_changes_nothing(row, env, {**checkpoints, "adapter": adapter}, capsys,
                                                            monkeypatch)


# ---------------------------------------------------------------------------- 1: the report folder
def test_a_users_json_in_the_report_records_folder_is_kept_and_named(env, capsys, caplog):
    out = env["tmp"] / "site"
    assert rbm(["report", env["run"], "-o", out], capsys)[0] == 0
    mine = out / "records" / "my-notes.json"
    mine.write_text('{"mine": true}\n')
    rec = _records(env)[0]
    _write_records(env, [{**rec, "model": "n", "key": "glue-dev|n|sst2|clean|-"}])  # the old record is gone
    with caplog.at_level("WARNING"):
        assert rbm(["report", env["run"], "-o", out], capsys)[0] == 0
    assert mine.read_text() == '{"mine": true}\n'
    assert "my-notes.json" in caplog.text and "not written by rbm report" in caplog.text
    names = sorted(p.name for p in (out / "records").iterdir())
    assert names == ["glue-dev%7Cn%7Csst2%7Cclean%7C-.json", "my-notes.json"]  # the stale record went


# ---------------------------------------------------------------------------- 9: every link of the report resolves
def _links(index: Path) -> list[str]:
    return re.findall(r"""href=['"]([^'"#][^'"]*)['"]""", index.read_text(encoding="utf-8"))


@pytest.mark.parametrize("report", ["report", "headline-chosen-t/report"])
def test_every_link_of_the_committed_reports_opens_a_file(report):
    index = REPO / "results" / "paper-minilm" / report / "index.html"
    links = _links(index)
    assert len(links) == len(list((index.parent / "records").glob("*.json"))) > 300  # one JSON link per record
    for link in links:  # as a browser resolves a relative URL: percent-decoded
        path = Path(urllib.request.url2pathname(urllib.parse.urljoin(index.as_uri(), link)[len("file://"):]))
        assert path.is_file(), link
        assert json.loads(path.read_text())["key"]


def test_a_browser_follows_every_link_of_a_report(tmp_path):
    from browser import open_browser
    from robustbench_match.cli import main

    out = tmp_path / "site"
    assert main(["report", str(REPO / "results" / "paper-minilm" / "table2-advglue"), "-o", str(out)]) == 0
    driver = open_browser()
    try:
        driver.get((out / "index.html").as_uri())
        hrefs = driver.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
                                      ".filter(h => !h.includes('#'))")
        assert len(hrefs) == len(ResultStore(REPO / "results" / "paper-minilm" / "table2-advglue").records())
        for url in hrefs:
            driver.get(url)
            body = driver.execute_script("return document.body ? document.body.innerText : ''")
            assert json.loads(body)["key"], url  # the record itself, not chromium's file-not-found page
    finally:
        driver.quit()


# ---------------------------------------------------------------------------- 2, 8, 10, 14: the Python API
def _sst2_rows(root: Path) -> tuple[list[str], list[int]]:
    rows = (root / "glue" / "SST-2" / "dev.tsv").read_text().splitlines()[1:]
    return [r.rsplit("\t", 1)[0] for r in rows], [int(r.rsplit("\t", 1)[1]) for r in rows]


def test_api_names_holding_equals_signs_stay_two_models(env):
    from robustbench_match import evaluate

    texts, gold = _sst2_rows(env["root"])
    right = dict(zip(texts, gold))
    models = {"bert lr=1e-4": lambda batch: [right[t] for t in batch],  # always right
              "bert lr=5e-4": lambda batch: [0 for _ in batch]}  # always "negative"
    result = evaluate(models, "glue-dev", tasks=["sst2"], data_dir=str(env["root"]), output=env["tmp"] / "api")
    scores = {r["model"]: r["metrics"]["accuracy"] for r in ResultStore(env["tmp"] / "api").records()}
    assert scores == {"bert lr=1e-4": 1.0, "bert lr=5e-4": pytest.approx(gold.count(0) / len(gold))}
    assert len(result.records) == 2


@pytest.mark.parametrize("value, message", [
    (lambda n: np.full((n, 2), np.nan), "returned non-finite outputs (NaN/inf) for"),
    (lambda n: np.concatenate([np.zeros((n - 1, 2)), [[np.inf, 0.0]]]), "non-finite outputs (NaN/inf) for 1 of"),
    (lambda n: None, "returned NoneType for a batch of"),
    (lambda n: {"logits": [0] * n}, "returned dict for a batch of"),
    (lambda n: (x for x in range(n)), "returned generator for a batch of"),
    (lambda n: [[0.0, 1.0]] * (n - 1) + [[0.0]], "returned rows of different lengths"),
    (lambda n: [None] * n, "returned NoneType 'None' among its outputs"),
])
def test_api_callables_returning_nonsense_are_one_line(env, value, message):
    from robustbench_match import evaluate

    with pytest.raises(RBMError, match=re.escape(message)):
        evaluate(lambda batch: value(len(batch)), "glue-dev", tasks=["sst2"], data_dir=str(env["root"]),
                 output=env["tmp"] / "api")
    assert not (env["tmp"] / "api" / "results.jsonl").exists() or not ResultStore(env["tmp"] / "api").records()


def test_api_stsb_callable_returning_text_is_one_line(env):
    from robustbench_match import evaluate

    with pytest.raises(RBMError, match="task stsb is a regression task"):
        evaluate(lambda batch: ["high"] * len(batch), "glue-dev", tasks=["stsb"], data_dir=str(env["root"]))


@pytest.mark.parametrize("training", [True, False])
def test_api_gives_the_model_back_in_the_mode_it_came_in(env, checkpoints, training):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from robustbench_match import evaluate

    model = AutoModelForSequenceClassification.from_pretrained(checkpoints["good"])
    model.train(training)
    tok = AutoTokenizer.from_pretrained(checkpoints["good"])
    result = evaluate((model, tok), "glue-dev", tasks=["sst2"], data_dir=str(env["root"]), name="a=b")
    assert model.training is training
    assert all(m.training is training for m in model.modules())
    assert result.records[0]["model"] == "a=b"


# ---------------------------------------------------------------------------- 6: digit label names
def test_digit_label_names_are_names_never_shifted_ids(env, capsys):
    """A 1-3 rating stored as numbers: a model predicting "1" everywhere scores the share of rows rated "1"
    (0.50 here), whether its predictions are names, numbers or a callable's numbers."""
    from robustbench_match import evaluate

    folder = _task(_tasks_dir(env))
    for name, values in (("names.json", ["1"] * 4), ("numbers.json", [1] * 4)):
        out = env["tmp"] / f"out-{name}"
        assert rbm(["run", "glue-dev", "--include-path", folder, "--tasks", "rating", "--checkpoint",
                    f"rating/m={_predictions(env, name, {'rating': values})}", "--output", out, "--format", "none"],
                   capsys)[0] == 0
        assert ResultStore(out).records()[0]["metrics"]["accuracy"] == 0.5
    result = evaluate(lambda batch: [1] * len(batch), "glue-dev", tasks=["rating"], include_path=[folder])
    assert result.records[0]["metrics"]["accuracy"] == 0.5
    result = evaluate(lambda batch: [3] * len(batch), "glue-dev", tasks=["rating"], include_path=[folder])
    assert result.records[0]["metrics"]["accuracy"] == 0.25


def test_sentences_reading_na_null_none_nan_are_sentences(env, capsys):
    rows = "text,label\nNA,1\nnull,2\nNone,1\nnan,3\nN/A,1\n"
    folder = _task(_tasks_dir(env), rows=rows)
    seen = []
    from robustbench_match import evaluate

    result = evaluate(lambda batch: seen.extend(batch) or ["1"] * len(batch), "glue-dev", tasks=["rating"],
                      include_path=[folder])
    assert seen == ["NA", "null", "None", "nan", "N/A"]
    assert result.records[0]["n_examples"] == 5 and result.records[0]["metrics"]["accuracy"] == 0.6


# ---------------------------------------------------------------------------- 7: one task, one definition
def test_records_of_two_task_definitions_never_share_a_column(env, capsys):
    """Records scored under a user file that was allowed to call itself sst2 (older versions) beside built-in
    ones: rbm table refuses in one line instead of a Δ between two data sets."""
    rec = _records(env)[0]
    builtin = {**rec, "config": {"task_file": str(REPO / "robustbench_match" / "tasks" / "sst2.yaml"),
                                 "task_sha256": "a" * 64}}
    user = {**rec, "model": "n", "key": "glue-dev|n|sst2|clean|-",
            "config": {"task_file": "/home/me/tasks/sst2.yaml", "task_sha256": "b" * 64}}
    _write_records(env, [builtin, user])
    code, _, err = rbm(["table", env["run"]], capsys)
    assert code == 1 and "Traceback" not in err
    assert "results hold task 'sst2' under 2 task definitions" in err and "/home/me/tasks/sst2.yaml" in err
    _write_records(env, [builtin, {**user, "config": builtin["config"]}])
    assert rbm(["table", env["run"]], capsys)[0] == 0


def test_a_task_file_loaded_by_an_earlier_command_does_not_linger(env, capsys):
    from robustbench_match.tasks import TASKS

    _task(_tasks_dir(env))
    _predictions(env, "p.json", {"rating": ["1"] * 4})
    assert rbm(user_run(env, _tasks_dir(env)), capsys)[0] == 0
    assert rbm(["tasks"], capsys)[0] == 0 and "rating" not in TASKS
    _task(env["tmp"] / "t2")  # another file with the same name, in a later command: fine
    assert rbm(user_run(env, env["tmp"] / "t2")[:-4] + ["--output", env["tmp"] / "o2", "--format", "none"],
               capsys)[0] == 0


# ---------------------------------------------------------------------------- 4, 5: LaTeX, Markdown, CSV
HOSTILE = "x\n\\input{/etc/passwd}\n| forged | row |\n# heading"


def test_a_newline_in_a_stored_name_never_starts_a_line_in_any_format(env, capsys):
    _renamed(env, HOSTILE)
    for fmt, extra in (("latex", ["--latex-fragment"]), ("latex", []), ("markdown", []), ("csv", [])):
        code, out, err = rbm(["table", env["run"], "--format", fmt, *extra], capsys)
        assert code == 0, err
        for line in out.splitlines():
            assert not line.startswith(("\\input", "| forged", "# heading")), (fmt, line)
        if fmt == "latex" and not extra:  # (in the fragment the name sits in a % comment, on one line)
            assert "\\input{" not in out and "\\textbackslash{}input" in out
    code, out, _ = rbm(["table", env["run"], "--format", "latex", "--latex-fragment"], capsys)
    assert all(line.startswith("%") or "&" in line or line.startswith(("\\begin", "\\end", "\\toprule", "\\midrule",
                                                                         "\\bottomrule")) or not line
               for line in out.splitlines()), out


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"])
def test_csv_never_starts_a_field_with_a_formula(env, capsys, name):
    import csv
    import io

    _renamed(env, name)
    code, out, _ = rbm(["table", env["run"], "--format", "csv"], capsys)
    assert code == 0
    for row in csv.reader(io.StringIO(out)):
        for field in row:
            assert not field.startswith(("=", "+", "-", "@", "\t", "\r")) or re.fullmatch(r"[+-]?\d+(\.\d+)?", field), field


def test_csv_field_neutralises_formulas_and_keeps_numbers():
    from robustbench_match.reports.tables import csv_field

    assert csv_field("=1+1") == "'=1+1" and csv_field("@x") == "'@x" and csv_field("\tx") == "'\\tx"
    assert csv_field("-4.70") == "-4.70" and csv_field("+1.95") == "+1.95" and csv_field("80.01") == "80.01"
    assert csv_field("+1.95 [+1.10, +2.80]") == "'+1.95 [+1.10, +2.80]" and csv_field("vanilla") == "vanilla"


# ---------------------------------------------------------------------------- 12: plot labels are literal
def test_plot_labels_are_literal_text(env, capsys):
    from robustbench_match.reports.degradation_plot import degradation_figures

    records = ResultStore(REPO / "results" / "paper-minilm" / "table3-label-noise").records()
    renamed = {"vanilla": "_hidden", "match-tuning": "$x^$ and $\\alpha$"}
    mine = [{**r, "model": renamed[r["model"]]} for r in records if r["model"] in renamed]
    (suite, fig), = degradation_figures(mine)
    import io

    fig.savefig(io.BytesIO(), format="svg")  # mathtext would raise here on "$x^$"
    legend = [t.get_text().lstrip("\u200b") for t in fig.axes[-1].get_legend().get_texts()]
    assert "_hidden" in legend and "$x^$ and $\\alpha$" in legend
    run = env["tmp"] / "noise"
    run.mkdir()
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in mine))
    code, _, err = rbm(["report", run, "-o", env["tmp"] / "site"], capsys)
    assert code == 0, err


# ---------------------------------------------------------------------------- issue 35: records travel
def test_a_record_holds_no_path_of_this_machine_and_the_next_step_still_finds_its_checkpoint(env, checkpoints,
                                                                                              capsys, monkeypatch):
    """Absolute --output, --data-dir and checkpoint: every path in the record is relative to the run folder (the
    checkpoint, the data, the data dir) or names the package (the built-in task file); the quickstart's
    "score it on another suite" line still finds a checkpoint stored that way."""
    from robustbench_match.commands.run import next_step

    out = env["tmp"] / "abs-out"
    assert rbm(["run", "glue-dev", "--checkpoint", f"sst2/m={checkpoints['good'].resolve()}", "--data-dir",
                env["root"].resolve(), "--output", out.resolve(), "--format", "none"], capsys)[0] == 0
    (rec,) = ResultStore(out).records()
    text = json.dumps(rec)
    assert not re.search(r'"/[A-Za-z0-9_.-]+/', text), text
    assert rec["config"]["task_file"] == "robustbench_match/tasks/sst2.yaml"
    assert (out / rec["data"]["source"]).resolve() == (env["root"] / "glue" / "SST-2" / "dev.tsv").resolve()
    assert (out / rec["checkpoint"]["path"]).resolve() == checkpoints["good"].resolve()
    inside = env["tmp"] / "run2" / "checkpoints" / "sst2" / "seed-1"
    inside.mkdir(parents=True)
    monkeypatch.chdir(env["tmp"])
    hint = next_step([{**rec, "checkpoint": {"path": "checkpoints/sst2/seed-1"}}], Path("run2"), "data")
    assert hint.startswith("checkpoint: run2/checkpoints/sst2/seed-1") and "rbm run glue-dev" in hint
