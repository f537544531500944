"""``--executor local --workers N [--threads-per-worker K]``: a pool of N worker processes on this machine.

Each worker runs one job at a time as ``rbm run-cell`` in its own process (so a crash, an out-of-memory
kill or a stuck cell takes only its job), with K intra-op threads and, when GPUs are present, one GPU
per worker slot (``CUDA_VISIBLE_DEVICES``). Logs: ``RUN_DIR/jobs/logs/JOB.log`` (appended on reruns).
"""
from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import RBMError
from .base import ExecutorOptions, JobOutcome, jobs_dir, read_state, this_host, write_job_specs, write_state
from .worker import THREADS_ENV

log = logging.getLogger(__name__)


def gpu_count() -> int:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return 0
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


class LocalExecutor:
    def __init__(self, options: ExecutorOptions) -> None:
        if options.workers < 1:
            raise RBMError(f"--workers {options.workers}: must be at least 1")
        if options.threads_per_worker is not None and options.threads_per_worker < 1:
            raise RBMError(f"--threads-per-worker {options.threads_per_worker}: must be at least 1")
        unknown = sorted(options.options)
        if unknown:
            raise RBMError(f"--executor-opt {unknown[0]}: the local executor takes none (use --workers and "
                           f"--threads-per-worker; --executor-opt is for slurm)")
        self.options = options

    def run(self, plan, jobs, ctx) -> list[JobOutcome]:
        run_dir = Path(ctx.output)
        workers = min(self.options.workers, len(jobs))
        threads = self.options.threads_per_worker or max(1, (os.cpu_count() or 1) // workers)
        gpus = gpu_count()
        slots: queue.Queue = queue.Queue()
        for i in range(workers):
            slots.put(i)
        prepared = [(job, write_job_specs(plan, job, ctx)) for job in jobs]
        for job, _ in prepared:
            write_state(run_dir, job.name, state="submitted", executor="local", job_id=None, host=this_host(),
                        cells=[c.key for c in job.cells], log=str(self._log(run_dir, job.name)), error=None)
        log.info("local executor: %d jobs (%d cells) on %d workers × %d threads%s", len(jobs),
                 sum(len(j.cells) for j in jobs), workers, threads, f", {gpus} GPUs" if gpus else "")

        def one(job, specs) -> JobOutcome:
            slot = slots.get()
            try:
                return self._run_one(run_dir, job, specs, threads, slot % gpus if gpus else None)
            finally:
                slots.put(slot)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(lambda js: one(*js), prepared))
        return outcomes

    @staticmethod
    def _log(run_dir: Path, job_name: str) -> Path:
        return jobs_dir(run_dir) / "logs" / f"{job_name}.log"

    def _run_one(self, run_dir: Path, job, specs, threads: int, gpu) -> JobOutcome:
        log_path = self._log(run_dir, job.name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                   **{THREADS_ENV: str(threads)})
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = str(gpu)
        cmd = [sys.executable, "-m", "robustbench_match.cli", *(["-v"] if self.options.verbose else []),
               "run-cell", "--executor-kind", "local", "--job", job.name, *map(str, specs)]
        keys = [c.key for c in job.cells]
        log.info("job %s: %d cell(s) started (log %s)", job.name, len(keys), log_path)
        with open(log_path, "a", encoding="utf-8") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
            rc = proc.wait()
        if rc == 0:
            log.info("job %s: done", job.name)
            return JobOutcome(job.name, keys, True, str(proc.pid), str(log_path))
        state = read_state(run_dir, job.name)
        error = state.get("error") if state.get("state") == "failed" else None
        if error is None:  # killed before it could say why (signal, out of memory)
            error = f"worker exited with code {rc}"
            write_state(run_dir, job.name, state="failed", error=error)
        log.error("job %s failed: %s (log %s)", job.name, error, log_path)
        return JobOutcome(job.name, keys, False, str(proc.pid), str(log_path), error)
