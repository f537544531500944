"""User inputs that become paths, table cells or RNG seeds: checked once, encoded injectively, kept under
``--output``.

Why: a suite's ``suite:`` name, a task, a method, a condition or a checkpoint NAME ends up as a folder
of trained checkpoints, a predictions file or a table row. Unchecked, ``suite: ../../x`` or ``/abs``
wrote (and deleted) outside the run folder, two names that differ only in punctuation shared one
predictions file, and a newline in a name forged Markdown rows. So:

* :func:`check_name` refuses control characters and over-long names (one line naming the flag/file);
* :func:`path_component` turns any name into one file-name component, injectively (percent-encoding,
  so ``a b`` and ``a_b`` never collide, ``..`` never climbs, ``/`` never nests);
* :func:`inside` is the last guard of every writer: the resolved path must lie under the run folder;
* :func:`check_seed` bounds every seed flag and field to what numpy, torch and Python's random all accept.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from .errors import RBMError

#: the longest name accepted (a checkpoint NAME, a suite name); longer ones are refused in one line
MAX_NAME = 120
#: characters kept as they are in a path component; everything else (and "%") is percent-encoded
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-=,@")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
#: a component longer than this (bytes) is cut and suffixed with a hash of the whole name (``~`` is never
#: produced by the encoding itself, so a cut name cannot equal an uncut one)
_MAX_COMPONENT = 150


def check_name(value: object, where: str, what: str = "name") -> str:
    """``value`` as a name: a non-empty string without control characters, at most MAX_NAME characters."""
    if not isinstance(value, str) or not value.strip():
        raise RBMError(f"{where}: {what} must be a non-empty string (got {value!r})")
    if _CONTROL.search(value):
        raise RBMError(f"{where}: {what} {value[:40]!r}… contains a control character (newline, tab, …); "
                       f"use letters, digits and - _ . +")
    if len(value) > MAX_NAME:
        raise RBMError(f"{where}: {what} is {len(value)} characters long (at most {MAX_NAME})")
    return value


def path_component(name: str) -> str:
    """One file-name component for ``name``: the same name gives the same component, two different names
    never do (up to a sha256 collision for names over ~150 bytes), and none is ``.``, ``..`` or nests."""
    out = "".join(c if c in _SAFE else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in str(name))
    if out.startswith("."):
        out = "%2E" + out[1:]
    if not out:
        out = "%"  # the empty name (refused by check_name; never an empty component)
    if len(out) > _MAX_COMPONENT:
        out = out[:_MAX_COMPONENT - 18] + "~" + hashlib.sha256(str(name).encode("utf-8")).hexdigest()[:16]
    return out


def inside(root: str | os.PathLike, path: str | os.PathLike, what: str = "output") -> Path:
    """``path`` if, resolved (symlinks followed), it lies under ``root``; else one line, nothing written."""
    base = Path(root).resolve()
    target = Path(path)
    resolved = (target if target.is_absolute() else Path.cwd() / target).resolve()
    if resolved != base and base not in resolved.parents:
        raise RBMError(f"refusing to write {what} {target} outside the run folder {base} (a name in the suite or "
                       f"--checkpoint escapes it)")
    return target


def printable(text: object) -> str:
    """``text`` on one line: control characters (a newline in a hand-edited name) shown escaped, as
    ``\\n``, so a name can never end a row or a status line and start a forged one."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def markdown_cell(text: object) -> str:
    """A value safe inside one Markdown table cell: on one line (:func:`printable`), ``|`` escaped."""
    return printable(text).replace("|", "\\|")


#: numpy's RandomState (and so textattack, datasets, sklearn) accepts seeds in [0, 2**32 - 1]
MAX_SEED = 2**32 - 1


def check_seed(value: object, where: str) -> int:
    """``value`` as a seed every RNG library accepts: a whole number in [0, 2**32 - 1]."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise RBMError(f"{where} {value!r}: expected a whole-number seed in 0..{MAX_SEED}")
    return value


def seed_arg(text: str) -> int:
    """argparse ``type=`` for one seed flag (argparse prints the message as ``argument --seed: ...``)."""
    import argparse

    try:
        return check_seed(int(text), "seed")
    except (ValueError, RBMError):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole-number seed in 0..{MAX_SEED}") from None


def batch_size_arg(value: str) -> int | str:
    """``--batch-size``: a whole number >= 1, or ``auto``."""
    import argparse

    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    try:
        return int(text)  # < 1 is refused by the command's own checks, naming the flag and the value
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a whole number >= 1 or auto") from None
