"""Every threshold a check holds a card to, defined once. The checks compare with these; each finding carries the
value it was held to and `source(name)`, so the grader and a certificate read the threshold from the finding and
never repeat the number. The grading policy's own bands (performance grades) are in grading/policy.py.
"""

from __future__ import annotations

# Thermal soak (thermal.py).
GPU_TEMP_WARN_C = 83.0  # where GeForce boost starts pulling clocks
GPU_TEMP_FAIL_C = 92.0
HOTSPOT_DELTA_WARN_C = 20.0  # paste pumped out or pads dried: the die's hottest point runs away from the average
HOTSPOT_DELTA_FAIL_C = 30.0
MEMORY_TEMP_WARN_C = 100.0  # GDDR6X throttles at 110 °C
MEMORY_TEMP_FAIL_C = 106.0
CLOCK_VARIATION_WARN = 0.10  # coefficient of variation of the SM clock under load
PLATEAU_SLOPE_WARN_C_PER_MIN = 1.0  # still climbing this fast at the end: the soak was too short or cooling fails
FAN_ASKED_PCT = 40  # a fan asked for at least this much…
FAN_STILL_PCT = 10  # …that turns slower than this is not spinning
FAN_BLOCKED_RPM = 300  # …and whose tachometer reads below this is jammed (healthy fans idle at 800–1500 RPM)

# PCIe transfers (pcie.py): a pinned DMA copy reaches 70–90% of the raw link rate on a healthy link
# (packet headers, flow control).
PCIE_PASS_RATIO = 0.60
PCIE_FAIL_RATIO = 0.35

# Health counters (health.py).
RETIRED_PAGES_WARN = 15
RETIRED_PAGES_FAIL = 63
PCIE_REPLAYS_FAIL = 80

# Identity (identity.py).
VRAM_TOLERANCE = 0.06  # drivers report a little less than the nominal size (reserved memory)
# A clock drop at the power cap this large is said in the thermal summary: a fact, not a finding (a card at its cap
# is working as designed, but "no thermal throttling" beside a 10 % slower clock reads as a contradiction).
POWER_CAP_DROP_NOTED = 0.05
POWER_LIMIT_LEFTOVER = 0.95  # below this share of the default, someone lowered it (a miner, usually)

# Compute stress (compute.py): the largest relative error a correct GEMM shows against the FP64
# reference, per dtype.
COMPUTE_TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2, "bf16": 8e-2}

# AI workload (ai.py): how far a mixed-precision training run may part from the same steps in FP32 on the same card
# (relative, at any step), and how far two runs of the same precision may part (deterministic algorithms: none).
AI_LOSS_TOLERANCE = {"fp16": 0.02, "bf16": 0.05}
AI_GRAD_NORM_TOLERANCE = {"fp16": 0.10, "bf16": 0.25}
AI_REPEAT_TOLERANCE = 1e-6

# Performance (performance.py): shares of what a good card of the model shows.
PERFORMANCE_PASS_RATIO = 0.90
PERFORMANCE_WARN_RATIO = 0.75


def source(name: str) -> str:
    """Where a threshold is defined, as findings cite it."""
    if name not in globals() or not name.isupper():
        raise KeyError(name)
    return f"testbench/checks/limits.py:{name}"
