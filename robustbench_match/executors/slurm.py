"""``--executor slurm``: one SLURM job per checkpoint (a training cell and its evaluations), submitted as
a job array through submitit's ``AutoExecutor``; ``--executor-opt KEY=VALUE`` passes its parameters
(``slurm_partition``, ``gpus_per_node``, ``timeout_min``, ``slurm_array_parallelism``, ``cpus_per_task``,
``mem_gb`` ...). Logs: ``RUN_DIR/jobs/slurm/JOBID/``.

Why poll ``squeue`` as well as submitit: submitit learns a job's end from ``sacct``, which clusters
without an accounting database lack; a job that left the queue without writing its result (killed,
preempted, out of memory) is then failed here after a grace period instead of waited on forever.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

from ..errors import RBMError
from .base import ExecutorOptions, JobOutcome, jobs_dir, read_state, write_job_specs, write_state

log = logging.getLogger(__name__)

DEFAULTS = {"timeout_min": 24 * 60, "cpus_per_task": 1, "stderr_to_stdout": True}  # one log per job
POLL_S = 2.0
GONE_GRACE_S = 60.0  # a job absent from squeue this long without a result has failed


class SlurmExecutor:
    def __init__(self, options: ExecutorOptions) -> None:
        if options.workers != 1:
            raise RBMError("--workers is for --executor local; with slurm use --executor-opt "
                           "slurm_array_parallelism=N")
        self.options = options

    def _executor(self, run_dir: Path, name: str):
        if shutil.which("sbatch") is None:
            raise RBMError("--executor slurm: no sbatch on PATH (run on a SLURM login node, or use --executor local)")
        try:
            import submitit
        except ImportError:
            raise RBMError("--executor slurm needs submitit (pip install submitit)") from None
        executor = submitit.AutoExecutor(folder=jobs_dir(run_dir) / "slurm" / "%j", cluster="slurm")
        params = {**DEFAULTS, "name": name, **self.options.options}
        if self.options.threads_per_worker and "cpus_per_task" not in self.options.options:
            params["cpus_per_task"] = int(self.options.threads_per_worker)
        try:
            executor.update_parameters(**params)
        except (ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RBMError(f"--executor-opt: {first}") from None
        return executor

    def run(self, plan, jobs, ctx) -> list[JobOutcome]:
        from .worker import slurm_entry

        run_dir = Path(ctx.output).resolve()
        executor = self._executor(run_dir, f"rbm-{plan.suite.name}")
        prepared = [(job, [str(p) for p in write_job_specs(plan, job, ctx)]) for job in jobs]
        try:
            with executor.batch():
                submitted = [executor.submit(slurm_entry, specs, job.name) for job, specs in prepared]
        except Exception as exc:  # noqa: BLE001 - sbatch's own message, in one line
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise RBMError(f"--executor slurm: submission failed: {first}") from None
        pending = {}
        for (job, _), sjob in zip(prepared, submitted):
            write_state(run_dir, job.name, state="submitted", executor="slurm", job_id=str(sjob.job_id),
                        cells=[c.key for c in job.cells], log=str(sjob.paths.stdout), error=None)
            pending[str(sjob.job_id)] = (job, sjob)
        log.info("slurm: %d jobs submitted (%s), logs under %s", len(submitted),
                 ", ".join(pending), jobs_dir(run_dir) / "slurm")
        return self._wait(run_dir, pending)

    def _wait(self, run_dir: Path, pending: dict) -> list[JobOutcome]:
        outcomes: list[JobOutcome] = []
        gone_since: dict[str, float] = {}
        while pending:
            queued = _squeue_ids()
            for job_id, (job, sjob) in list(pending.items()):
                keys = [c.key for c in job.cells]
                finished = sjob.paths.result_pickle.exists()
                if not finished and queued is not None and not _in_queue(job_id, queued):
                    gone_since.setdefault(job_id, time.time())
                    lost = time.time() - gone_since[job_id] > GONE_GRACE_S
                else:
                    gone_since.pop(job_id, None)
                    lost = False
                if not (finished or lost):
                    continue
                del pending[job_id]
                logfile = str(sjob.paths.stdout)
                if finished:
                    try:
                        sjob.result()
                        outcomes.append(JobOutcome(job.name, keys, True, job_id, logfile))
                        log.info("slurm job %s (%s): done", job_id, job.name)
                        continue
                    except Exception as exc:  # noqa: BLE001 - submitit wraps the job's own exception
                        error = _last_line(str(exc))
                else:
                    error = "left the queue without a result (killed, preempted or out of memory?)"
                state = read_state(run_dir, job.name)
                if state.get("state") != "failed" or not state.get("error"):
                    write_state(run_dir, job.name, state="failed", error=error)
                else:
                    error = state["error"]
                log.error("slurm job %s (%s) failed: %s (log %s)", job_id, job.name, error, logfile)
                outcomes.append(JobOutcome(job.name, keys, False, job_id, logfile, error))
            if pending:
                time.sleep(POLL_S)
        return outcomes


def _squeue_ids() -> set[str] | None:
    """Job ids in the queue (array tasks expanded as 12_0); None when squeue cannot answer."""
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def _in_queue(job_id: str, queued: set[str]) -> bool:
    if job_id in queued:
        return True
    parent = job_id.split("_")[0]
    return any(q == parent or q.startswith(parent + "_[") for q in queued)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "failed"
