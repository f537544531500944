"""Where a run's jobs execute: ``inline`` (this process), ``local`` (a pool of worker processes on this
machine) or ``slurm`` (SLURM jobs through submitit). Entries are lazy, so submitit loads only when used.

Every executor runs the same thing per job — :func:`worker.run_job` over the job's cell specs, or the
same cells in process for ``inline`` — so records are identical whichever ran them, apart from their
``executor`` field ({kind, job_id, host})."""
from __future__ import annotations

from .base import ExecutorOptions, JobOutcome, parse_executor_opts
from ..registry import Registry

EXECUTORS: Registry = Registry("executor")
EXECUTORS.register("inline", "robustbench_match.executors.inline:InlineExecutor")
EXECUTORS.register("local", "robustbench_match.executors.local:LocalExecutor")
EXECUTORS.register("slurm", "robustbench_match.executors.slurm:SlurmExecutor")

__all__ = ["EXECUTORS", "ExecutorOptions", "JobOutcome", "parse_executor_opts"]
