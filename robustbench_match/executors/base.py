"""What executors share: their options, a job's outcome, cell spec files and per-job state files.

A job's state file (``RUN_DIR/jobs/state/JOB.json``) says where it runs and how it ended; each is
written whole (atomically) by one writer at a time — the submitting process, then the job itself — so
many jobs on a shared filesystem never write the same file. ``rbm status`` reads them.
"""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from ..errors import RBMError
from ..results import atomic_write_text, dumps, now_iso

JOBS_DIR = "jobs"


@dataclass
class ExecutorOptions:
    """``--workers``, ``--threads-per-worker`` and ``--executor-opt KEY=VALUE`` of `rbm run`."""

    workers: int = 1
    threads_per_worker: Optional[int] = None
    options: dict[str, Any] = field(default_factory=dict)
    verbose: bool = False


@dataclass
class JobOutcome:
    name: str
    cells: list[str]
    ok: bool
    job_id: Optional[str] = None
    log: Optional[str] = None
    error: Optional[str] = None


def parse_executor_opts(values: list[str]) -> dict[str, Any]:
    """``["slurm_partition=debug", "timeout_min=30"]`` → ``{"slurm_partition": "debug", "timeout_min": 30}``
    (values read as YAML scalars: numbers and true/false become numbers and booleans)."""
    out: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RBMError(f"--executor-opt {item!r}: expected KEY=VALUE (e.g. slurm_partition=debug)")
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        out[key.strip()] = parsed if isinstance(parsed, (int, float, bool, str)) or parsed is None else value
    return out


def jobs_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / JOBS_DIR


def spec_paths(run_dir: Path, job_name: str) -> Path:
    return jobs_dir(run_dir) / "specs" / job_name


def write_job_specs(plan, job, ctx) -> list[Path]:
    """One spec file per cell of the job, numbered in the job's order."""
    from ..cells import to_spec, write_spec

    folder = spec_paths(Path(ctx.output), job.name)
    paths = []
    for i, cell in enumerate(job.cells):
        spec = to_spec(plan.suite, cell, ctx)
        spec["planned"] = now_iso()
        paths.append(write_spec(folder / f"{i:03d}.json", spec))
    return paths


def state_path(run_dir: str | os.PathLike, job_name: str) -> Path:
    return jobs_dir(run_dir) / "state" / f"{job_name}.json"


def read_state(run_dir: str | os.PathLike, job_name: str) -> dict:
    path = state_path(run_dir, job_name)
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def write_state(run_dir: str | os.PathLike, job_name: str, **fields: Any) -> dict:
    """Update a job's state file (the previous fields kept); ``state`` is submitted, running, done or failed."""
    state = {**read_state(run_dir, job_name), **fields, "job": job_name, "updated": now_iso()}
    atomic_write_text(state_path(run_dir, job_name), dumps(state) + "\n")
    return state


def this_host() -> str:
    return socket.gethostname()
