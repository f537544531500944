"""The append-only results store (issue 22): O(1) puts that survive kill -9, concurrent writers, compaction,
and old (rewritten-whole) stores read unchanged."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paths import REPO
from robustbench_match.results import RESULTS_FILE, ResultStore, dumps

from cli_helpers import rbm

WRITER = r"""
import sys
from robustbench_match.results import ResultStore
store, tag, n = ResultStore(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for i in range(n):
    store.put({"key": f"{tag}-{i}", "suite": "s", "model": tag, "task": "sst2", "eval_set": "validation",
               "condition": "clean", "metrics": {"accuracy": i / n}, "main_metric": "accuracy",
               "details": {"pad": "x" * 2000}})
    if i == 0:
        print("started", flush=True)
"""


def record(key: str, value: float, model: str = "m") -> dict:
    return {"key": key, "suite": "s", "model": model, "task": "sst2", "eval_set": "validation", "condition": "clean",
            "metrics": {"accuracy": value}, "main_metric": "accuracy"}


def writer(tmp_path: Path, tag: str, n: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), tag, str(n)], stdout=subprocess.PIPE,
                            text=True)


def test_kill_minus_9_during_puts_leaves_every_completed_record(tmp_path):
    proc = writer(tmp_path, "a", 100_000)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    keys = [r["key"] for r in ResultStore(tmp_path).records()]
    assert len(keys) > 10
    assert keys == [f"a-{i}" for i in range(len(keys))]  # every completed put, in order, none torn
    # the store stays writable: a torn tail (if any) is cut before the next append
    ResultStore(tmp_path).put(record("after", 1.0))
    assert ResultStore(tmp_path).records()[-1]["key"] == "after"
    lines = (tmp_path / RESULTS_FILE).read_text().splitlines()
    assert all(json.loads(line) for line in lines)


def test_a_torn_last_line_is_ignored_and_cut_by_the_next_put(tmp_path, caplog):
    store = ResultStore(tmp_path)
    store.put(record("k1", 0.5))
    with open(store.path, "ab") as fh:
        fh.write(dumps(record("k2", 0.7)).encode()[:37])  # a put killed mid-write
    assert [r["key"] for r in store.records()] == ["k1"]
    store.put(record("k3", 0.9))
    assert [r["key"] for r in store.records()] == ["k1", "k3"]
    assert "dropped an unfinished record" in caplog.text


def test_two_processes_appending_500_records_each_give_1000_keys(tmp_path):
    procs = [writer(tmp_path, tag, 500) for tag in ("a", "b")]
    for proc in procs:
        assert proc.wait(timeout=300) == 0
    records = ResultStore(tmp_path).records()
    assert len(records) == 1000 == len({r["key"] for r in records})
    assert len((tmp_path / RESULTS_FILE).read_text().splitlines()) == 1000


def test_compaction_keeps_the_newest_record_of_every_key(tmp_path):
    store = ResultStore(tmp_path)
    for round_ in range(3):
        for i in range(50):
            store.put(record(f"k{i}", round_ + i / 100))
    before = store.records()
    assert store.scan()[1] == 150
    assert store.compact() == (150, 50)
    after = store.records()
    assert after == before and [r["metrics"]["accuracy"] for r in after] == [2 + i / 100 for i in range(50)]
    assert len(store.path.read_text().splitlines()) == 50


def test_rbm_compact_command(tmp_path, capsys):
    store = ResultStore(tmp_path)
    store.put(record("k", 0.1))
    store.put(record("k", 0.2))
    code, out, _ = rbm(["compact", tmp_path], capsys)
    assert code == 0 and "2 lines -> 1 records" in out
    assert store.records()[0]["metrics"]["accuracy"] == 0.2
    code, _, err = rbm(["compact", tmp_path / "nowhere"], capsys)
    assert code != 0 and "no results.jsonl here" in err and "Traceback" not in err


def test_an_old_format_store_reads_identically(tmp_path):
    """The committed results (written whole by the earlier store) give the same records, in the same order,
    and a put appends to them without rewriting what is there."""
    old = REPO / "results" / "paper-minilm" / "table1-glue" / RESULTS_FILE
    text = old.read_text(encoding="utf-8")
    expected = {}
    for line in text.splitlines():
        rec = json.loads(line)
        expected[rec["key"]] = rec
    (tmp_path / RESULTS_FILE).write_text(text, encoding="utf-8")
    store = ResultStore(tmp_path)
    assert store.records() == list(expected.values())
    store.put(record("new", 0.5))
    assert (tmp_path / RESULTS_FILE).read_text(encoding="utf-8").startswith(text)
    assert store.records()[:-1] == list(expected.values())


def test_a_record_without_its_newline_in_a_hand_edited_file_is_kept(tmp_path):
    (tmp_path / RESULTS_FILE).write_text(dumps(record("k1", 0.5)), encoding="utf-8")  # no final newline
    store = ResultStore(tmp_path)
    assert [r["key"] for r in store.records()] == ["k1"]
    store.put(record("k2", 0.6))
    assert [r["key"] for r in store.records()] == ["k1", "k2"]


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_new_store_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        ResultStore(tmp_path).put(record("k", 0.5))
    finally:
        os.umask(old)
    assert (tmp_path / RESULTS_FILE).stat().st_mode & 0o777 == 0o640


# -- progress for every long phase (issue 22, item 3) ---------------------------------------------------------
def test_progress_logs_every_tenth_with_eta(caplog):
    import logging

    from robustbench_match.progress import Progress

    logger = logging.getLogger("rbm-test-progress")
    with caplog.at_level(logging.INFO, logger="rbm-test-progress"):
        with Progress(25, "phase", unit="batch", logger=logger) as progress:
            for _ in range(25):
                progress.update(extra="ok")
    lines = [r.getMessage() for r in caplog.records if r.name == "rbm-test-progress"]
    assert [line.split(":")[1].split(",")[0].strip() for line in lines] == [f"batch {n}/25" for n in (3, 6, 9, 12, 15, 18, 21, 24, 25)]
    assert all("elapsed" in line and "ETA" in line and "ok" in line for line in lines)


def test_large_sets_are_tokenised_in_chunks_with_the_same_ids(monkeypatch, caplog):
    import logging

    from transformers import AutoTokenizer

    import robustbench_match.inference as inference
    from robustbench_match.models import default_base_model

    tokenizer = AutoTokenizer.from_pretrained(default_base_model())
    a = [f"sentence {i} " + "word " * (i % 40) for i in range(2_500)]
    b = [f"hypothesis {i}" for i in range(2_500)]
    whole = inference.tokenize(tokenizer, a, b, 32)
    monkeypatch.setattr(inference, "TOKENIZE_CHUNK", 300)
    with caplog.at_level(logging.INFO):
        chunked = inference.tokenize(tokenizer, a, b, 32)
    assert set(chunked) == set(whole.keys()) and all(chunked[k] == whole[k] for k in whole.keys())
    assert any("tokenise 2,500 examples: example 2500/2500" in r.getMessage() for r in caplog.records)


def test_the_fast_reader_gives_exactly_the_json_records():
    """orjson reads the store (NaN and anything it refuses go to json): every committed record parses to the
    same Python objects either way, and a NaN metric still reads as NaN."""
    import math

    from robustbench_match.results import _loads

    paths = sorted((REPO / "results").glob("**/results.jsonl"))
    assert len(paths) >= 10
    for path in paths:
        for line in path.read_bytes().splitlines():
            if line.strip():
                assert _loads(line) == json.loads(line)
    rec = _loads(b'{"metrics": {"matthews_correlation": NaN}, "key": "k"}')
    assert math.isnan(rec["metrics"]["matthews_correlation"])
