"""Where the tests find the repository and the real data (one place: test files live in subfolders that
mirror the package, so a path written relative to each file would differ by folder)."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("RBM_TEST_DATA", REPO.parent / "shared" / "data"))
