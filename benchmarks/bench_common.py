"""What every benchmark here shares: the machine it ran on, and writing its result as JSON + Markdown."""
from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Optional


def cpu_model() -> str:
    """lscpu's model line (a speed fact is only as good as the machine it names)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return platform.processor()
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")),
                platform.processor())


def load_average() -> float:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else float("nan")


def publish(result: dict, markdown: str, output: Optional[str]) -> None:
    """Print the Markdown; with ``output``, write OUTPUT.json and OUTPUT.md."""
    print(markdown)
    if output:
        Path(output + ".json").write_text(json.dumps(result, indent=1))
        Path(output + ".md").write_text(markdown + "\n")
