"""Minimum functionality tests (CheckList's MFT) from YAML template files: the package's own (``mft/*.yaml``)
and any on ``--include-path`` (a YAML file with an ``mft:`` key)::

    mft: sentiment-basic                 # name (a cell condition: mft:sentiment-basic)
    description: one line
    tasks: [sst2]                        # the tasks whose labels the tests name
    max_cases: 200                       # per test: a seeded sample of the template's fillings when there are more
    lexicons:                            # lists that fill {placeholders}; the package's lexicons/ are there too
      pos_adj: [good, great, excellent]
      thing: [movie, film, plot]
    tests:
      - name: negated positive adjective
        template: "the {thing} is not {pos_adj} ."      # a pair task: a list of two templates
        label: negative                                  # or a list: any of them passes ([contradiction, not_entailment])

A placeholder used twice in one test takes the same value; ``{name:title}`` / ``{name:upper}`` write it capitalised
or in upper case. Every filling is one case; a test's failure
rate is the share of cases the model labels outside ``label``, reported with its exact (Clopper–Pearson)
interval. Everything is checked when the file loads: an undefined lexicon, a label that none of the file's tasks
has, a task that has none of a test's labels — one line naming the file and the test.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import RBMError

BUILTIN_MFT_DIR = Path(__file__).resolve().parent / "mft"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(title|upper))?\}")
_KEYS = {"mft", "description", "tasks", "max_cases", "lexicons", "tests"}
_TEST_KEYS = {"name", "template", "label", "description"}
MAX_CASES = 200
MAX_CASES_LIMIT = 100_000  # cases per test: more is no test of a capability, only a long wait


@dataclass(frozen=True)
class MFTTest:
    name: str
    templates: tuple[str, ...]  # one per text field
    labels: tuple[str, ...]  # a case passes when the prediction is any of these (the task's own among them)

    def placeholders(self) -> list[str]:
        return list(dict.fromkeys(m.group(1) for t in self.templates for m in _PLACEHOLDER.finditer(t)))


@dataclass(frozen=True)
class MFTFile:
    name: str
    path: str
    description: str
    tasks: tuple[str, ...]
    lexicons: dict[str, tuple[str, ...]]
    tests: tuple[MFTTest, ...]
    max_cases: int
    sha256: str

    def fits(self, task: str) -> bool:
        from ..tasks import get_task

        return any(get_task(t).name == task for t in self.tasks if _known_task(t))


def is_mft_file(data: Any) -> bool:
    return isinstance(data, dict) and "mft" in data and "suite" not in data and "task" not in data


def _known_task(name: str) -> bool:
    from ..tasks import TASKS

    return name in TASKS


def _lexicons(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    from .lexical import LEXICON_DIR, lexicon

    out = {p.stem: lexicon(p.stem) for p in sorted(LEXICON_DIR.glob("*.txt"))}
    if raw is None:
        return out
    if not isinstance(raw, dict):
        raise RBMError(f"{where}: lexicons: expected a mapping name -> list of words")
    for name, words in raw.items():
        if not isinstance(name, str) or not _PLACEHOLDER.fullmatch("{" + name + "}"):
            raise RBMError(f"{where}: lexicons.{name}: not a lexicon name (letters, digits, _)")
        if not isinstance(words, list) or not words or not all(isinstance(w, (str, int, float)) for w in words):
            raise RBMError(f"{where}: lexicons.{name}: expected a non-empty list of words")
        out[name] = tuple(str(w) for w in words)
    return out


def _test(raw: Any, i: int, where: str, n_fields: Optional[int]) -> MFTTest:
    if not isinstance(raw, dict):
        raise RBMError(f"{where}: tests[{i}]: expected a mapping with name, template, label")
    unknown = sorted(set(raw) - _TEST_KEYS)
    if unknown:
        raise RBMError(f"{where}: tests[{i}].{unknown[0]}: unknown key (expected {', '.join(sorted(_TEST_KEYS))})")
    name = raw.get("name")
    from ..inputs import printable

    if not isinstance(name, str) or not name.strip() or printable(name) != name or len(name) > 120:
        raise RBMError(f"{where}: tests[{i}].name: expected one line of text (got {str(name)[:40]!r})")
    template = raw.get("template")
    templates = (template,) if isinstance(template, str) else tuple(template) if isinstance(template, list) else ()
    if not templates or not all(isinstance(t, str) and t.strip() for t in templates) or len(templates) > 2:
        raise RBMError(f"{where}: test {name!r}: template: expected a string, or a list of two for a sentence pair")
    if n_fields is not None and len(templates) != n_fields:
        raise RBMError(f"{where}: test {name!r}: {len(templates)} template(s), the file's tasks have {n_fields} text "
                       f"field(s)")
    label = raw.get("label")
    labels = (label,) if isinstance(label, str) else tuple(label) if isinstance(label, list) else ()
    if not labels or not all(isinstance(l, str) and l for l in labels):
        raise RBMError(f"{where}: test {name!r}: label: expected a label name or a list of them")
    return MFTTest(name.strip(), templates, labels)


def load_mft(path: Path, data: Any = None) -> MFTFile:
    """One template file, every key checked (one line naming the file and what is wrong)."""
    from ..tasks import get_task, read_yaml

    where = str(path)
    data = read_yaml(path) if data is None else data
    if not is_mft_file(data):
        raise RBMError(f"{where}: expected an MFT file (keys mft, tasks, lexicons, tests)")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise RBMError(f"{where}: {unknown[0]}: unknown key (expected {', '.join(sorted(_KEYS))})")
    name = data["mft"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}", name):
        raise RBMError(f"{where}: mft: {str(name)[:40]!r} is not a name (letters, digits and - _ . +)")
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) for t in tasks):
        raise RBMError(f"{where}: tasks: expected a list of task names")
    specs = []
    for t in tasks:
        if not _known_task(t):
            raise RBMError(f"{where}: tasks: unknown task {t!r} (see `rbm tasks`; a user task needs --include-path)")
        specs.append(get_task(t))
    if any(s.is_regression for s in specs):
        raise RBMError(f"{where}: tasks: MFT labels need a classification task ({', '.join(s.name for s in specs if s.is_regression)} is a regression task)")
    widths = {len(s.text_keys) for s in specs}
    if len(widths) != 1:
        raise RBMError(f"{where}: tasks: mixes single-text and sentence-pair tasks (one kind per file)")
    max_cases = data.get("max_cases", MAX_CASES)
    if isinstance(max_cases, bool) or not isinstance(max_cases, int) or not 1 <= max_cases <= MAX_CASES_LIMIT:
        raise RBMError(f"{where}: max_cases: {max_cases!r}: expected a whole number from 1 to {MAX_CASES_LIMIT:,} "
                       f"(cases per test; a larger template is sampled)")
    lexicons = _lexicons(data.get("lexicons"), where)
    raw_tests = data.get("tests")
    if not isinstance(raw_tests, list) or not raw_tests:
        raise RBMError(f"{where}: tests: expected a list of tests (name, template, label)")
    tests = [_test(raw, i, where, len(specs[0].text_keys)) for i, raw in enumerate(raw_tests)]
    seen = set()
    every_label = {l for s in specs for l in s.label_names}
    for test in tests:
        if test.name in seen:
            raise RBMError(f"{where}: test {test.name!r} is named twice")
        seen.add(test.name)
        undefined = [p for p in test.placeholders() if p not in lexicons]
        if undefined:
            raise RBMError(f"{where}: test {test.name!r}: {{{undefined[0]}}} names no lexicon (the file's: "
                           f"{', '.join(sorted(set(lexicons) - _builtin_names())) or 'none'}; built-in: "
                           f"{', '.join(sorted(_builtin_names()))})")
        strange = [l for l in test.labels if l not in every_label]
        if strange:
            raise RBMError(f"{where}: test {test.name!r}: label {strange[0]!r} is not a label of "
                           f"{', '.join(s.name for s in specs)} ({', '.join(sorted(every_label))})")
        for spec in specs:
            if not set(test.labels) & set(spec.label_names):
                raise RBMError(f"{where}: test {test.name!r}: none of its labels {list(test.labels)} is a label of "
                               f"task {spec.name} ({', '.join(spec.label_names)})")
    return MFTFile(name, where, str(data.get("description") or ""), tuple(s.name for s in specs), lexicons,
                   tuple(tests), max_cases, hashlib.sha256(path.read_bytes()).hexdigest())


def _builtin_names() -> set[str]:
    from .lexical import LEXICON_DIR

    return {p.stem for p in LEXICON_DIR.glob("*.txt")}


def mft_files(include: Sequence[str] = ()) -> dict[str, MFTFile]:
    """The built-in template files, then those of the include folders (a later file may not reuse a name)."""
    from ..tasks import include_dirs, read_yaml

    found: dict[str, MFTFile] = {}
    for folder in [BUILTIN_MFT_DIR, *include_dirs(include)]:
        for path in sorted(folder.glob("*.y*ml")):
            data = read_yaml(path)
            if not is_mft_file(data):
                continue
            mft = load_mft(path, data)
            if mft.name in found and found[mft.name].path != mft.path:
                raise RBMError(f"{path}: mft: {mft.name!r} is already the name of {found[mft.name].path}")
            found[mft.name] = mft
    return found


def _cased(value: str, case: Optional[str]) -> str:
    if case == "upper":
        return value.upper()
    return " ".join(w[:1].upper() + w[1:] for w in value.split(" ")) if case == "title" else value


def expand(mft: MFTFile, test: MFTTest, seed: int = 0) -> list[tuple[str, ...]]:
    """The test's cases: every filling of its placeholders (one value per placeholder, the same in each template
    that uses it), or a seeded sample of ``max_cases`` of them, in a fixed order."""
    keys = test.placeholders()
    sizes = [len(mft.lexicons[k]) for k in keys]
    total = int(np.prod(sizes)) if sizes else 1
    rng = random.Random(f"rbm-mft|{mft.name}|{test.name}|{seed}")
    chosen = sorted(rng.sample(range(total), mft.max_cases)) if total > mft.max_cases else range(total)
    cases = []
    for number in chosen:
        values = {}
        for key, size in zip(reversed(keys), reversed(sizes)):
            number, i = divmod(number, size)
            values[key] = mft.lexicons[key][i]
        cases.append(tuple(_PLACEHOLDER.sub(lambda m: _cased(values[m.group(1)], m.group(2)), t) for t in test.templates))
    return cases
