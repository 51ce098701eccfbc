"""Test bench services: every write to runs, benches and slots goes through these functions, whatever the face
(bench command, Celery task, API, admin)."""

from .benches import (
    BenchRefused,
    bench_for_host,
    bench_heartbeat,
    bench_register,
    slot_seat,
    unit_for_device,
    unit_untestable_reason,
)
from .runs import (
    RunNotQueued,
    SlotBusy,
    run_cancel,
    run_cancel_request,
    run_create,
    run_finish,
    run_heartbeat,
    run_identity_save,
    run_interrupt,
    run_start,
    run_sweep,
    runs_queue,
    runs_send,
)

__all__ = [
    "BenchRefused",
    "RunNotQueued",
    "SlotBusy",
    "bench_for_host",
    "bench_heartbeat",
    "bench_register",
    "run_cancel",
    "run_cancel_request",
    "run_create",
    "run_finish",
    "run_heartbeat",
    "run_identity_save",
    "run_interrupt",
    "run_start",
    "run_sweep",
    "runs_send",
    "runs_queue",
    "slot_seat",
    "unit_for_device",
    "unit_untestable_reason",
]
