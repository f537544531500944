"""Where TextAttack finds its data, and importing it without a single network call when offline.

Why this module exists: ``import textattack`` (0.3.11) runs a one-time "post-install" that calls
``nltk.download`` for six packages unless a marker file exists under ``TA_CACHE_DIR``; offline it
prints errors, writes the marker anyway and then crashes on missing stopwords. Here NLTK is pointed at
a data folder first (``<data-dir>/nltk_data`` or ``$NLTK_DATA``), the resources are verified, and only
then is the marker written, so textattack never tries to download. textattack is imported lazily
(≈6 s, ≈600 MB: it imports flair) and only on the attack path.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterator, Optional

from ..errors import RBMError

#: NLTK resources by short name → path inside an NLTK data folder.
NLTK_PATHS: dict[str, str] = {
    "stopwords": "corpora/stopwords",
    "wordnet": "corpora/wordnet",
    "averaged_perceptron_tagger_eng": "taggers/averaged_perceptron_tagger_eng",
    "universal_tagset": "taggers/universal_tagset",
}
IMPORT_NLTK = ("stopwords",)  # what `import textattack` itself needs
POST_INSTALL_MARKER = "post_install_check_3"  # textattack/shared/utils/install.py
OFFLINE_ENVS = ("RBM_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
# textattack's set_cache_dir() moves these to TA_CACHE_DIR; restored after import so that model
# loading elsewhere in the process keeps using the user's Hugging Face cache.
_MOVED_BY_TEXTATTACK = ("TFHUB_CACHE_DIR", "PYTORCH_TRANSFORMERS_CACHE", "HF_HOME", "XDG_CACHE_HOME")


def is_offline() -> bool:
    """True when the user declared the run offline (then nothing is ever downloaded)."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes") for name in OFFLINE_ENVS)


def ta_cache_dir() -> Path:
    """TextAttack's cache folder: the one textattack fixed at import, else resolved as it will resolve it."""
    installed = sys.modules.get("textattack.shared.utils.install")
    if installed is not None:
        return Path(installed.TEXTATTACK_CACHE_DIR)
    return Path(os.environ.get("TA_CACHE_DIR") or Path.home() / ".cache" / "textattack").expanduser()


def configure_nltk(data_dir: Optional[str | os.PathLike] = None) -> list[str]:
    """Put ``<data_dir>/nltk_data`` (when present) in front of NLTK's search path; return that path.

    Sets ``$NLTK_DATA`` for child processes and ``nltk.data.path`` for this one (NLTK reads the
    variable only at import).
    """
    folders = [p for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    if data_dir:
        candidate = Path(data_dir).expanduser() / "nltk_data"
        if candidate.is_dir() and str(candidate) not in folders:
            folders.insert(0, str(candidate))
    if folders:
        os.environ["NLTK_DATA"] = os.pathsep.join(folders)
    import nltk

    for folder in reversed(folders):
        if folder not in nltk.data.path:
            nltk.data.path.insert(0, folder)
    return list(nltk.data.path)


def nltk_present(name: str) -> bool:
    """Whether an NLTK resource (short name from NLTK_PATHS) is findable, without any download."""
    import nltk

    try:
        nltk.data.find(NLTK_PATHS.get(name, name))
        return True
    except LookupError:
        return False


def nltk_hint(name: str) -> str:
    return (f"set NLTK_DATA (or --data-dir with a nltk_data/ folder) to a folder holding "
            f"{NLTK_PATHS.get(name, name)}/, or run: python -m nltk.downloader {name}")


def ensure_nltk(names: tuple[str, ...] | list[str]) -> None:
    """Make NLTK resources available: present → nothing; online → one quiet download; else one-line error."""
    missing = [n for n in names if not nltk_present(n)]
    if missing and not is_offline():
        import nltk

        with contextlib.redirect_stdout(sys.stderr):
            for name in missing:
                nltk.download(name, quiet=True, raise_on_error=False)
        missing = [n for n in missing if not nltk_present(n)]
    if missing:
        raise RBMError(f"NLTK resource {missing[0]!r} not found: {nltk_hint(missing[0])}")


def write_post_install_marker() -> Path:
    """Tell textattack its post-install is done (only called once the NLTK resources are verified)."""
    marker = ta_cache_dir() / POST_INSTALL_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch(exist_ok=True)
    return marker


def import_textattack(data_dir: Optional[str | os.PathLike] = None) -> ModuleType:
    """``import textattack`` offline-safely: NLTK configured and verified, marker written, HF env kept."""
    if "textattack" in sys.modules:
        configure_nltk(data_dir)
        return sys.modules["textattack"]
    configure_nltk(data_dir)
    ensure_nltk(IMPORT_NLTK)
    write_post_install_marker()
    importlib.import_module("transformers")  # resolve the HF cache from the user's env, not TA_CACHE_DIR
    saved = {k: os.environ.get(k) for k in _MOVED_BY_TEXTATTACK}
    try:
        return importlib.import_module("textattack")
    except LookupError as exc:  # an NLTK resource vanished between the check and the import
        raise RBMError(f"textattack could not load NLTK data ({str(exc).strip().splitlines()[0]}); "
                       f"{nltk_hint('stopwords')}") from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def no_nltk_downloads() -> Iterator[None]:
    """While building recipes, make ``nltk.download`` a local lookup (WordSwapWordNet calls it for
    omw-1.4 on every construction, which English WordNet does not need)."""
    import nltk

    original = nltk.download

    def local_only(info_or_id=None, *args, **kwargs) -> bool:
        return isinstance(info_or_id, str) and nltk_present(info_or_id)

    nltk.download = local_only
    try:
        yield
    finally:
        nltk.download = original
