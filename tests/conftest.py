"""Shared fixtures: the real data beside the checkout and one real fine-tuned MiniLM per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("RBM_TEST_DATA", REPO.parent / "shared" / "data"))

needs_data = pytest.mark.skipif(not (DATA_DIR / "glue").is_dir(), reason=f"real data not found at {DATA_DIR}")


def pytest_collection_modifyitems(config, items):
    """Slow real-data checks run with RBM_SLOW=1 (or when selected explicitly with -m slow)."""
    if os.environ.get("RBM_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: set RBM_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir() -> str:
    if not (DATA_DIR / "glue").is_dir():
        pytest.skip(f"real data not found at {DATA_DIR}")
    return str(DATA_DIR)


@pytest.fixture(scope="session")
def sst2_checkpoint(tmp_path_factory, data_dir) -> str:
    """MiniLM fine-tuned with the bundled trainer on 2,000 real SST-2 training sentences (1 epoch)."""
    from robustbench_match.training import TrainConfig, train

    out = tmp_path_factory.mktemp("ckpt") / "sst2-vanilla"
    cfg = TrainConfig(method="vanilla", task="sst2", seed=1, output=str(out), data_dir=data_dir, epochs=1,
                      batch_size=32, lr=5e-5, max_length=64, max_train_examples=2000)
    return str(train(cfg))
