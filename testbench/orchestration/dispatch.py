"""Sending a queued run to be executed: to its bench's Celery queue, or in the embedded mode (no broker,
settings.REFURB_EMBEDDED) to a background thread of this process running the same task. Either way the run goes
through execution.run_attempt, with the same retry rules."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection

from .tasks import run_execute_task, runs_sweep_task

_local_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def run_execute_here(run_id: int) -> None:
    """The embedded mode's worker: the bench task, run in this thread."""
    try:
        runs_sweep_task.apply()  # no bench host sweeps for this process: its own dead runs are found here
        run_execute_task.apply(args=(run_id,))
    finally:
        connection.close()


def run_send(run_id: int) -> None:
    """Send run `run_id` to be executed: to its bench's queue (routing.py), or to a thread here when embedded."""
    if not settings.REFURB_EMBEDDED:
        run_execute_task.delay(run_id)
        return
    global _local_pool
    with _lock:
        if _local_pool is None:
            _local_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="refurb-local-run")
    _local_pool.submit(run_execute_here, run_id)
