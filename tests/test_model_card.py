"""Issue 39: ``rbm card`` — a Hub model card whose model-index holds exactly the stored metrics (read back with
huggingface_hub's own parser), merged into an existing card on request, never over one silently; ``--push``
tested against a local stand-in of the Hub endpoints an upload calls (validate-yaml, preupload, commit), and one
line offline."""
from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cli_helpers import rbm
from robustbench_match.results import load_records

HERE = Path(__file__).resolve().parents[1] / "results" / "paper-minilm"
PERTURBATION = HERE / "perturbation" / "run"
ATTACKS = HERE / "attacks"
pytestmark = pytest.mark.skipif(not (PERTURBATION / "results.jsonl").is_file(), reason="stored results not found")


def _load(path: Path):
    from huggingface_hub import ModelCard

    return ModelCard.load(path)


def _by_cell(card) -> dict[str, float]:
    return {e.metric_args["cell"]: e.metric_value for e in card.data.eval_results}


def test_the_card_round_trips_to_exactly_the_stored_metrics(tmp_path, capsys):
    out = tmp_path / "README.md"
    code, stdout, err = rbm(["card", PERTURBATION, ATTACKS, "--model", "vanilla", "--seed", "2", "-o", out], capsys)
    assert code == 0, err
    stored = {r["key"]: r["metrics"][r["main_metric"]] for r in load_records([PERTURBATION, ATTACKS])
              if r["model"] == "vanilla" and r["seed"] == 2}
    card = _load(out)
    assert _by_cell(card) == stored and len(stored) > 30  # every cell, every value bit for bit
    assert card.data.model_name == "vanilla"
    results = card.data.eval_results
    assert {e.dataset_type for e in results} == {"nyu-mll/glue"} and {e.dataset_config for e in results} == {"sst2"}
    assert all(e.source_name.startswith("robustbench-match ") and "fingerprint" in e.source_name for e in results)
    attack = [e for e in results if e.metric_config.startswith("attack:")]
    assert attack and all(e.metric_type == "accuracy_under_attack" and "attack" in e.metric_name for e in attack)
    assert f"{len(stored)} eval result(s)" in stdout


def test_advglue_results_name_the_advglue_dataset(tmp_path, capsys):
    run = HERE / "table2-advglue"
    code, _, err = rbm(["card", run, "--model", "vanilla", "--seed", "1", "-o", tmp_path / "c.md"], capsys)
    assert code == 0, err
    card = _load(tmp_path / "c.md")
    adv = [e for e in card.data.eval_results if e.dataset_type == "AI-Secure/adv_glue"]
    assert {e.dataset_config for e in adv} == {"adv_sst2"} and {e.metric_config for e in adv} == {"adversarial"}
    clean = [e for e in card.data.eval_results if e.metric_config == "clean"]
    assert clean and {(e.dataset_type, e.dataset_config) for e in clean} == {("nyu-mll/glue", "sst2")}
    stored = {r["key"]: r["metrics"][r["main_metric"]] for r in load_records([run])
              if r["model"] == "vanilla" and r["seed"] == 1}
    assert _by_cell(card) == stored


def test_an_existing_card_is_refused_or_merged_keeping_what_it_had(tmp_path, capsys):
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    out = tmp_path / "README.md"
    theirs = EvalResult(task_type="text-classification", dataset_type="imdb", dataset_name="IMDB", metric_type="accuracy",
                        metric_value=0.9)
    data = ModelCardData(model_name="vanilla", eval_results=[theirs], license="mit")
    out.write_text(f"---\n{data.to_yaml()}\n---\n\n# My model\n\nWritten by hand.\n")
    before = out.read_text()
    code, _, err = rbm(["card", PERTURBATION, "--model", "vanilla", "--seed", "1", "-o", out], capsys)
    assert code == 1 and "--update" in err and out.read_text() == before
    code, _, err = rbm(["card", PERTURBATION, "--model", "vanilla", "--seed", "1", "-o", out, "--update"], capsys)
    assert code == 0, err
    card = ModelCard.load(out)
    assert "Written by hand." in card.text and card.data.license == "mit"
    assert any(e.dataset_type == "imdb" and e.metric_value == 0.9 for e in card.data.eval_results)
    n = len(card.data.eval_results)
    code, _, _ = rbm(["card", PERTURBATION, "--model", "vanilla", "--seed", "1", "-o", out, "--update"], capsys)
    assert code == 0 and len(ModelCard.load(out).data.eval_results) == n  # replaced, not duplicated


@pytest.mark.parametrize("args,expected", [
    (["--model", "vanilla"], "give --seed"),
    (["--model", "nosuch", "--seed", "1"], "no such model"),
    (["--model", "vanilla", "--seed", "9"], "seeds 1, 2, 3 only"),
    (["--model", "vanilla", "--seed", "1", "--with-records", "me/records"], "needs --push"),
])
def test_bad_requests_are_one_line_and_write_nothing(tmp_path, capsys, args, expected):
    code, _, err = rbm(["card", PERTURBATION, *args, "-o", tmp_path / "README.md"], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and expected in lines[0] and not (tmp_path / "README.md").exists()


class _Hub(BaseHTTPRequestHandler):
    """The endpoints ``HfApi.upload_file`` calls: validate-yaml (for a README), preupload (how to send each file)
    and commit (the files)."""

    commits: list[dict] = []
    validated: list[str] = []

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.split("?")[0].strip("/").split("/")  # api, models|datasets, owner, name, endpoint, rev
        if parts == ["api", "validate-yaml"]:  # huggingface_hub checks a README's metadata before it uploads it
            _Hub.validated.append(json.loads(body)["content"])
            return self._json({"errors": [], "warnings": []})
        if len(parts) == 6 and parts[4] == "preupload":
            files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                     for f in json.loads(body)["files"]]
            return self._json({"files": files, "commitOid": "0" * 40})
        if len(parts) == 6 and parts[4] == "commit":
            items = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            files = {i["value"]["path"]: base64.b64decode(i["value"]["content"]) for i in items if i["key"] == "file"}
            _Hub.commits.append({"kind": parts[1], "repo": f"{parts[2]}/{parts[3]}", "files": files})
            host, port = self.server.server_address[:2]
            prefix = "datasets/" if parts[1] == "datasets" else ""
            return self._json({"commitUrl": f"http://{host}:{port}/{prefix}{parts[2]}/{parts[3]}/commit/{'1' * 40}",
                               "commitOid": "1" * 40})
        self.send_response(404)
        self.end_headers()

    def _json(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def stand_in(monkeypatch):
    from huggingface_hub import constants

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hub.commits, _Hub.validated = [], []
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", "hf_stand_in_token")
    yield _Hub
    server.shutdown()


def test_push_uploads_the_card_and_the_records_through_the_hub_api(tmp_path, capsys, stand_in):
    out = tmp_path / "README.md"
    code, stdout, err = rbm(["card", PERTURBATION, "--model", "vanilla", "--seed", "3", "-o", out,
                             "--push", "me/sst2-vanilla", "--with-records", "me/rbm-records"], capsys)
    assert code == 0, err
    model, records = stand_in.commits
    assert (model["kind"], model["repo"]) == ("models", "me/sst2-vanilla")
    assert model["files"]["README.md"].decode() == out.read_text() == stand_in.validated[0]
    assert (records["kind"], records["repo"]) == ("datasets", "me/rbm-records")
    sent = [json.loads(line) for line in records["files"]["records/vanilla.jsonl"].decode().splitlines()]
    assert {r["key"] for r in sent} == {r["key"] for r in load_records([PERTURBATION])
                                        if r["model"] == "vanilla" and r["seed"] == 3}
    assert stdout.count("pushed:") == 2


def test_push_offline_is_one_line_and_the_card_is_still_written(tmp_path, capsys, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    out = tmp_path / "README.md"
    code, _, err = rbm(["card", PERTURBATION, "--model", "vanilla", "--seed", "1", "-o", out, "--push", "me/x"], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and "--push me/x" in lines[0] and "Traceback" not in err
    assert out.is_file() and _load(out).data.eval_results
