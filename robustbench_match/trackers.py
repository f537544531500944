"""Experiment trackers (``--log-to wandb,mlflow,tensorboard,trackio``): each through its own library, offline.

Why a thin layer of our own: ``rbm run`` logs *stored records* (one metric per model × task × eval set ×
condition × seed, with its stderr), the rendered tables and the adversarial / perturbed examples, and ``rbm
train`` logs its loss and method curves as it trains — a shape none of the trackers' framework integrations
covers. Each adapter is a few calls into the tracker's own API: TensorBoard event files (``SummaryWriter``),
an MLflow file store (``MlflowClient``), a W&B run in offline mode (``wandb.init(mode="offline")`` unless
``WANDB_MODE`` says otherwise), a local Trackio project (SQLite). A missing extra is one line saying what to install; a
tracker that fails while logging is switched off with one warning — records are stored before anything is
logged, so a tracker can never lose one.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from .errors import RBMError
from .registry import Registry

log = logging.getLogger(__name__)

DEFAULT_LOG_DIR = "rbm-logs"
#: characters every tracker accepts in a metric name (MLflow is the strictest: no ':' or '|')
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-./ ]")
MAX_EXAMPLES = 2000  # rows of the adversarial / perturbed examples table


def metric_name(*parts: Any) -> str:
    """``sst2/vanilla/attack:pwws`` → a name every tracker accepts (``attack_pwws``), parts joined by '/'."""
    return "/".join(_UNSAFE.sub("_", str(p)) for p in parts if p is not None and str(p) != "")


class Tracker:
    """One tracker run. Subclasses implement the four calls with their library."""

    name = "base"
    module = ""  # the import that must exist
    extra = ""  # pip extra that installs it

    def __init__(self, project: str, run_name: str, config: dict, directory: Path) -> None:
        raise NotImplementedError

    def log_metrics(self, metrics: dict[str, float], step: Optional[int] = None) -> None:
        raise NotImplementedError

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def log_text(self, name: str, text: str) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        pass


class TensorBoard(Tracker):
    name, module, extra = "tensorboard", "tensorboard", "tensorboard"

    def __init__(self, project: str, run_name: str, config: dict, directory: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.dir = directory / "tensorboard" / project / run_name
        self.writer = SummaryWriter(log_dir=str(self.dir))
        self.writer.add_text("config", "```json\n" + json.dumps(config, indent=1, default=str) + "\n```")

    def log_metrics(self, metrics: dict[str, float], step: Optional[int] = None) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, float(value), global_step=step or 0, new_style=True, double_precision=True)

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
        body = "".join("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |\n" for row in rows)
        self.writer.add_text(name, head + body)

    def log_text(self, name: str, text: str) -> None:
        self.writer.add_text(name, text)

    def finish(self) -> None:
        self.writer.flush()
        self.writer.close()


class MLflow(Tracker):
    name, module, extra = "mlflow", "mlflow", "mlflow"

    def __init__(self, project: str, run_name: str, config: dict, directory: Path) -> None:
        uri = os.environ.get("MLFLOW_TRACKING_URI") or (directory / "mlruns").resolve().as_uri()
        if uri.startswith("file:"):  # MLflow 3 keeps the file store behind this switch (no database server offline)
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        experiment = self.client.get_experiment_by_name(project)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(project)
        self.run_id = self.client.create_run(experiment_id, run_name=run_name).info.run_id
        self.uri = uri
        for key, value in _flatten(config).items():
            self.client.log_param(self.run_id, key[:250], str(value)[:6000])

    def log_metrics(self, metrics: dict[str, float], step: Optional[int] = None) -> None:
        from mlflow.entities import Metric
        import time

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        for start in range(0, len(batch), 1000):  # the store's batch limit
            self.client.log_batch(self.run_id, metrics=batch[start:start + 1000])

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.client.log_table(self.run_id, {c: [row[i] for row in rows] for i, c in enumerate(columns)},
                              artifact_file=f"{name}.json")

    def log_text(self, name: str, text: str) -> None:
        self.client.log_text(self.run_id, text, artifact_file=name)

    def finish(self) -> None:
        self.client.set_terminated(self.run_id)


class WandB(Tracker):
    name, module, extra = "wandb", "wandb", "wandb"

    def __init__(self, project: str, run_name: str, config: dict, directory: Path) -> None:
        import wandb

        directory.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=project, name=run_name, config=config, dir=str(directory),
                              mode=os.environ.get("WANDB_MODE") or "offline", reinit="create_new")
        self.wandb = wandb

    def log_metrics(self, metrics: dict[str, float], step: Optional[int] = None) -> None:
        self.run.log(dict(metrics), step=step)

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.run.log({name: self.wandb.Table(columns=list(columns), data=[list(map(_plain, r)) for r in rows])})

    def log_text(self, name: str, text: str) -> None:
        self.run.log({name: self.wandb.Html(f"<pre>{_escape(text)}</pre>")})

    def finish(self) -> None:
        self.run.finish()


class Trackio(Tracker):
    """A local Trackio project (SQLite under ``$TRACKIO_DIR``, default ``LOG_DIR/trackio``). Trackio prints its
    progress with ``print``: it goes to stderr here, so ``rbm run``'s stdout stays the tables."""

    name, module, extra = "trackio", "trackio", "trackio"

    def __init__(self, project: str, run_name: str, config: dict, directory: Path) -> None:
        os.environ.setdefault("TRACKIO_DIR", str((directory / "trackio").resolve()))
        with _to_stderr():
            import trackio

            self.trackio = trackio
            self.run = trackio.init(project=project, name=run_name, config=json.loads(json.dumps(config, default=str)))

    def log_metrics(self, metrics: dict[str, float], step: Optional[int] = None) -> None:
        with _to_stderr():
            self.trackio.log(dict(metrics), step=step)

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        import pandas as pd

        frame = pd.DataFrame([list(map(_plain, r)) for r in rows], columns=list(columns))
        with _to_stderr():
            self.trackio.log({name: self.trackio.Table(dataframe=frame)})

    def log_text(self, name: str, text: str) -> None:  # no text panel in Trackio: the text as a one-column table
        self.log_table(name, [name], [[text]])

    def finish(self) -> None:
        with _to_stderr():
            self.trackio.finish()


def _to_stderr():
    import contextlib
    import sys

    return contextlib.redirect_stdout(sys.stderr)


TRACKERS: Registry[type] = Registry("tracker")
for _cls in (WandB, MLflow, TensorBoard, Trackio):
    TRACKERS.register(_cls.name, _cls)


def parse_log_to(value: Optional[str | Sequence[str]]) -> list[str]:
    """``"wandb,mlflow"`` → canonical names, each checked installed (one line naming the extra otherwise)."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    names: list[str] = []
    for item in (i.strip() for i in items):
        if not item or item == "none":
            continue
        if item not in TRACKERS:
            raise RBMError(f"--log-to {item}: unknown tracker (known: {', '.join(TRACKERS)})")
        cls = TRACKERS.get(item)
        if importlib.util.find_spec(cls.module) is None:
            raise RBMError(f"--log-to {cls.name}: its library is not installed; pip install "
                           f"'robustbench-match[{cls.extra}]'")
        if cls.name not in names:
            names.append(cls.name)
    return names


class Trackers:
    """Every tracker of a run: each call goes to each; a tracker that fails is switched off with one warning."""

    def __init__(self, names: Sequence[str], project: str, run_name: str, config: dict,
                 directory: Optional[str | os.PathLike] = None) -> None:
        self.active: list[Tracker] = []
        root = Path(directory or DEFAULT_LOG_DIR)
        for name in names:
            try:
                self.active.append(TRACKERS.get(name)(project, run_name, config, root))
            except Exception as exc:  # noqa: BLE001 - any library error: warn, never stop the run
                log.warning("--log-to %s: could not start (%s: %s); not logging there", name, type(exc).__name__,
                            _first_line(exc))

    def __bool__(self) -> bool:
        return bool(self.active)

    def _each(self, call: str, *args, **kwargs) -> None:
        for tracker in list(self.active):
            try:
                getattr(tracker, call)(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                log.warning("--log-to %s: %s failed (%s: %s); not logging there any more (the records are stored)",
                            tracker.name, call, type(exc).__name__, _first_line(exc))
                self.active.remove(tracker)

    def log_metrics(self, metrics: dict[str, float], step: Optional[int] = None) -> None:
        clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and v == v}
        if clean:
            self._each("log_metrics", clean, step)

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._each("log_table", name, columns, rows)

    def log_text(self, name: str, text: str) -> None:
        self._each("log_text", name, text)

    def finish(self) -> None:
        self._each("finish")
        self.active = []


# -- what rbm run logs ----------------------------------------------------------------------------------------
def record_metrics(records: Iterable[dict]) -> dict[str, float]:
    """One metric per (suite, model, task, eval set, condition, seed) and metric, and its stderr where stored."""
    out: dict[str, float] = {}
    for r in records:
        base = (r["suite"], r["model"], r["task"], r["eval_set"], r["condition"] or "clean",
                f"seed-{r['seed']}" if r.get("seed") is not None else "seed-none")
        for metric, value in (r.get("metrics") or {}).items():
            if isinstance(value, (int, float)) and value == value:
                out[metric_name(*base, metric)] = float(value)
        for metric, value in (r.get("stderr") or {}).items():
            if isinstance(value, (int, float)) and value == value:
                out[metric_name(*base, f"{metric}_stderr")] = float(value)
    return out


def example_rows(records: Iterable[dict], run_dir: Path) -> tuple[list[str], list[list[Any]]]:
    """The adversarial examples of the run's attack cells (from their logs), up to MAX_EXAMPLES rows."""
    import csv

    columns = ["model", "task", "seed", "recipe", "label", "result", "original", "perturbed"]
    rows: list[list[Any]] = []
    for r in records:
        details = r.get("details") or {}
        path = details.get("log")
        if not path or "recipe" not in details:
            continue
        file = Path(path) if Path(path).is_absolute() else run_dir / path
        if not file.is_file():
            continue
        with open(file, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row.get("result") != "successful":
                    continue
                rows.append([r["model"], r["task"], r.get("seed"), details["recipe"], row.get("label"), row["result"],
                             row.get("original_text"), row.get("perturbed_text")])
                if len(rows) >= MAX_EXAMPLES:
                    return columns, rows
    return columns, rows


def log_run(names: Sequence[str], records: list[dict], run_dir: Path, tables_markdown: str, config: dict,
            directory: Optional[str | os.PathLike] = None, project: str = "robustbench-match") -> None:
    """``rbm run --log-to``: the suite's config and fingerprints, every record's metrics, the tables, the examples."""
    if not names or not records:
        return
    suites = sorted({r["suite"] for r in records})
    trackers = Trackers(names, project, f"{'+'.join(suites)}-{run_dir.name}", config, directory)
    if not trackers:
        return
    trackers.log_metrics(record_metrics(records), step=0)
    trackers.log_table("cells", ["key", "model", "task", "eval_set", "condition", "seed", "main_metric", "value",
                                 "n_examples", "degenerate", "fingerprint"],
                       [[r["key"], r["model"], r["task"], r["eval_set"], r["condition"], r.get("seed"), r["main_metric"],
                         (r.get("metrics") or {}).get(r["main_metric"]), r.get("n_examples"), bool(r.get("degenerate")),
                         ((r.get("fingerprint") or {}).get("sha256") or "")[:16]] for r in records])
    if tables_markdown:
        trackers.log_text("tables.md", tables_markdown)
    columns, rows = example_rows(records, run_dir)
    trackers.log_table("adversarial_examples", columns, rows)
    trackers.finish()


def _flatten(config: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = json.dumps(value, default=str) if isinstance(value, (list, tuple)) else value
    return out


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
