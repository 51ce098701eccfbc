"""Reads for the test bench."""

from __future__ import annotations

import statistics

from .checks.findings import MAY_BE_THE_BENCH
from .choices import RESULT_RUN_STATES, RunState, Verdict
from .models import CheckResultRecord, TestRun

FLEET_METRICS = ("memory_bandwidth_gbs", "fp32_tflops", "fp16_tflops", "bf16_tflops")
FLEET_WINDOW = 200  # the latest cards of a model: the baseline follows the fleet as it is now
SLOT_FLAG_CARDS = 2  # a slot where this many different cards showed a finding that may be the bench's is flagged


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


def run_results(run: TestRun) -> list[dict]:
    """A run's check results in run order, as the plain dicts grading and certificates read (the fields of
    CheckResult.as_dict(); `findings` is None for results recorded before checks reported findings)."""
    return list(run.results.order_by("position").values("name", "status", "summary", "metrics", "evidence",
                                                         "duration_s", "findings"))


def codes_found_in_other_slots(run: TestRun, *, since=None) -> frozenset[str]:
    """The finding codes earlier runs of this card found in slots other than `run`'s (finished after `since`, a
    reset of the card, if given): what confirms that a finding follows the card, not the slot. Empty where `run`
    has no slot."""
    if run.slot_id is None:
        return frozenset()
    earlier = (CheckResultRecord.objects
               .filter(run__unit_id=run.unit_id, run__slot__isnull=False, run__state__in=RESULT_RUN_STATES)
               .exclude(run__slot_id=run.slot_id).exclude(run_id=run.pk))
    if since is not None:
        earlier = earlier.filter(run__finished_at__gt=since)
    return frozenset(f["code"] for findings in earlier.values_list("findings", flat=True) for f in findings or ())


def slot_strikes(slot_ids) -> dict[int, int]:
    """Per slot, how many different cards showed a finding there that may be the bench's fault (a degraded or slow
    link): strikes against the slot. SLOT_FLAG_CARDS or more flags it."""
    cards: dict[int, set[int]] = {}
    rows = (CheckResultRecord.objects.filter(run__slot_id__in=list(slot_ids), name__in=("pcie", "health"))
            .values_list("run__slot_id", "run__unit_id", "findings"))
    for slot_id, unit_id, findings in rows:
        if any(f["code"] in MAY_BE_THE_BENCH for f in findings or ()):
            cards.setdefault(slot_id, set()).add(unit_id)
    return {slot_id: len(units) for slot_id, units in cards.items()}


def unit_run_record(unit_id: int) -> dict:
    """What the lifecycle needs to know of a card's runs (inventory.lifecycle.CardRecord): whether one is running,
    and when the newest one with results finished."""
    runs = TestRun.objects.filter(unit_id=unit_id)
    return {
        "running_run": runs.filter(state=RunState.RUNNING).exists(),
        "run_finished_at": (runs.filter(state__in=RESULT_RUN_STATES, finished_at__isnull=False)
                            .order_by("-finished_at").values_list("finished_at", flat=True).first()),
    }
