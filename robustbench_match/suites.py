"""Suites are YAML files (``suites/*.yaml``, plus user folders via ``--include-path`` or
``$RBM_INCLUDE_PATH``; later folders override earlier ones), as lm-evaluation-harness does tasks.

Keys: ``suite`` (name), ``description`` (one line), ``evaluator`` (registry name), ``tasks``,
optional ``params`` (evaluator settings), ``train`` (settings for checkpoints the runner trains
itself) and ``metadata.version``.
"""
from __future__ import annotations

import difflib
import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence


from .errors import RBMError
from .perturbations.mft import is_mft_file
from .tasks import TASKS, get_task, include_dirs, is_task_file, load_task_files, read_yaml

#: the built-in suites ship inside the package (a wheel has no checkout); ``suites/`` at the top of the checkout is a
#: link to this folder, kept as the place users read them
BUILTIN_SUITES_DIR = Path(__file__).resolve().parent / "suite_files"
#: a suite name is a folder name in every run folder: no path separators, no "..", no control characters
_SUITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}")
_KNOWN_KEYS = {"suite", "description", "evaluator", "tasks", "params", "train", "metadata"}


@dataclass
class Suite:
    name: str
    description: str
    evaluator: str
    tasks: list[str]
    params: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    path: Optional[Path] = None
    #: ``params`` checked against the evaluator's dataclass at load (see evaluators.params)
    typed_params: Any = field(default=None, repr=False)

    @property
    def version(self):
        return self.metadata.get("version")


def suite_dirs(include: Sequence[str | os.PathLike] = ()) -> list[Path]:
    """The built-in suites, then ``$RBM_INCLUDE_PATH`` and ``--include-path`` (the folders tasks come from too:
    their task files are registered first, so a suite may name them)."""
    load_task_files(include)
    return [BUILTIN_SUITES_DIR, *include_dirs(include)]


def load_suite_file(path: Path, data: Any = None) -> Suite:
    data = read_yaml(path) if data is None else data
    if is_task_file(data):
        raise RBMError(f"{path}: is a task file (it has 'task:'); run a suite on it, e.g. rbm run glue-dev "
                       f"--include-path {path.parent} --tasks {data.get('task')}")
    if not isinstance(data, dict):
        raise RBMError(f"{path}: expected a mapping with keys suite, description, evaluator, tasks")
    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        raise RBMError(f"{path}: unknown key(s) {sorted(unknown)} (expected {sorted(_KNOWN_KEYS)})")
    for key in ("suite", "evaluator", "tasks"):
        if key not in data:
            raise RBMError(f"{path}: missing key {key!r}")
    tasks = data["tasks"]
    if not isinstance(tasks, list) or not tasks:
        raise RBMError(f"{path}: 'tasks' must be a non-empty list of task names")
    for t in tasks:
        if not isinstance(t, str) or t not in TASKS:
            raise RBMError(f"{path}: tasks: unknown task {t!r} (known: {', '.join(TASKS.names())}; a task file on "
                           f"--include-path adds one)")
    for key in ("params", "train", "metadata"):
        if not isinstance(data.get(key) or {}, dict):
            raise RBMError(f"{path}: {key!r} must be a mapping")
    from .evaluators.params import parse_params

    name = data["suite"]
    if not isinstance(name, str) or not _SUITE_NAME.fullmatch(name):
        raise RBMError(f"{path}: suite: {str(name)[:60]!r} is not a suite name (expected letters, digits and "
                       f"- _ . +, starting with a letter or digit, at most 80 characters; it names folders)")
    params = dict(data.get("params") or {})
    from .training.config import parse_train_block

    train = parse_train_block(data.get("train"), str(path))
    return Suite(name=name, description=str(data.get("description", "")).strip(),
                 evaluator=str(data["evaluator"]), tasks=[get_task(str(t)).name for t in tasks],
                 params=params, train=train,
                 metadata=dict(data.get("metadata") or {}), path=path,
                 typed_params=parse_params(str(data["evaluator"]), params, str(path)))


def discover(include: Sequence[str | os.PathLike] = ()) -> dict[str, Suite]:
    found: dict[str, Suite] = {}
    for d in suite_dirs(include):
        for path in sorted(d.glob("*.y*ml")):
            data = read_yaml(path)
            if is_task_file(data) or is_mft_file(data):  # task and MFT template files share the include folders
                continue
            suite = load_suite_file(path, data)
            found[suite.name] = suite
    return found


def get_suite(name: str, include: Sequence[str | os.PathLike] = ()) -> Suite:
    """A suite by name, or by path to a YAML file."""
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        load_task_files(include)
        return load_suite_file(Path(name))
    suites = discover(include)
    if name not in suites:
        close = difflib.get_close_matches(name, list(suites), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise RBMError(f"unknown suite {name!r}{hint} (known: {', '.join(sorted(suites))})")
    return suites[name]


def list_suites(pattern: str = "*", include: Sequence[str | os.PathLike] = ()) -> list[Suite]:
    return [s for n, s in sorted(discover(include).items()) if fnmatch.fnmatch(n, pattern)]
