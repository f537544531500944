"""The data and models each attack recipe needs, where to find them, and a check that runs before
an attack starts (so a missing resource is one line naming it and how to provide it, not a
traceback twenty minutes in, and never a retry loop).

A resource is *present* when it is on disk where TextAttack (or NLTK, tensorflow-hub, flair, the
Hugging Face cache) looks for it. Resources TextAttack downloads by itself are allowed to be
absent when the host they come from is reachable and the run is not declared offline.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .environment import NLTK_PATHS, is_offline, nltk_hint, nltk_present, ta_cache_dir

S3_HOST = "textattack.s3.amazonaws.com"
LM_DIR_ENV = "RBM_LM_DIR"  # folder of local model copies: <dir>/<hub-id>/ (e.g. <dir>/bert-base-uncased/)


@dataclass(frozen=True)
class Resource:
    """One thing a recipe needs. ``host`` is where TextAttack downloads it from by itself (None: it
    cannot, the user must provide it)."""

    name: str
    description: str
    present: Callable[[], bool]
    hint: Callable[[], str]  # how to provide it (computed when asked: paths depend on the environment)
    host: Optional[str] = None


@functools.lru_cache(maxsize=None)
def host_reachable(host: str, timeout: float = 3.0) -> bool:
    """One TCP connect (no request) to decide whether TextAttack's own download can work."""
    if is_offline():
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def lm_dir() -> Optional[Path]:
    value = os.environ.get(LM_DIR_ENV)
    return Path(value).expanduser() if value else None


def local_model_path(repo_id: str) -> Optional[Path]:
    """``$RBM_LM_DIR/<repo_id>`` when it holds a model folder; used instead of the hub."""
    root = lm_dir()
    if root is None:
        return None
    path = root / repo_id
    return path if (path / "config.json").is_file() else None


def _hf_cached(repo_id: str, filename: str, cache_dir: Optional[Path] = None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=str(cache_dir) if cache_dir else None)
    return isinstance(found, str)


def nltk_resource(name: str) -> Resource:
    return Resource(f"nltk:{name}", f"NLTK {NLTK_PATHS[name]}", lambda: nltk_present(name), lambda: nltk_hint(name),
                    host="raw.githubusercontent.com")


def ta_cache_resource(rel: str, description: str) -> Resource:
    url = f"https://{S3_HOST}/{rel}.zip"
    return Resource(f"textattack:{rel}", description, lambda: (ta_cache_dir() / rel).exists(),
                    lambda: f"unzip {url} so that it is the folder $TA_CACHE_DIR/{rel} (TA_CACHE_DIR now: {ta_cache_dir()})",
                    host=S3_HOST)


def package_resource(module: str, pip_name: str) -> Resource:
    return Resource(f"python:{module}", f"Python package {pip_name}",
                    lambda: importlib.util.find_spec(module) is not None, lambda: f"pip install {pip_name}")


def hf_model_resource(repo_id: str, description: str) -> Resource:
    def present() -> bool:
        return local_model_path(repo_id) is not None or _hf_cached(repo_id, "config.json")

    return Resource(f"hf:{repo_id}", description, present,
                    lambda: f"put a copy at ${LM_DIR_ENV}/{repo_id}/, or download it once with network "
                    f"(huggingface-cli download {repo_id}) into the Hugging Face cache", host="huggingface.co")


def tfhub_resource(url: str, description: str) -> Resource:
    def cache_dir() -> Path:
        default = os.environ.get("TA_CACHE_DIR") or str(Path(tempfile.gettempdir()) / "tfhub_modules")
        return Path(os.environ.get("TFHUB_CACHE_DIR") or default)

    def present() -> bool:
        module_dir = cache_dir() / hashlib.sha1(url.encode("utf-8")).hexdigest()
        return importlib.util.find_spec("tensorflow_hub") is not None and module_dir.is_dir()

    return Resource(f"tfhub:{url.split('tfhub.dev/')[-1]}", description, present,
                    lambda: f"pip install tensorflow tensorflow_hub, then fetch {url} once with network or unpack it into "
                    f"$TFHUB_CACHE_DIR/{hashlib.sha1(url.encode('utf-8')).hexdigest()}/", host="tfhub.dev")


def flair_resource(repo_id: str, description: str) -> Resource:
    def present() -> bool:
        root = Path(os.environ.get("FLAIR_CACHE_ROOT", Path.home() / ".flair"))
        return _hf_cached(repo_id, "pytorch_model.bin", root / "models" / repo_id.split("/", 1)[-1])

    return Resource(f"flair:{repo_id}", description, present,
                    lambda: f"load it once with network (flair SequenceTagger.load('{repo_id}')) so it is under "
                    f"$FLAIR_CACHE_ROOT/models/ (default ~/.flair)", host="huggingface.co")


def package_file_resource(rel: str, description: str) -> Resource:
    def path() -> Path:
        spec = importlib.util.find_spec("textattack")
        base = Path(spec.origin).parent if spec and spec.origin else Path("textattack")
        return base / rel

    return Resource(f"file:textattack/{rel}", description, lambda: path().is_file(),
                    lambda: f"the textattack 0.3.11 wheel lacks it; copy it from the TextAttack repository "
                    f"(textattack/{rel}) into {path()}")


_ALL = [
    nltk_resource("stopwords"),
    nltk_resource("wordnet"),
    nltk_resource("averaged_perceptron_tagger_eng"),
    nltk_resource("universal_tagset"),
    ta_cache_resource("word_embeddings/paragramcf", "counter-fitted word embeddings"),
    ta_cache_resource("transformations/hownet", "HowNet synonym candidates"),
    ta_cache_resource("constraints/semantics/language-models/alzantot-goog-lm", "Google 1B language model"),
    ta_cache_resource("constraints/grammaticality/language-models/learning-to-write", "learning-to-write LM"),
    package_resource("tensorflow", "tensorflow"),
    package_resource("tensorflow_hub", "tensorflow tensorflow_hub"),
    package_resource("flair", "flair"),
    tfhub_resource("https://tfhub.dev/google/universal-sentence-encoder/3", "Universal Sentence Encoder"),
    hf_model_resource("bert-base-uncased", "BERT masked language model"),
    hf_model_resource("distilroberta-base", "DistilRoBERTa masked language model"),
    hf_model_resource("gpt2", "GPT-2 language model"),
    hf_model_resource("sentence-transformers/stsb-distilbert-base", "SBERT sentence encoder"),
    hf_model_resource("Helsinki-NLP/opus-mt-en-ROMANCE", "MarianMT English → Romance translation model"),
    hf_model_resource("Helsinki-NLP/opus-mt-ROMANCE-en", "MarianMT Romance → English translation model"),
    flair_resource("flair/ner-english", "flair NER tagger"),
    package_file_resource("shared/intentional_homoglyphs.txt", "Unicode homoglyph table"),
]
RESOURCES: dict[str, Resource] = {r.name: r for r in _ALL}


def missing_resources(names: tuple[str, ...] | list[str], allow_download: bool = True) -> list[Resource]:
    """Resources that are absent and that TextAttack cannot fetch by itself right now."""
    out = []
    for name in names:
        res = RESOURCES[name]
        if res.present():
            continue
        if allow_download and res.host is not None and not res.name.startswith("nltk:") and host_reachable(res.host):
            continue
        out.append(res)
    return out
