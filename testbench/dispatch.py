"""Sending a run to be executed: to its bench's Celery queue, or — with no broker configured, the embedded
default — to a background thread of this process running the same task."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection

_local_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _run_locally(run_id: int) -> None:
    """The embedded default's worker: the same run_execute the Celery task calls, with the task's retry on a busy
    slot as a wait (an eager Celery retry would re-run at once, ignoring its countdown)."""
    from .execution import run_execute
    from .services import RunNotQueued, SlotBusy, run_sweep

    try:
        run_sweep()  # no bench host sweeps for this process: its own dead runs are found here
        while True:
            try:
                run_execute(run_id, worker=f"local@{socket.gethostname()}")
                return
            except SlotBusy:
                time.sleep(settings.REFURB_SLOT_RETRY_S)
            except RunNotQueued:
                return
    finally:
        connection.close()


def dispatch_run(run_id: int) -> None:
    from .tasks import run_execute_task

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        run_execute_task.delay(run_id)
        return
    global _local_pool
    with _lock:
        if _local_pool is None:
            _local_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="refurb-local-run")
    _local_pool.submit(_run_locally, run_id)
