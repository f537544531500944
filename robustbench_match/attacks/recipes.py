"""TextAttack's classification recipes by name, with the resources each one needs.

Entries are lazy (``module:Class``), resolved with importlib after textattack has been imported
offline-safely (see ``environment``); nothing is evaluated from a dotted string. Seq2seq recipes
(morpheus, seq2sick), targeted bad-characters and the non-English recipes are left out: they do not
attack a GLUE classifier.
"""
from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from ..errors import RBMError
from ..registry import Registry
from . import environment
from .resources import RESOURCES, lm_dir, local_model_path, missing_resources

USE = ("python:tensorflow_hub", "tfhub:google/universal-sentence-encoder/3")
EMBEDDINGS = ("textattack:word_embeddings/paragramcf",)
POS = ("nltk:averaged_perceptron_tagger_eng", "nltk:universal_tagset")
CHARACTER = ("typo", "ocr")  # character swaps, substitutions, deletions, insertions
SYNONYM = ("synonym",)  # synonym swaps (WordNet, counter-fitted embeddings, HowNet)


@dataclass(frozen=True)
class RecipeSpec:
    """One recipe: its TextAttack class (``module:Class``), the resources it needs, and its paper."""

    name: str
    target: str
    resources: tuple[str, ...]
    paper: str
    #: perturbation families (``rbm perturbations``) whose edits this recipe's transformations also make: a model
    #: adversarially trained with it has seen them, and the tables mark those columns
    families: tuple[str, ...] = ()

    @property
    def nltk(self) -> tuple[str, ...]:
        return tuple(r.split(":", 1)[1] for r in self.resources if r.startswith("nltk:"))

    @property
    def other_resources(self) -> tuple[str, ...]:
        return tuple(r for r in self.resources if not r.startswith("nltk:"))

    def recipe_class(self) -> Any:
        module, attr = self.target.split(":", 1)
        return getattr(importlib.import_module(module), attr)


RECIPES: Registry[RecipeSpec] = Registry("attack recipe")


def _add(name: str, cls: str, paper: str, *resources: str, aliases: tuple[str, ...] = (),
         families: tuple[str, ...] = ()) -> None:
    spec = RecipeSpec(name, f"textattack.attack_recipes:{cls}", ("nltk:stopwords", *resources), paper, families)
    unknown = [r for r in spec.resources if r not in RESOURCES]
    if unknown:
        raise ValueError(f"recipe {name}: unknown resources {unknown}")
    RECIPES.register(name, spec, aliases=aliases)


_add("deepwordbug", "DeepWordBugGao2018", "Gao et al. 2018", families=CHARACTER)
_add("pruthi", "Pruthi2019", "Pruthi et al. 2019", families=CHARACTER)
_add("input-reduction", "InputReductionFeng2018", "Feng et al. 2018")
_add("pwws", "PWWSRen2019", "Ren et al. 2019", "nltk:wordnet", families=SYNONYM)
_add("leap", "LEAP2023", "Xiao et al. 2023", "nltk:wordnet", families=SYNONYM)
_add("textfooler", "TextFoolerJin2019", "Jin et al. 2019", *EMBEDDINGS, *POS, *USE, families=SYNONYM)
_add("textbugger", "TextBuggerLi2018", "Li et al. 2018", *EMBEDDINGS, *USE,
     "file:textattack/shared/intentional_homoglyphs.txt", families=CHARACTER + SYNONYM)
_add("iga", "IGAWang2019", "Wang et al. 2019", *EMBEDDINGS, families=SYNONYM)
_add("alzantot", "GeneticAlgorithmAlzantot2018", "Alzantot et al. 2018", *EMBEDDINGS, "python:tensorflow",
     "textattack:constraints/semantics/language-models/alzantot-goog-lm", families=SYNONYM)
_add("faster-alzantot", "FasterGeneticAlgorithmJia2019", "Jia et al. 2019", *EMBEDDINGS,
     "textattack:constraints/grammaticality/language-models/learning-to-write", families=SYNONYM)
_add("kuleshov", "Kuleshov2017", "Kuleshov et al. 2018", *EMBEDDINGS, "hf:gpt2", families=SYNONYM)
_add("hotflip", "HotFlipEbrahimi2017", "Ebrahimi et al. 2017", *EMBEDDINGS, *POS, families=SYNONYM)
_add("bae", "BAEGarg2019", "Garg & Ramakrishnan 2019", "hf:bert-base-uncased", *POS, *USE)
_add("bert-attack", "BERTAttackLi2020", "Li et al. 2020", "hf:bert-base-uncased", *USE)
_add("clare", "CLARE2020", "Li et al. 2020", "hf:distilroberta-base", *USE)
_add("a2t", "A2TYoo2021", "Yoo & Qi 2021", *EMBEDDINGS, *POS, "hf:sentence-transformers/stsb-distilbert-base", families=SYNONYM)
_add("pso", "PSOZang2020", "Zang et al. 2020", "textattack:transformations/hownet", families=SYNONYM)
_add("checklist", "CheckList2020", "Ribeiro et al. 2020", "flair:flair/ner-english",
     families=("names", "locations", "numbers", "contract", "expand"))


def get_recipe(name: str) -> RecipeSpec:
    """A recipe by name; an unknown name raises UnknownNameError with a "did you mean" suggestion."""
    return RECIPES.get(name)


def parse_recipes(value: Optional[str | list[str]]) -> list[str]:
    """``"deepwordbug,pwws"`` or a list → canonical recipe names, validated, order kept, no repeats."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    names: list[str] = []
    for item in (i.strip() for i in items):
        if item:
            name = get_recipe(item).name
            if name not in names:
                names.append(name)
    return names


def require_resources(spec: RecipeSpec) -> None:
    """Fail before the attack starts, in one line, when a resource is missing and cannot be fetched."""
    try:
        environment.ensure_nltk(spec.nltk)
    except RBMError as exc:
        raise RBMError(f"recipe {spec.name}: {exc}") from None
    missing = missing_resources(spec.other_resources)
    if missing:
        res = missing[0]
        raise RBMError(f"recipe {spec.name}: missing {res.name} ({res.description}); {res.hint()}")


@contextlib.contextmanager
def _local_models() -> Iterator[None]:
    """While a recipe builds, hub ids that have a copy under $RBM_LM_DIR load from that copy
    (TextAttack's recipes hard-code hub ids such as ``bert-base-uncased``)."""
    if lm_dir() is None:
        yield
        return
    import transformers

    classes = (transformers.AutoModelForMaskedLM, transformers.AutoTokenizer, transformers.GPT2LMHeadModel)
    own = {cls: cls.__dict__.get("from_pretrained") for cls in classes}
    for cls in classes:
        def redirect(name, *args, __original=cls.from_pretrained, **kwargs):
            local = local_model_path(name) if isinstance(name, str) else None
            kwargs["trust_remote_code"] = False  # a resource folder is data too: its code never runs
            return __original(str(local) if local else name, *args, **kwargs)

        cls.from_pretrained = staticmethod(redirect)
    try:
        yield
    finally:
        for cls, original in own.items():
            if original is None:
                del cls.from_pretrained
            else:
                cls.from_pretrained = original


def build_attack(name: str, model_wrapper, *, query_budget: Optional[int] = None,
                 model_batch_size: int = 32, data_dir: Optional[str] = None):
    """A TextAttack ``Attack`` for recipe ``name``, after the resource check, with budget and batch size set."""
    spec = get_recipe(name)
    environment.import_textattack(data_dir)
    require_resources(spec)
    with environment.no_nltk_downloads(), _local_models():
        attack = spec.recipe_class().build(model_wrapper)
    goal = attack.goal_function
    goal.query_budget = int(query_budget) if query_budget else float("inf")  # textattack slices by it: an int
    goal.batch_size = int(model_batch_size)
    return attack
