"""Fixtures shared by the training tests."""
from __future__ import annotations

import pytest

from robustbench_match.training.modeling import one_thread_when_busy


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread while another job shares the machine (training tests then time and behave alike)."""
    with one_thread_when_busy():
        yield
