"""Celery tasks of the test bench. They take ids, never model instances, and are sent on commit (runs_send).

The tasks import what they run inside their bodies (HackSoft's rule), the one place in the run path that does: the
run services send these tasks, so a module-level import here would close the loop services → dispatch → tasks →
execution → services."""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def run_execute_task(self, run_id: int) -> str:
    """Run a queued run on this bench host, under run_attempt's retry rules. Acknowledged only when done, so a worker
    killed mid-run leaves the message to be redelivered — and the redelivery finds the run claimed and does nothing
    (the sweep interrupts it). Embedded (no broker: a thread of this process runs it), a busy slot is waited out
    here, since an eager Celery retry would run again at once, ignoring its countdown."""
    from .execution import run_attempt

    while (attempt := run_attempt(run_id, worker=self.request.hostname or "")).retry_in_s is not None:
        if not settings.REFURB_EMBEDDED:
            raise self.retry(countdown=attempt.retry_in_s)
        time.sleep(attempt.retry_in_s)
    return attempt.run.state if attempt.run else "not queued"


@shared_task(ignore_result=True)
def runs_sweep_task() -> int:
    """Interrupt running runs whose worker stopped sending heartbeats (beat schedules this; bench workers also run
    it between heartbeats, and the embedded mode before each run, so a warehouse without beat still sweeps)."""
    from ..services import run_sweep

    return len(run_sweep())
