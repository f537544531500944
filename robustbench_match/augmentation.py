"""Training-set augmentation with TextAttack's ``Augmenter`` recipes, by name, seeded and cached.

Why a registry of its own: each recipe needs other offline resources (WordNet, counter-fitted embeddings, a
masked LM, translation models), and each shares transformations with some test-time perturbation families and
attacks — a model trained on CharSwap and scored on typos or DeepWordBug has seen that kind of noise, and the
tables must say so (``seen``). Determinism: every (seed, task, row, field) has its own random stream, so a
row's augmented text does not depend on other rows, on their order or on ``--max-train-examples``.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import random
import time
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .data import Examples
from .errors import RBMError
from .registry import Registry, UnknownNameError

log = logging.getLogger(__name__)

CACHE_ENV = "RBM_CACHE_DIR"
FORMAT_VERSION = 1  # bump when the way a set is built changes: old cache files are then never read


@dataclass(frozen=True)
class AugmenterSpec:
    """One TextAttack augmenter recipe: its class, the resources it needs, what it does, and which test-time
    perturbation families and attacks share its transformations (marked "seen in training" in tables)."""

    name: str
    target: str  # "module:Class"
    resources: tuple[str, ...]
    summary: str
    families: tuple[str, ...] = ()
    attacks: tuple[str, ...] = ()
    takes_pct: bool = True  # the recipe honours pct_words_to_swap (all of TextAttack's do)

    def augmenter_class(self) -> type:
        module, attr = self.target.split(":", 1)
        return getattr(importlib.import_module(module), attr)


AUGMENTERS: Registry[AugmenterSpec] = Registry("augmenter recipe")
_TA = "textattack.augmentation.recipes:"
_STOP = "nltk:stopwords"  # TextAttack's default constraints skip stopwords

for _spec in (
    AugmenterSpec("eda", _TA + "EasyDataAugmenter", (_STOP, "nltk:wordnet"),
                  "EDA (Wei & Zou 2019): WordNet synonym replacement, random insertion, swap and deletion",
                  families=("synonym",), attacks=("pwws", "leap")),
    AugmenterSpec("wordnet", _TA + "WordNetAugmenter", (_STOP, "nltk:wordnet"), "WordNet synonym replacement",
                  families=("synonym",), attacks=("pwws", "leap")),
    AugmenterSpec("charswap", _TA + "CharSwapAugmenter", (_STOP,),
                  "character edits: neighbouring swap, substitution, deletion, insertion",
                  families=("typo", "ocr"), attacks=("deepwordbug", "pruthi")),
    AugmenterSpec("deletion", _TA + "DeletionAugmenter", (_STOP,), "random word deletion",
                  attacks=("input-reduction",)),
    AugmenterSpec("swap", _TA + "SwapAugmenter", (_STOP,), "random word-order swaps"),
    AugmenterSpec("synonym-insertion", _TA + "SynonymInsertionAugmenter", (_STOP, "nltk:wordnet"),
                  "inserts WordNet synonyms of words in the text", families=("synonym",)),
    AugmenterSpec("embedding", _TA + "EmbeddingAugmenter", (_STOP, "textattack:word_embeddings/paragramcf"),
                  "nearest neighbours in counter-fitted embeddings (cos ≥ 0.8)", families=("synonym",),
                  attacks=("textfooler", "a2t", "iga", "alzantot", "faster-alzantot")),
    AugmenterSpec("checklist", _TA + "CheckListAugmenter", (_STOP, "python:flair", "flair:flair/ner-english"),
                  "CheckList's name, location and number changes and contractions",
                  families=("names", "locations", "numbers", "contract", "expand"), attacks=("checklist",)),
    AugmenterSpec("clare", _TA + "CLAREAugmenter", (_STOP, "hf:distilroberta-base", "python:tensorflow_hub",
                                                     "tfhub:google/universal-sentence-encoder/3"),
                  "CLARE's masked-LM replace, insert and merge", attacks=("clare",)),
    AugmenterSpec("back-translation", _TA + "BackTranslationAugmenter",
                  ("hf:Helsinki-NLP/opus-mt-en-ROMANCE", "hf:Helsinki-NLP/opus-mt-ROMANCE-en"),
                  "English → Spanish → English with MarianMT", takes_pct=False),
):
    AUGMENTERS.register(_spec.name, _spec)


def _check_resources() -> None:
    """Every resource a recipe names is one the resource table knows how to find (checked at import)."""
    from .attacks.resources import RESOURCES

    for spec in (AUGMENTERS.get(n) for n in AUGMENTERS):
        unknown = [r for r in spec.resources if not r.startswith("nltk:") and r not in RESOURCES]
        if unknown:
            raise ValueError(f"augmenter recipe {spec.name}: unknown resources {unknown}")


_check_resources()


@dataclass(frozen=True)
class AugmentSettings:
    """What an augmented set is built from (all of it goes into the cache key and the card)."""

    recipe: str = "eda"
    pct_words_to_swap: float = 0.1  # TextAttack's default
    transformations_per_example: int = 1
    keep_originals: bool = True
    fields: tuple[str, ...] = ()  # () = every text field of the task
    seed: int = 0


@dataclass
class Augmented:
    """The training set after augmentation, and its provenance for the card."""

    examples: Examples
    info: dict = field(default_factory=dict)


def get_augmenter(name: str) -> AugmenterSpec:
    try:
        return AUGMENTERS.get(name)
    except UnknownNameError as exc:  # with its "did you mean"
        raise RBMError(f"--augment-recipe {name}: {exc} (offline here: eda, wordnet, charswap, deletion, swap, "
                       f"synonym-insertion; see `rbm methods`)") from None


def require_augmenter(spec: AugmenterSpec, data_dir: Optional[str]) -> None:
    """Every resource the recipe needs is here (or fetchable), else one line naming the first missing one."""
    from .attacks.environment import configure_nltk, ensure_nltk
    from .attacks.resources import missing_resources

    configure_nltk(data_dir)
    nltk = tuple(r.split(":", 1)[1] for r in spec.resources if r.startswith("nltk:"))
    try:
        ensure_nltk(nltk)
    except RBMError as exc:
        raise RBMError(f"augmenter recipe {spec.name}: {exc}") from None
    other = tuple(r for r in spec.resources if not r.startswith("nltk:"))
    missing = missing_resources(other)
    if missing:
        res = missing[0]
        raise RBMError(f"augmenter recipe {spec.name}: missing {res.name} ({res.description}); {res.hint()}")


def cache_dir() -> Path:
    """``$RBM_CACHE_DIR/augment``, else ``$XDG_CACHE_HOME`` (``~/.cache``) ``/robustbench-match/augment``."""
    root = os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "robustbench-match"
    return Path(root).expanduser() / "augment"


def cache_key(source: Examples, settings: AugmentSettings, textattack_version: str) -> str:
    blob = json.dumps({"format": FORMAT_VERSION, "source": source.sha256, "task": source.task.name,
                       "settings": settings.__dict__, "textattack": textattack_version}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def row_seed(seed: int, task: str, recipe: str, idx: int, field_name: str) -> int:
    """One stream per (seed, task, recipe, source row, field): a row never depends on the others."""
    return zlib.crc32(f"augment/{seed}/{task}/{recipe}/{idx}/{field_name}".encode()) & 0xFFFFFFFF


def _textattack_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("textattack")
    except PackageNotFoundError:
        return "unknown"


def text_fields(examples: Examples, fields: tuple[str, ...]) -> tuple[str, ...]:
    keys = examples.task.text_keys
    if not fields:
        return tuple(keys)
    bad = [f for f in fields if f not in keys]
    if bad:
        raise RBMError(f"--augment-fields {','.join(fields)}: task {examples.task.name} has no field {bad[0]!r} "
                       f"(its text fields: {', '.join(keys)})")
    return fields


def build_augmenter(spec: AugmenterSpec, settings: AugmentSettings, data_dir: Optional[str]):
    from .attacks.environment import import_textattack, no_nltk_downloads

    import_textattack(data_dir)
    kwargs: dict[str, Any] = {"transformations_per_example": settings.transformations_per_example}
    if spec.takes_pct:
        kwargs["pct_words_to_swap"] = settings.pct_words_to_swap
    with no_nltk_downloads():
        return spec.augmenter_class()(**kwargs)


def augment_rows(examples: Examples, settings: AugmentSettings, augmenter) -> tuple[list[dict[str, str]], list[int]]:
    """New rows (field → text) and, for each, the position of the source row it came from. The k-th new row of
    a source row takes the k-th variant of every augmented field (the original text where a field has fewer);
    a row none of whose fields changed adds nothing."""
    fields = text_fields(examples, settings.fields)
    keys = examples.task.text_keys
    new_rows: list[dict[str, str]] = []
    origin: list[int] = []
    from .attacks.single import preserved_random_state

    with preserved_random_state():
        for pos in range(len(examples)):
            idx = int(examples.idx[pos])
            variants: dict[str, list[str]] = {}
            for name in fields:
                seed = row_seed(settings.seed, examples.task.name, settings.recipe, idx, name)
                random.seed(seed)
                np.random.seed(seed)
                text = examples.texts[name][pos]
                variants[name] = [v for v in augmenter.augment(text) if v != text] if text.strip() else []
            for k in range(max((len(v) for v in variants.values()), default=0)):
                row = {key: (variants[key][k] if key in variants and k < len(variants[key]) else examples.texts[key][pos])
                       for key in keys}
                new_rows.append(row)
                origin.append(pos)
    return new_rows, origin


def assemble(examples: Examples, new_rows: list[dict[str, str]], origin: list[int], keep_originals: bool) -> Examples:
    """Originals (if kept) first, then the augmented rows; labels, idx and extra columns follow each row's source."""
    pos = np.asarray(origin, dtype=np.int64)
    added = examples.subset(pos)
    added = replace(added, texts={k: [r[k] for r in new_rows] for k in examples.task.text_keys},
                    extra={**added.extra, "augmented": [True] * len(new_rows)})
    if not keep_originals:
        return added
    base = replace(examples, extra={**examples.extra, "augmented": [False] * len(examples)})
    return Examples(examples.task, examples.split,
                    {k: base.texts[k] + added.texts[k] for k in examples.task.text_keys},
                    np.concatenate([base.labels, added.labels]), np.concatenate([base.idx, added.idx]),
                    examples.source, {k: list(base.extra[k]) + list(added.extra.get(k, [None] * len(added)))
                                      for k in base.extra})


def augment_examples(examples: Examples, settings: AugmentSettings, data_dir: Optional[str] = None,
                     use_cache: bool = True) -> Augmented:
    """The augmented training set (from the cache when an identical request was built before)."""
    spec = get_augmenter(settings.recipe)
    settings = replace(settings, recipe=spec.name)
    text_fields(examples, settings.fields)
    require_augmenter(spec, data_dir)
    version = _textattack_version()
    key = cache_key(examples, settings, version)
    path = cache_dir() / f"{key}.jsonl"
    start = time.perf_counter()
    cached = _read_cache(path, examples) if use_cache else None
    if cached is not None:
        new_rows, origin = cached
    else:
        new_rows, origin = augment_rows(examples, settings, build_augmenter(spec, settings, data_dir))
        if use_cache:
            _write_cache(path, new_rows, origin)
    out = assemble(examples, new_rows, origin, settings.keep_originals)
    if len(out) == 0:
        raise RBMError(f"augmenter recipe {spec.name}: no row could be augmented and --keep-originals is off; "
                       f"nothing is left to train on")
    out.source = f"{examples.source} [augment {spec.name} seed={settings.seed}]"
    changed_rows = len(set(origin))
    info = {"recipe": spec.name, "textattack_class": spec.target.split(":", 1)[1],
            "pct_words_to_swap": settings.pct_words_to_swap if spec.takes_pct else None,
            "transformations_per_example": settings.transformations_per_example,
            "keep_originals": settings.keep_originals, "fields": list(text_fields(examples, settings.fields)),
            "seed": settings.seed, "n_source": len(examples), "n_added": len(new_rows),
            "n_source_rows_augmented": changed_rows, "n_source_rows_unchanged": len(examples) - changed_rows,
            "n_total": len(out), "source_sha256": examples.sha256, "augmented_sha256": out.sha256,
            "textattack_version": version, "cache": "hit" if cached is not None else ("miss" if use_cache else "off"),
            "seconds": round(time.perf_counter() - start, 3),
            "seen": {"families": list(spec.families), "attacks": list(spec.attacks)}}
    log.info("augment %s: %d source rows → %d new rows (%d rows unchanged), %d in all", spec.name, len(examples),
             len(new_rows), len(examples) - changed_rows, len(out))
    return Augmented(out, info)


def _read_cache(path: Path, examples: Examples) -> Optional[tuple[list[dict[str, str]], list[int]]]:
    """The cached rows when the file is whole and written for exactly these source rows; else None."""
    if not path.is_file():
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        head = json.loads(lines[0])
        rows = [json.loads(line) for line in lines[1:]]
        body = "\n".join(lines[1:]).encode()
        if head.get("n") != len(rows) or head.get("sha256") != hashlib.sha256(body).hexdigest():
            raise ValueError("row count or sha256 differs")
        keys = set(examples.task.text_keys)
        origin = [int(r["source_position"]) for r in rows]
        if any(not 0 <= p < len(examples) for p in origin) or any(set(r["texts"]) != keys for r in rows):
            raise ValueError("rows do not fit the source set")
        return [r["texts"] for r in rows], origin
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        log.warning("augmentation cache %s is unreadable (%s); building the set again", path, exc)
        return None


def _write_cache(path: Path, new_rows: list[dict[str, str]], origin: list[int]) -> None:
    """Atomically (a killed run never leaves half a file that a later run would read)."""
    body = "\n".join(json.dumps({"source_position": p, "texts": r}, ensure_ascii=False, sort_keys=True)
                     for r, p in zip(new_rows, origin))
    head = json.dumps({"format": FORMAT_VERSION, "n": len(new_rows), "sha256": hashlib.sha256(body.encode()).hexdigest()})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(head + ("\n" + body if body else "") + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:  # a read-only home on a cluster: the run goes on, uncached
        log.warning("augmentation cache %s not written (%s); the set will be built again next time", path, exc)
