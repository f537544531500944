"""User-facing errors: the CLI prints their message as one line and exits non-zero."""
from __future__ import annotations


class RBMError(Exception):
    """Bad input or an unmet precondition. The message names the file/field and what was expected."""


class DataError(RBMError):
    """A data file or folder is missing, malformed, or has labels outside the task's label set."""


class CheckpointError(RBMError):
    """A checkpoint cannot be loaded or does not fit the task (labels, number of outputs)."""
