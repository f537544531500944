"""One job, anywhere: the cells of one checkpoint, from their spec files (``rbm run-cell``, local
workers and SLURM jobs all run :func:`run_job`).

Exactly once, even when the process that submitted the job was killed and the run is started again:
a job holds an exclusive lock on ``RUN_DIR/jobs/locks/JOB.lock`` while it runs, and skips a cell whose
record is already stored with the same fingerprint (written by an earlier copy of the job). A cell
that fails does not stop the job's other cells; the job then exits non-zero.
"""
from __future__ import annotations

import contextlib
import logging
import os
import traceback
from pathlib import Path
from typing import Iterator, Optional, Sequence

from filelock import FileLock, Timeout

from ..errors import RBMError
from ..registry import UnknownNameError
from .base import jobs_dir, write_state

log = logging.getLogger(__name__)
THREADS_ENV = "RBM_THREADS"


@contextlib.contextmanager
def job_lock(run_dir: Path, job_name: str) -> Iterator[None]:
    path = jobs_dir(run_dir) / "locks" / f"{job_name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("job %s is running elsewhere (an earlier copy); waiting for it", job_name)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def set_threads(threads: Optional[int] = None) -> None:
    """Intra-op threads of this worker: ``--threads-per-worker`` (via $RBM_THREADS), else SLURM's CPUs."""
    n = threads or os.environ.get(THREADS_ENV) or os.environ.get("SLURM_CPUS_PER_TASK")
    if n:
        import torch

        torch.set_num_threads(int(n))


def _already_stored(store, key: str, spec: dict) -> bool:
    current = {r["key"]: r for r in store.records()}.get(key)
    if not current or not spec.get("fingerprint"):
        return False
    if (current.get("fingerprint") or {}).get("sha256") != spec["fingerprint"].get("sha256"):
        return False
    # under --force the cell is redone once: a record made after this job was planned is that redo
    return not spec["run"].get("force") or (current.get("date") or "") >= (spec.get("planned") or "")


def run_job(spec_files: Sequence[str | os.PathLike], kind: str = "run-cell", job_name: Optional[str] = None,
            job_id: Optional[str] = None) -> dict:
    """Run the cells of ``spec_files`` in order; returns {"done": [...], "skipped": [...], "failed": {key: error}}."""
    from ..cells import from_spec, read_spec
    from ..evaluators import EVALUATORS
    from ..results import ResultStore
    from ..cellrun import executor_info, run_cell

    specs = [(str(p), read_spec(p)) for p in spec_files]
    if not specs:
        raise RBMError("run-cell: no spec files given")
    first_suite, first_cell, ctx = from_spec(specs[0][1], specs[0][0])
    job_name = job_name or Path(specs[0][0]).parent.name
    run_dir = Path(ctx.output)
    store = ResultStore(run_dir)
    info = executor_info(kind, job_id or str(os.getpid()))
    summary: dict = {"done": [], "skipped": [], "failed": {}}
    keys = [s["key"] for _, s in specs]
    with job_lock(run_dir, job_name):
        write_state(run_dir, job_name, state="running", executor=kind, job_id=info["job_id"], host=info["host"],
                    pid=os.getpid(), cells=keys, error=None)
        evaluator = EVALUATORS.get(first_suite.evaluator)()
        for where, spec in specs:
            key = spec.get("key")
            try:
                suite, cell, cell_ctx = from_spec(spec, where)
                cell_ctx._open = ctx._open  # one model load per checkpoint within the job
                if _already_stored(store, key, spec):
                    log.info("%s: already stored with the same fingerprint; skipped", key)
                    summary["skipped"].append(key)
                    continue
                log.info("%s: running (job %s, %s %s)", key, job_name, kind, info["job_id"])
                run_cell(suite, evaluator, cell, cell_ctx, store, info)
                log.info("%s: done", key)
                summary["done"].append(key)
            except (RBMError, UnknownNameError) as exc:
                log.error("%s: failed: %s", key, exc)
                summary["failed"][key] = str(exc)
            except Exception as exc:  # noqa: BLE001 - one cell's crash must not take the job's other cells
                log.error("%s: failed:\n%s", key, traceback.format_exc())
                summary["failed"][key] = f"{type(exc).__name__}: {exc}"
        state = "failed" if summary["failed"] else "done"
        error = next(iter(summary["failed"].values()), None)
        write_state(run_dir, job_name, state=state, error=error, done=summary["done"], skipped=summary["skipped"],
                    failed=sorted(summary["failed"]))
    return summary


def slurm_entry(spec_files: list[str], job_name: str) -> dict:
    """What a SLURM job runs (pickled by submitit): the job's cells, then an error if any failed."""
    import submitit

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    _quiet_transformers()
    set_threads()
    env = submitit.JobEnvironment()
    summary = run_job(spec_files, "slurm", job_name, str(env.job_id))
    if summary["failed"]:
        key, error = next(iter(summary["failed"].items()))
        raise RuntimeError(f"{len(summary['failed'])} cell(s) failed, e.g. {key}: {error}")
    return summary


def _quiet_transformers() -> None:
    with contextlib.suppress(ImportError):
        import transformers

        transformers.logging.set_verbosity_error()
