"""Sending a run to be executed: to its bench's Celery queue, or — with no broker configured, the embedded
default — to a background thread of this process running the same task."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection

_local_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _run_locally(run_id: int) -> None:
    from .tasks import execute_run

    try:
        execute_run.apply(args=(run_id,))
    finally:
        connection.close()


def dispatch_run(run_id: int) -> None:
    from .tasks import execute_run

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        execute_run.delay(run_id)
        return
    global _local_pool
    with _lock:
        if _local_pool is None:
            _local_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="refurb-local-run")
    _local_pool.submit(_run_locally, run_id)
