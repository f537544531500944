"""Issue 39: the wheel works without the checkout — it ships the built-in suites, tasks, lexicons and MFT files;
installed into a fresh virtual environment (dependencies borrowed from this one, the package itself only from the
wheel) it lists the suites and runs the quickstart suite offline from a folder outside the checkout; ``twine
check`` passes on the wheel and the sdist."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from paths import DATA_DIR

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict | None = None, timeout: int = 600) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)], cwd=ROOT)
    return out


def test_the_wheel_ships_every_data_file_the_package_reads(dist):
    (wheel,) = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, pattern in (("suite_files", "*.yaml"), ("tasks", "*.yaml"), ("perturbations/lexicons", "*"),
                            ("perturbations/mft", "*.yaml")):
        files = sorted((ROOT / "robustbench_match" / folder).glob(pattern))
        assert files, folder
        missing = [f.name for f in files if f.is_file() and f"robustbench_match/{folder}/{f.name}" not in names]
        assert not missing, f"{folder}: {missing} not in the wheel"


def test_twine_check_passes_on_the_wheel_and_the_sdist(dist):
    pytest.importorskip("twine")
    files = sorted(map(str, dist.glob("*")))
    assert any(f.endswith(".whl") for f in files) and any(f.endswith(".tar.gz") for f in files)
    out = _run([sys.executable, "-m", "twine", "check", "--strict", *files], cwd=ROOT)
    assert out.count("PASSED") == 2


@pytest.mark.skipif(not (DATA_DIR / "glue" / "SST-2").is_dir(), reason=f"no shared data at {DATA_DIR}")
def test_the_installed_wheel_lists_the_suites_and_runs_quickstart_offline_outside_the_checkout(dist, tmp_path):
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path)
                .strip().splitlines()[-1])
    # the dependencies from this environment (a plain path: its editable-install hooks are not run), the
    # package only from the wheel
    (site / "borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "RBM_INCLUDE_PATH"))}
    env.update(HF_HUB_OFFLINE="1", RBM_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    where = _run([str(python), "-c", "import robustbench_match; print(robustbench_match.__file__)"], cwd=work, env=env)
    assert str(site) in where and str(ROOT) not in where
    rbm = str(venv / "bin" / "rbm")
    listed = _run([rbm, "suites"], cwd=work, env=env)
    for suite in ("quickstart", "glue-dev", "advglue", "textattack", "perturbation", "label-noise"):
        assert suite in listed
    out = _run([rbm, "run", "quickstart", "--data-dir", str(DATA_DIR), "--output", "runs/quickstart",
                "--set", "train.max_train_examples=96", "--limit", "64", "--format", "markdown"], cwd=work, env=env)
    assert "SST-2" in out and (work / "runs" / "quickstart" / "results.jsonl").is_file()
