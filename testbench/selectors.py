"""Reads for the test bench."""

from __future__ import annotations

import statistics

from .choices import RESULT_RUN_STATES, RunState, Verdict
from .models import CheckResultRecord, TestRun

FLEET_METRICS = ("memory_bandwidth_gbs", "fp32_tflops", "fp16_tflops", "bf16_tflops")
FLEET_WINDOW = 200  # the latest cards of a model: the baseline follows the fleet as it is now


def fleet_baseline(*, gpu_model_id: int, simulated: bool) -> tuple[dict[str, float], int]:
    """The median of each performance metric over the latest healthy result of each card of a model, and how many
    cards that is. Simulated and real benches keep separate fleets; a card that failed performance is not a
    baseline for others."""
    rows = (CheckResultRecord.objects
            .filter(name="performance", status__in=[Verdict.PASS, Verdict.WARN],
                    run__unit__gpu_model_id=gpu_model_id, run__bench__simulated=simulated)
            .order_by("-run__finished_at", "-id")
            .values_list("run__unit_id", "metrics")[:FLEET_WINDOW * 4])
    latest: dict[int, dict] = {}
    for unit_id, metrics in rows:
        if unit_id not in latest and len(latest) < FLEET_WINDOW:
            latest[unit_id] = metrics
    medians = {}
    for key in FLEET_METRICS:
        values = [m[key] for m in latest.values() if isinstance(m.get(key), int | float)]
        if values:
            medians[key] = statistics.median(values)
    return medians, len(latest)


def unit_run_record(unit_id: int) -> dict:
    """What the lifecycle needs to know of a card's runs (inventory.lifecycle.CardRecord): whether one is running,
    and when the newest one with results finished."""
    runs = TestRun.objects.filter(unit_id=unit_id)
    return {
        "running_run": runs.filter(state=RunState.RUNNING).exists(),
        "run_finished_at": (runs.filter(state__in=RESULT_RUN_STATES, finished_at__isnull=False)
                            .order_by("-finished_at").values_list("finished_at", flat=True).first()),
    }
