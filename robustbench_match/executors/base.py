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


#: a job state file's fields and their JSON types (a hand-edited file is read as far as it is well-formed)
STATE_TYPES: dict[str, tuple[type, ...]] = {
    "state": (str,), "cells": (list,), "failed": (list,), "executor": (str,), "job": (str,), "job_id": (str, int),
    "host": (str,), "log": (str,), "error": (str,), "pid": (int,), "updated": (str,),
}


def parse_state(data: object) -> dict:
    """A state file's content with every field of the wrong type dropped (cell keys must be strings): the
    file is only a progress note — results.jsonl is the truth — so a bad field is ignored, never a traceback."""
    if not isinstance(data, dict):
        return {}
    out = {k: v for k, v in data.items()
           if k not in STATE_TYPES or (isinstance(v, STATE_TYPES[k]) and not isinstance(v, bool))}
    for key in ("cells", "failed"):
        if key in out:
            out[key] = [c for c in out[key] if isinstance(c, str)]
    return out


def read_state(run_dir: str | os.PathLike, job_name: str) -> dict:
    return read_state_file(state_path(run_dir, job_name))


def read_state_file(path: Path) -> dict:
    try:
        return parse_state(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}
    except (ValueError, OSError):
        return {}


def write_state(run_dir: str | os.PathLike, job_name: str, **fields: Any) -> dict:
    """Update a job's state file (the previous fields kept); ``state`` is submitted, running, done or failed."""
    state = {**read_state(run_dir, job_name), **fields, "job": job_name, "updated": now_iso()}
    atomic_write_text(state_path(run_dir, job_name), dumps(state) + "\n")
    return state


def this_host() -> str:
    return socket.gethostname()
