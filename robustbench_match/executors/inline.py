"""``--executor inline``: every job in this process, one after another (the default, as always).

An error stops the run at once with its one line, as before; models are loaded once per path."""
from __future__ import annotations

import logging

from .base import ExecutorOptions, JobOutcome

log = logging.getLogger(__name__)


class InlineExecutor:
    def __init__(self, options: ExecutorOptions) -> None:
        self.options = options

    def run(self, plan, jobs, ctx) -> list[JobOutcome]:
        from ..cellrun import executor_info, run_cell

        if self.options.threads_per_worker:
            import torch

            torch.set_num_threads(int(self.options.threads_per_worker))
        store = ctx.result_store()
        info = executor_info("inline")
        total = sum(len(j.cells) for j in jobs)
        done = 0
        outcomes = []
        for job in jobs:
            for cell in job.cells:
                done += 1
                log.info("[%d/%d] %s", done, total, cell.key)
                run_cell(plan.suite, plan.evaluator, cell, ctx, store, info)
            outcomes.append(JobOutcome(job.name, [c.key for c in job.cells], True))
        return outcomes
