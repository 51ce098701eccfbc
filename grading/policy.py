"""The grading policy as versioned data. A grade records the version it was given under; changing a threshold
means a new version, so an old certificate still says what its grade meant.

Functional grades (docs/grading.md):
- F-A: every check passes, performance at least `performance.a` of the reference, no thermal throttling;
- F-B: passes with warnings (a high hotspot delta, throttling, mining leftovers, performance from `performance.b`);
- F-C: usable with a stated limitation (a degraded PCIe link, performance from `performance.c`);
- FAIL: any VRAM error, compute mismatch, lost device, failed fan or check that could not run, identity mismatch,
  failed health counters, performance below `performance.c`.
"""

from __future__ import annotations

POLICY = {
    "version": "2026.11-1",
    # Shares of the reference (the fleet median from five cards of the model, else datasheet × efficiency).
    "performance": {"a": 0.95, "b": 0.90, "c": 0.80},
    # Failures a workshop can fix: the card goes to repair rather than failed.
    "repairable": ["thermal_limit", "fan_failed"],
    # AI-readiness: VRAM kept free for the KV cache and activations, and what the runtime itself takes.
    "ai": {"kv_margin": 0.20, "runtime_overhead_gib": 0.5,
           "bytes_per_parameter": {"fp16": 2.0, "int8": 1.0, "int4": 0.5625}},  # int4: 4 bits + group scales
}

# Marketplace conditions for each (functional, cosmetic) pair: what a listing may claim.
MARKETPLACE = {
    # eBay's refurbished conditions for graphics cards; Back Market's grades.
    ("F-A", "A"): {"ebay": "Excellent - Refurbished", "backmarket": "Excellent"},
    ("F-A", "B"): {"ebay": "Very Good - Refurbished", "backmarket": "Good"},
    ("F-A", "C"): {"ebay": "Good - Refurbished", "backmarket": "Fair"},
    ("F-B", "A"): {"ebay": "Very Good - Refurbished", "backmarket": "Good"},
    ("F-B", "B"): {"ebay": "Very Good - Refurbished", "backmarket": "Good"},
    ("F-B", "C"): {"ebay": "Good - Refurbished", "backmarket": "Fair"},
    ("F-C", "A"): {"ebay": "Good - Refurbished", "backmarket": "Fair"},
    ("F-C", "B"): {"ebay": "Good - Refurbished", "backmarket": "Fair"},
    ("F-C", "C"): {"ebay": "Good - Refurbished", "backmarket": "Fair"},
}
NOT_SELLABLE = {"ebay": "For parts or not working", "backmarket": None}


def marketplace_conditions(functional: str, cosmetic: str) -> dict:
    """What a listing may claim. Cosmetic D, a FAIL, or a missing inspection: parts only."""
    return dict(MARKETPLACE.get((functional, cosmetic), NOT_SELLABLE))
