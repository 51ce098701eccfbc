"""Health: the card's own error counters before and after the work, and its PCIe link under load.

Thresholds follow NVIDIA's DCGM diagnostics: any uncorrectable ECC error fails; retired pages warn at 15 and fail
at 63; a pending or failed row remap fails; more than 80 PCIe replays during the run fail; hardware slowdown,
hardware thermal and power-brake throttling fail. What a GeForce card does not expose is listed as not supported.
"""

from __future__ import annotations

import time

from ..hardware.base import HARDWARE_THROTTLE, THROTTLE_SW_THERMAL, TelemetrySample, supported, throttle_names
from .base import CheckContext, CheckResult
from .findings import Findings
from .limits import PCIE_REPLAYS_FAIL, RETIRED_PAGES_FAIL, RETIRED_PAGES_WARN, source
from .load import GemmLoad

COUNTERS = ("ecc_corrected", "ecc_uncorrected", "retired_pages_sbe", "retired_pages_dbe", "retired_pages_pending",
            "remapped_rows_correctable", "remapped_rows_uncorrectable", "remapped_rows_pending",
            "remapped_rows_failure", "pcie_replay_counter")


def _busy(sample: TelemetrySample) -> bool:
    """Links train down at idle to save power; only samples taken while the card is busy say what it can do."""
    return not supported(sample.utilization_gpu_pct) or sample.utilization_gpu_pct >= 50


def health_check(ctx: CheckContext, *, baseline: TelemetrySample | None = None, load_s: float = 10.0,
                 load_size: int = 4096, sample_interval_s: float = 0.5, declared=None) -> CheckResult:
    """`baseline` is the sample taken when the run began; without one, the check's own start is the baseline.
    `declared` (a ModelReference) gives the link the model is built for: NVML's "max" link is what the card can do
    in this slot, so behind an x1 riser it says x1 too."""
    device = ctx.device
    identity = device.identity()
    before = baseline or device.telemetry()
    load = GemmLoad(device, load_size)
    throttle_seen = 0
    links: list[tuple] = []
    started = time.monotonic()
    next_sample = started
    while time.monotonic() - started < load_s:
        load.burst()
        if time.monotonic() >= next_sample:
            sample = device.telemetry()
            next_sample += sample_interval_s
            if supported(sample.throttle_reasons):
                throttle_seen |= sample.throttle_reasons
            if _busy(sample):
                links.append((sample.pcie_generation, sample.pcie_width))
            ctx.report((time.monotonic() - started) / load_s, "counters under load")
    after = device.telemetry()
    if supported(after.throttle_reasons):
        throttle_seen |= after.throttle_reasons
    if _busy(after) or not links:
        links.append((after.pcie_generation, after.pcie_width))

    found = Findings()
    not_supported = [name for name in COUNTERS if not supported(getattr(after, name))]
    if supported(after.ecc_uncorrected) and after.ecc_uncorrected > 0:
        found.fail("health.ecc_uncorrected", f"{after.ecc_uncorrected} uncorrectable ECC errors",
                   measured=after.ecc_uncorrected, threshold=0)
    if supported(after.ecc_corrected) and supported(before.ecc_corrected) and \
            after.ecc_corrected > before.ecc_corrected:
        delta = after.ecc_corrected - before.ecc_corrected
        found.warn("health.ecc_corrected", f"{delta} corrected ECC errors during the run", measured=delta,
                   threshold=0)
    retired = [v for v in (after.retired_pages_sbe, after.retired_pages_dbe) if supported(v)]
    if retired:
        total = sum(retired)
        if total >= RETIRED_PAGES_FAIL:
            found.fail("health.retired_pages", f"{total} retired pages (limit {RETIRED_PAGES_FAIL})",
                       measured=total, threshold=RETIRED_PAGES_FAIL, source=source("RETIRED_PAGES_FAIL"))
        elif total >= RETIRED_PAGES_WARN:
            found.warn("health.retired_pages", f"{total} retired pages", measured=total,
                       threshold=RETIRED_PAGES_WARN, source=source("RETIRED_PAGES_WARN"))
    if supported(after.retired_pages_pending) and after.retired_pages_pending:
        found.warn("health.retirement_pending", "a page retirement is pending (needs a reset)",
                   measured=after.retired_pages_pending, threshold=0)
    if supported(after.remapped_rows_failure) and after.remapped_rows_failure:
        found.fail("health.row_remap_failed", "row remapping failed (no spare rows left)",
                   measured=after.remapped_rows_failure, threshold=0)
    if supported(after.remapped_rows_pending) and after.remapped_rows_pending:
        found.fail("health.row_remap_pending", "a row remap is pending", measured=after.remapped_rows_pending,
                   threshold=0)
    replays = None
    if supported(after.pcie_replay_counter) and supported(before.pcie_replay_counter):
        replays = after.pcie_replay_counter - before.pcie_replay_counter
        if replays > PCIE_REPLAYS_FAIL:
            found.fail("health.pcie_replays", f"{replays} PCIe replays during the run (limit {PCIE_REPLAYS_FAIL})",
                       measured=replays, threshold=PCIE_REPLAYS_FAIL, source=source("PCIE_REPLAYS_FAIL"))
    if throttle_seen & HARDWARE_THROTTLE:
        names = throttle_names(throttle_seen & HARDWARE_THROTTLE)
        found.fail("health.hardware_throttle", f"critical throttling: {', '.join(names)}", measured=names,
                   threshold="none of hw_slowdown, hw_thermal, hw_power_brake")
    elif throttle_seen & THROTTLE_SW_THERMAL:
        found.warn("health.thermal_throttle", "thermal throttling under load",
                   measured=throttle_names(throttle_seen), threshold="no sw_thermal")

    # The link under load: the slowest generation and width seen while busy.
    gens = [g for g, _ in links if supported(g)]
    widths = [w for _, w in links if supported(w)]
    link = (min(gens) if gens else None, min(widths) if widths else None)
    max_link = (identity.pcie_max_generation, identity.pcie_max_width)
    if declared is not None:
        max_link = (declared.pcie_gen, declared.pcie_lanes)
    degraded = all(supported(v) for v in (*link, *max_link)) and (link[0] < max_link[0] or link[1] < max_link[1])
    if degraded:
        found.warn("health.link_degraded_under_load", f"PCIe link degraded under load: gen{link[0]} x{link[1]} of "
                   f"gen{max_link[0]} x{max_link[1]} (riser, slot or dirty connector)",
                   measured=f"gen{link[0]} x{link[1]}", threshold=f"gen{max_link[0]} x{max_link[1]}")

    metrics = {
        "ecc_uncorrected": after.ecc_uncorrected if supported(after.ecc_uncorrected) else None,
        "ecc_corrected_delta": (after.ecc_corrected - before.ecc_corrected)
        if supported(after.ecc_corrected) and supported(before.ecc_corrected) else None,
        "retired_pages": sum(retired) if retired else None,
        "pcie_replays": replays,
        "pcie_link_under_load": {"generation": link[0], "width": link[1]},
        "pcie_link_max": {"generation": max_link[0] if supported(max_link[0]) else None,
                          "width": max_link[1] if supported(max_link[1]) else None},
        "pcie_link_degraded": degraded,
        "throttle_reasons_seen": throttle_names(throttle_seen),
        "not_supported": not_supported,
    }
    exposed = len(COUNTERS) - len(not_supported)
    return CheckResult.from_findings(
        "health", found, f"counters clean ({exposed} of {len(COUNTERS)} exposed), link gen{link[0]} x{link[1]}",
        metrics, {"before": before.as_dict(), "after": after.as_dict()})
