"""Shared fixtures: the real data beside the checkout and one real fine-tuned MiniLM per session."""
from __future__ import annotations

import os

import pytest

from paths import DATA_DIR

needs_data = pytest.mark.skipif(not (DATA_DIR / "glue").is_dir(), reason=f"real data not found at {DATA_DIR}")


TRAINING_FIXTURES = {"sst2_checkpoint", "vanilla", "checkpoints", "noise_run", "trained", "adapter", "lora_run"}
TRAINING_CALLS = ("train(", "TrainConfig(", '"train"', "trained_in_memory(")


def _cost_markers(item) -> None:
    """Every test says what it costs: ``real_data`` (reads ../shared/data) and ``trains`` (fine-tunes a model,
    seconds to minutes on CPU), so `pytest -m "not trains"` is the quick loop and CI sees what it runs."""
    import inspect

    names = set(getattr(item, "fixturenames", ()))
    try:
        source = inspect.getsource(item.function)
    except (OSError, TypeError, AttributeError):
        source = ""
    if names & {"data_dir", "tiny_root", "env"} or "DATA_DIR" in source or "data_dir" in source:
        item.add_marker(pytest.mark.real_data)
    if names & TRAINING_FIXTURES or any(call in source for call in TRAINING_CALLS):
        item.add_marker(pytest.mark.trains)


def pytest_collection_modifyitems(config, items):
    """Cost markers on every test; slow real-data checks run with RBM_SLOW=1 (or when selected with -m slow)."""
    for item in items:
        _cost_markers(item)
    if os.environ.get("RBM_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: set RBM_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI a test skipped because the real data is missing fails instead: a green CI must mean the
    real-data checks ran (every such skip names the data: "no shared data at ...", "real data not found")."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[-1])
        if "shared data" in reason or "real data not found" in reason:
            report.outcome = "failed"
            report.longrepr = f"CI: {reason} (real-data tests must run in CI, not skip)"


@pytest.fixture
def hub_offline(monkeypatch) -> None:
    """The hub libraries offline for this test. They read HF_HUB_OFFLINE once, at import, so setting the
    variable after they are imported changes nothing and a test would wait for network timeouts (≈ 45 s
    here) before the same error: patch the flags they already hold as well as the environment."""
    import datasets.config
    import huggingface_hub.constants
    import transformers.utils.hub

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(transformers.utils.hub, "_is_offline_mode", True)


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
