"""One progress line for every long phase (training steps, ChildTuning-D's Fisher pass, attack cells,
tokenisation of large sets): a tqdm bar on a terminal, and a log line every ~10 % of the work with
done/total, elapsed and ETA, so that a SLURM log or a piped run is never silent for minutes."""
from __future__ import annotations

import logging
import math
import sys
import time
from typing import Optional


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """``Progress(total, "train vanilla on sst2", unit="step")``; ``update(extra="loss 0.41")`` after each unit."""

    def __init__(self, total: int, desc: str, unit: str = "step", enabled: bool = True,
                 logger: Optional[logging.Logger] = None, every: Optional[int] = None) -> None:
        from tqdm.auto import tqdm

        self.total, self.desc, self.unit, self.enabled = max(0, int(total)), desc, unit, enabled
        self.log = logger or logging.getLogger(__name__)
        self.every = every or max(1, min(100, math.ceil(self.total / 10)))
        self.done = 0
        self.start = time.perf_counter()
        self.bar = tqdm(total=self.total, desc=desc, unit=unit, leave=False,
                        disable=not (enabled and sys.stderr.isatty()))

    def update(self, n: int = 1, extra: str = "", **postfix) -> None:
        if not self.enabled:
            return
        self.done += n
        self.bar.update(n)
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)
        crossed = self.done // self.every != (self.done - n) // self.every
        if crossed or self.done == self.total:
            elapsed = time.perf_counter() - self.start
            eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
            message = (f"{self.desc}: {self.unit} {self.done}/{self.total}{', ' + extra if extra else ''}, "
                       f"elapsed {clock(elapsed)}, ETA {clock(eta) if math.isfinite(eta) else '?'}")
            if self.bar.disable:
                self.log.info(message)
            else:
                self.bar.write(f"INFO {self.log.name}: {message}")

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
