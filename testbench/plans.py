"""Test plans as data: which checks run, in what order, with what parameters.

Sizes and durations are for a real GPU. A simulated card runs the same plan scaled down (memory, matrix sizes,
durations) so that a whole plan takes seconds on a CPU; `plan_for(name, simulated=True)` applies that scaling.
"""

from __future__ import annotations

import copy

PLANS: dict[str, dict] = {
    # ≈ 3 min on a GPU
    "quick": {
        "identity": {},
        "vram": {"coverage": 0.95, "patterns": ("own_address", "moving_inversions", "random_blocks", "retention"),
                 "retention_s": 10.0, "modulo_offsets": 0},
        "compute": {"size": 8192, "iterations": 20, "cycle_s": 15.0},
        "performance": {"copy_mib": 1024, "gemm_size": 8192, "repeats": 5},
        # The short form: the 7B shape at one context, batch 1 and 8, and a shorter training comparison.
        "ai": {"models": ("7B",), "contexts": (1024,), "batches": (1, 8), "train_steps": 10},
        "pcie": {"transfer_mib": 256, "repeats": 5},
        "thermal": {"duration_s": 90.0, "sample_interval_s": 1.0, "load_size": 8192, "require_plateau": False},
        "health": {"load_s": 10.0, "load_size": 4096},
    },
    # ≈ 20 min on a GPU
    "standard": {
        "identity": {},
        "vram": {"coverage": 0.95, "retention_s": 60.0, "modulo_offsets": 20},
        "compute": {"size": 8192, "iterations": 200, "cycle_s": 120.0},
        "performance": {"copy_mib": 2048, "gemm_size": 8192, "repeats": 10},
        "ai": {"train_steps": 20},
        "pcie": {"transfer_mib": 512, "repeats": 10},
        "thermal": {"duration_s": 600.0, "sample_interval_s": 1.0, "load_size": 8192},
        "health": {"load_s": 30.0, "load_size": 4096},
    },
    # ≈ 2 h on a GPU
    "burn-in": {
        "identity": {},
        "vram": {"coverage": 0.95, "retention_s": 300.0, "modulo_offsets": 20},
        "compute": {"size": 8192, "iterations": 2000, "cycle_s": 900.0},
        "performance": {"copy_mib": 2048, "gemm_size": 8192, "repeats": 20},
        "ai": {"train_steps": 50, "repeats": 10},
        "pcie": {"transfer_mib": 512, "repeats": 20},
        "thermal": {"duration_s": 5400.0, "sample_interval_s": 1.0, "load_size": 8192},
        "health": {"load_s": 60.0, "load_size": 4096},
    },
}

# How a simulated card scales a plan: durations shrink by SIM_TIME_FACTOR (its clock runs that much faster, so
# the simulated soak still spans the same simulated minutes), sizes shrink to what a CPU does in moments.
SIM_TIME_FACTOR = 120.0
SIM_SIZES = {
    "vram": {"chunk_mib": 2, "slice_mib": 2},
    "compute": {"size": 192, "iterations": 4},
    # Timed on the simulated card's clock (a model), so one run of each kernel is a steady measurement.
    "performance": {"copy_mib": 2, "gemm_size": 256, "repeats": 3, "min_timed_s": 0.0},
    "pcie": {"transfer_mib": 2, "repeats": 3},
    # Heads 16 times narrower, up to 2 layers timed (the card's clock is a model: more layers add only CPU time),
    # and a GPT of 2 layers of width 64 trained for 4 steps on sequences of 16 tokens (corruption shows at step 0).
    "ai": {"shape_scale": 16, "copy_mib": 2, "repeats": 2, "min_timed_s": 0.0, "max_layers": 2, "train_steps": 4,
           "train_shape": {"layers": 2, "width": 64, "heads": 4, "sequence": 16, "batch": 2, "vocab": 256}},
    "thermal": {"load_size": 128},
    "health": {"load_size": 128},
}
SIM_MIN_SAMPLE_INTERVAL_S = 0.02


def plan_for(name: str, *, simulated: bool = False) -> dict[str, dict]:
    if name not in PLANS:
        raise ValueError(f"unknown plan {name!r}; plans are: {', '.join(PLANS)}")
    plan = copy.deepcopy(PLANS[name])
    if not simulated:
        return plan
    for check, params in plan.items():
        for key in ("retention_s", "cycle_s", "duration_s", "load_s"):
            if key in params:
                params[key] = params[key] / SIM_TIME_FACTOR
        if "sample_interval_s" in params:
            params["sample_interval_s"] = max(SIM_MIN_SAMPLE_INTERVAL_S, params["sample_interval_s"] / SIM_TIME_FACTOR)
        params.update(SIM_SIZES.get(check, {}))
    return plan
