"""Writing figures without losing anyone's file: ``rbm plot`` replaces only a figure it drew itself.

Every figure carries a marker in its metadata (PNG ``Software``, PDF and SVG ``Creator``); an existing
.png/.pdf/.svg without it (a thesis figure, a photo) is never overwritten, whatever ``-o`` says.
"""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

from ._version import __version__
from .errors import RBMError

F = TypeVar("F", bound=Callable)

FORMATS = ("png", "pdf", "svg")
MARK = "robustbench-match rbm plot"
_KEY = {"png": "Software", "pdf": "Creator", "svg": "Creator"}


def figure_is_ours(path: Path) -> bool:
    """True when ``path`` is a figure an earlier ``rbm plot`` wrote (its metadata has our marker)."""
    try:
        return MARK.encode() in path.read_bytes()
    except OSError:
        return False


def check_figure_output(path: Path, flag: str = "-o") -> str:
    """The format of ``path``; refuses a folder, another suffix, or an existing file that is not ours."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise RBMError(f"{flag} {path}: use a .png, .pdf or .svg file name")
    if path.is_dir():
        raise RBMError(f"{flag} {path}: is a folder (expected a figure file name, e.g. plot.png)")
    if path.exists() and not figure_is_ours(path):
        raise RBMError(f"{flag} {path}: exists and is not a figure drawn by rbm plot; refusing to overwrite it "
                       f"(choose a new file name); nothing was written")
    return fmt


def save_figure(fig, path: Path, flag: str = "-o", **kwargs) -> Path:
    """Save ``fig`` to ``path`` (checked first), atomically, marked as ours."""
    fmt = check_figure_output(path, flag)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".{fmt}")
    os.close(fd)
    try:
        fig.savefig(tmp, format=fmt, metadata={_KEY[fmt]: f"{MARK} {__version__}"}, **kwargs)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def literal_text(draw: F) -> F:
    """Decorator for every function that draws a figure: its texts (model, task and recipe names from
    records, file names) are literal, never mathtext — ``$x$`` in a model name prints as typed instead of
    crashing the report or printing something else."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def legend_label(name: object) -> str:
    """A series name as its legend entry: matplotlib leaves out labels starting with ``_`` (its rule for
    internal artists), so a model named ``_hidden`` would be drawn but missing from the legend; a zero-width
    space in front keeps it, looking the same."""
    text = str(name)
    return "\u200b" + text if text.startswith("_") else text
