"""`rbm run-cell SPEC.json [SPEC.json ...]`: run cells from their specs, anywhere.

`rbm run` writes one spec per cell under ``RUN_DIR/jobs/specs/JOB/`` (what to score, where the data
is, the checkpoint or the full training request, the run folder); the local and SLURM executors run
this same command per job. Specs given together share a checkpoint: it is trained or loaded once.
"""
from __future__ import annotations

import argparse

HELP = "run one cell (or one job's cells) from the JSON spec(s) that `rbm run` writes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC.json", help="cell spec files (RUN_DIR/jobs/specs/JOB/*.json)")
    parser.add_argument("--job", default=None, help="job name for its lock and state file (default: the spec's folder)")
    parser.add_argument("--executor-kind", default="run-cell", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: $RBM_THREADS, "
                                                                   "$SLURM_CPUS_PER_TASK, else torch's)")


def run(args) -> int:
    from ..errors import RBMError
    from ..executors.worker import run_job, set_threads

    if args.threads is not None and args.threads < 1:
        raise RBMError(f"--threads {args.threads}: must be at least 1")
    set_threads(args.threads)
    summary = run_job(args.specs, args.executor_kind, args.job)
    if summary["failed"]:
        key, error = next(iter(summary["failed"].items()))
        raise RBMError(f"{len(summary['failed'])} of {len(args.specs)} cell(s) failed, e.g. {key}: {error}")
    return 0
