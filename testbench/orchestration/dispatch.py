"""Sending a queued run to be executed: to its bench's Celery queue, or in the embedded mode (no broker,
settings.REFURB_EMBEDDED) to a background thread of this process. Both end in execution.run_attempt, with the same
retry rules."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection

from .tasks import run_execute_task

_local_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def run_execute_here(run_id: int) -> None:
    """The embedded mode's worker: attempts the run until it is executed or gone, waiting out a busy slot (an
    eager Celery retry would re-run at once, ignoring its countdown)."""
    # Imported here for the reason tasks.py gives: the run services import this module to send runs.
    from ..services import run_sweep
    from .execution import run_attempt

    try:
        run_sweep()  # no bench host sweeps for this process: its own dead runs are found here
        while (attempt := run_attempt(run_id, worker=f"local@{socket.gethostname()}")).retry_in_s is not None:
            time.sleep(attempt.retry_in_s)
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
