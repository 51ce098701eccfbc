"""Thermal soak: sustained load while the sensors are sampled (1 Hz on a real card), then a verdict on how the card
holds heat: peak temperatures, hotspot-to-core delta, throttling, clock stability, fans, power, and whether the
temperature reached a plateau. The samples are returned as columns (one list per sensor) for storage and charts.
"""

from __future__ import annotations

import statistics
import time

from ..hardware.base import (
    THROTTLE_HW_SLOWDOWN,
    THROTTLE_HW_THERMAL,
    THROTTLE_SW_POWER_CAP,
    THROTTLE_SW_THERMAL,
    TelemetrySample,
    supported,
    throttle_names,
)
from . import limits as thresholds
from .base import CheckContext, CheckResult
from .findings import Findings
from .limits import (
    CLOCK_VARIATION_WARN,
    FAN_ASKED_PCT,
    FAN_BLOCKED_RPM,
    FAN_STILL_PCT,
    PLATEAU_SLOPE_WARN_C_PER_MIN,
    POWER_CAP_DROP_NOTED,
    source,
)
from .load import GemmLoad

COLUMNS = ("time", "gpu_temp_c", "hotspot_temp_c", "memory_temp_c", "power_w", "sm_clock_mhz", "fan_speed_pct",
           "fan_target_pct", "fan_rpm", "utilization_gpu_pct", "throttle_reasons")


def _columns(samples: list[TelemetrySample]) -> dict[str, list]:
    def value(sample, name):
        if name in ("fan_speed_pct", "fan_target_pct"):
            fans = sample.fan_speeds_pct if name == "fan_speed_pct" else sample.fan_targets_pct
            known = [f for f in fans if supported(f)] if supported(fans) else []  # one fan may refuse
            return (min(known) if name == "fan_speed_pct" else max(known)) if known else None
        v = getattr(sample, name)
        return v if supported(v) else None

    return {name: [value(s, name) for s in samples] for name in COLUMNS}


def _slope_per_minute(times: list[float], values: list[float]) -> float:
    if len(values) < 3:
        return 0.0
    mean_t, mean_v = statistics.fmean(times), statistics.fmean(values)
    var = sum((t - mean_t) ** 2 for t in times)
    return 60.0 * sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / var if var else 0.0


def thermal_check(ctx: CheckContext, *, duration_s: float = 300.0, sample_interval_s: float = 1.0,
                  load_size: int = 8192, require_plateau: bool = True) -> CheckResult:
    """`require_plateau`: warn when the temperature still climbs at the end (off for soaks too short to settle)."""
    device = ctx.device
    load = GemmLoad(device, load_size)
    samples: list[TelemetrySample] = [device.telemetry()]
    started = time.monotonic()
    next_sample = started + sample_interval_s
    while (elapsed := time.monotonic() - started) < duration_s:
        load.burst()
        if time.monotonic() >= next_sample:
            samples.append(device.telemetry())
            next_sample += sample_interval_s
            ctx.report(elapsed / duration_s, f"soak {elapsed:.0f}/{duration_s:.0f} s")
    samples.append(device.telemetry())
    columns = _columns(samples)
    loaded = [i for i, u in enumerate(columns["utilization_gpu_pct"]) if u is None or u >= 50]

    def series(name, indexes=None):
        return [columns[name][i] for i in (indexes if indexes is not None else range(len(samples)))
                if columns[name][i] is not None]

    found = Findings()

    def limit(code: str, value, warn_at: str, fail_at: str, text: str) -> None:
        warn_c, fail_c = getattr(thresholds, warn_at), getattr(thresholds, fail_at)
        if value is not None and value >= fail_c:
            found.fail(code, text.format(value), measured=value, threshold=fail_c, source=source(fail_at))
        elif value is not None and value >= warn_c:
            found.warn(code, text.format(value), measured=value, threshold=warn_c, source=source(warn_at))

    gpu = series("gpu_temp_c")
    peak = max(gpu) if gpu else None
    limit("thermal.gpu_hot", peak, "GPU_TEMP_WARN_C", "GPU_TEMP_FAIL_C", "GPU reached {:.0f} °C")
    deltas = [h - g for h, g in zip(columns["hotspot_temp_c"], columns["gpu_temp_c"], strict=True)
              if h is not None and g is not None]
    delta = max(deltas) if deltas else None
    limit("thermal.repaste_needed", delta, "HOTSPOT_DELTA_WARN_C", "HOTSPOT_DELTA_FAIL_C",
          "hotspot {:.0f} °C above the core")
    memory = series("memory_temp_c")
    memory_peak = max(memory) if memory else None
    limit("thermal.memory_hot", memory_peak, "MEMORY_TEMP_WARN_C", "MEMORY_TEMP_FAIL_C",
          "memory junction reached {:.0f} °C")
    throttle = 0
    for i in loaded:  # reasons while busy: "idle" at the first sample is not news
        throttle |= columns["throttle_reasons"][i] or 0
    if throttle & (THROTTLE_HW_SLOWDOWN | THROTTLE_HW_THERMAL):
        found.fail("thermal.hardware_protection",
                   f"hardware thermal protection engaged ({', '.join(throttle_names(throttle))})",
                   measured=throttle_names(throttle), threshold="no hw_slowdown or hw_thermal")
    elif throttle & THROTTLE_SW_THERMAL:
        found.warn("thermal.throttling", "thermal throttling", measured=throttle_names(throttle),
                   threshold="no sw_thermal")
    # Fans: none may sit still while the card asks for air.
    stuck = [i for i, (speed, target) in enumerate(zip(columns["fan_speed_pct"], columns["fan_target_pct"],
                                                      strict=True))
             if speed is not None and target is not None and target >= FAN_ASKED_PCT and speed < FAN_STILL_PCT]
    if stuck:
        speed, target = columns["fan_speed_pct"][stuck[0]], columns["fan_target_pct"][stuck[0]]
        found.fail("thermal.fan_not_spinning", f"a fan stays at {speed}% while {target}% is asked",
                   measured={"speed_pct": speed, "target_pct": target},
                   threshold={"speed_pct": FAN_STILL_PCT, "when_target_pct": FAN_ASKED_PCT},
                   source=source("FAN_STILL_PCT"))
    else:  # turning by its duty, yet the tachometer says it barely moves: jammed (where the driver has an RPM)
        jammed = [i for i, (rpm, target) in enumerate(zip(columns["fan_rpm"], columns["fan_target_pct"], strict=True))
                  if rpm is not None and target is not None and target >= FAN_ASKED_PCT and rpm < FAN_BLOCKED_RPM]
        if jammed:
            rpm, target = columns["fan_rpm"][jammed[0]], columns["fan_target_pct"][jammed[0]]
            found.fail("thermal.fan_blocked", f"the fan turns at {rpm} RPM while {target}% is asked: blocked or "
                       "seized", measured={"rpm": rpm, "target_pct": target},
                       threshold={"rpm": FAN_BLOCKED_RPM, "when_target_pct": FAN_ASKED_PCT},
                       source=source("FAN_BLOCKED_RPM"))
    clocks = series("sm_clock_mhz", loaded)
    variation = statistics.pstdev(clocks) / statistics.fmean(clocks) if len(clocks) > 2 else 0.0
    if variation > CLOCK_VARIATION_WARN:
        found.warn("thermal.clock_unsteady", f"SM clock unsteady under load (±{variation:.0%})",
                   measured=round(variation, 4), threshold=CLOCK_VARIATION_WARN, source=source("CLOCK_VARIATION_WARN"))
    tail = max(3, len(samples) // 4)
    end = [(t, v) for t, v in zip(columns["time"][-tail:], columns["gpu_temp_c"][-tail:], strict=True) if v is not None]
    slope = _slope_per_minute([t for t, _ in end], [v for _, v in end])
    if require_plateau and slope > PLATEAU_SLOPE_WARN_C_PER_MIN:
        found.warn("thermal.no_plateau", f"temperature still rising at the end ({slope:.1f} °C/min): no plateau",
                   measured=round(slope, 2), threshold=PLATEAU_SLOPE_WARN_C_PER_MIN,
                   source=source("PLATEAU_SLOPE_WARN_C_PER_MIN"))
    power = series("power_w", loaded)
    limits = [s.power_limit_w for s in samples if supported(s.power_limit_w)]
    drop = 1 - min(clocks) / max(clocks) if clocks and max(clocks) > 0 else 0.0

    metrics = {
        "duration_s": round(time.monotonic() - started, 2), "samples": len(samples),
        "peak_gpu_temp_c": peak, "peak_hotspot_delta_c": round(delta, 1) if delta is not None else None,
        "peak_memory_temp_c": memory_peak, "throttle_reasons_seen": throttle_names(throttle),
        "sm_clock_mean_mhz": round(statistics.fmean(clocks)) if clocks else None,
        "sm_clock_variation": round(variation, 4), "sm_clock_drop": round(drop, 4),
        "power_mean_w": round(statistics.fmean(power), 1) if power else None,
        "power_limit_w": limits[-1] if limits else None,
        "end_slope_c_per_min": round(slope, 2),
    }
    settled = "plateau reached" if slope <= PLATEAU_SLOPE_WARN_C_PER_MIN else "still warming (short soak)"
    # Say what held the clocks, not only what did not: a card at its power cap runs slower without being hot.
    if throttle & (THROTTLE_HW_SLOWDOWN | THROTTLE_HW_THERMAL | THROTTLE_SW_THERMAL):
        held = "thermal throttling"
    else:
        held = "no thermal throttling"
    if throttle & THROTTLE_SW_POWER_CAP and drop >= POWER_CAP_DROP_NOTED:
        held += f"; clocks {drop:.0%} lower at the power cap"
    return CheckResult.from_findings(
        "thermal", found, f"peak {peak:.0f} °C, hotspot +{delta or 0:.0f} °C, {settled}, {held}",
        metrics, {"telemetry": columns})
