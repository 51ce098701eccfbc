"""The grading policy as versioned data. A grade records the version it was given under; changing a threshold
means a new version, so an old certificate still says what its grade meant.

Functional grades (docs/grading.md):
- F-A: every check passes, performance at least `performance.a` of the reference, no thermal throttling;
- F-B: passes with warnings (a high hotspot delta, throttling, mining leftovers, performance from `performance.b`);
- F-C: usable with a stated limitation (a degraded PCIe link, performance from `performance.c`);
- FAIL: any VRAM error, compute mismatch, lost device, failed fan or check that could not run, identity mismatch,
  failed health counters, performance below `performance.c`.
Which findings do what is the data below (`repairable`, `limitations`, `consequences_of_heat`); a finding the
policy does not name takes the severity its check gave it (fail: FAIL, warn: F-B).
"""

from __future__ import annotations

POLICY = {
    # 2026.12-2: grades read the checks' finding codes (docs/findings.md); the grades themselves are those of -1.
    # 2026.12-3: the same grades; AI-readiness adds what the `ai` check measured (decode, training, context), and the
    # ai check's findings (ai.nonfinite, ai.training_divergence, ai.nondeterministic) fail a card; a fan whose
    # tachometer shows it jammed (thermal.fan_blocked) goes to repair as a dead one does; bad reads are F-B.
    "version": "2026.12-3",
    # Shares of the reference (the fleet median from five cards of the model, else datasheet × efficiency).
    "performance": {"a": 0.95, "b": 0.90, "c": 0.80},
    # Failures a workshop can fix: the card goes to repair rather than failed, and the reason names the repair.
    "repairable": ["thermal.fan_not_spinning", "thermal.fan_blocked", "thermal.gpu_hot", "thermal.repaste_needed",
                   "thermal.memory_hot", "thermal.hardware_protection"],
    "repairs": {"thermal.fan_not_spinning": "fan replacement", "thermal.fan_blocked": "free or replace the fan",
                "thermal.gpu_hot": "repaste and new pads",
                "thermal.repaste_needed": "repaste and new pads", "thermal.memory_hot": "new memory pads",
                "thermal.hardware_protection": "repaste and new pads"},
    # Warnings that are a stated limitation for the buyer (F-C) rather than a blemish (F-B).
    "limitations": ["pcie.link_degraded"],
    # Findings as often the slot's fault as the card's (testbench.checks.findings.MAY_BE_THE_BENCH): until a run in
    # another slot finds the same, the card goes back to the queue to be seated elsewhere ("retest").
    "retest_in_another_slot": ["pcie.link_degraded", "pcie.transfer_slow", "health.link_degraded_under_load"],
    # What overheating causes, so not a second fault when a thermal failure is named.
    "consequences_of_heat": ["health.hardware_throttle", "health.thermal_throttle", "thermal.throttling",
                             "thermal.clock_unsteady", "thermal.no_plateau"],
    # AI-readiness: VRAM kept free for the KV cache and activations, and what the runtime itself takes.
    "ai": {"kv_margin": 0.20, "runtime_overhead_gib": 0.5,
           "bytes_per_parameter": {"fp16": 2.0, "int8": 1.0, "int4": 0.5625}},  # int4: 4 bits + group scales
}

# --- Marketplace conditions: what a listing may claim, per channel, as the channel's own condition id and name ------
# A card is sellable with a functional grade F-A, F-B or F-C and an inspection graded A, B or C; anything else (a
# FAIL, cosmetic D, never inspected) is for parts only.
#
# eBay (condition ids of its Trading and Inventory APIs): 2010–2030 ("Excellent/Very Good/Good - Refurbished") are
# restricted to sellers approved into the eBay Refurbished programme, so they apply only with the setting
# REFURB_EBAY_REFURBISHED_PROGRAMME=1. Everyone else lists as 2500 "Seller refurbished" where the site and category
# still offer it (REFURB_EBAY_SELLER_REFURBISHED, on by default), else 3000 "Used"; parts as 7000.
EBAY = {
    2010: ("Excellent - Refurbished", "EXCELLENT_REFURBISHED"),
    2020: ("Very Good - Refurbished", "VERY_GOOD_REFURBISHED"),
    2030: ("Good - Refurbished", "GOOD_REFURBISHED"),
    2500: ("Seller refurbished", "SELLER_REFURBISHED"),
    3000: ("Used", "USED_EXCELLENT"),
    7000: ("For parts or not working", "FOR_PARTS_OR_NOT_WORKING"),
}
EBAY_RESTRICTED = frozenset({2010, 2020, 2030})
# Google Merchant Center's `condition` attribute; Back Market names its grades (no public numeric codes).
GOOGLE_SHOPPING = {"refurbished": "Refurbished", "used": "Used"}

MARKETPLACE = {
    # (functional, cosmetic): eBay in the programme, eBay outside it (seller refurbished allowed), Back Market,
    # Google Shopping.
    ("F-A", "A"): (2010, 2500, "Excellent", "refurbished"),
    ("F-A", "B"): (2020, 2500, "Good", "refurbished"),
    ("F-A", "C"): (2030, 3000, "Fair", "used"),
    ("F-B", "A"): (2020, 2500, "Good", "refurbished"),
    ("F-B", "B"): (2020, 2500, "Good", "refurbished"),
    ("F-B", "C"): (2030, 3000, "Fair", "used"),
    # A stated limitation (a degraded link, reduced performance) is not refurbished to the buyer's expectation.
    ("F-C", "A"): (2030, 3000, "Fair", "used"),
    ("F-C", "B"): (2030, 3000, "Fair", "used"),
    ("F-C", "C"): (2030, 3000, "Fair", "used"),
}
PARTS_ONLY = (7000, 7000, None, None)


def _ebay(condition_id: int) -> dict:
    name, enum = EBAY[condition_id]
    return {"id": condition_id, "name": name, "enum": enum}


def marketplace_conditions(functional: str, cosmetic: str, *, ebay_refurbished_programme: bool = False,
                           ebay_seller_refurbished: bool = True) -> dict:
    """What a listing may claim on each channel: {"ebay": {id, name, enum}, "backmarket": {id, name} or None,
    "google_shopping": {id, name} or None}. Cosmetic D, a FAIL, or a missing inspection: parts only."""
    programme, outside, backmarket, google = MARKETPLACE.get((functional, cosmetic), PARTS_ONLY)
    ebay = programme if ebay_refurbished_programme else outside
    if ebay == 2500 and not ebay_seller_refurbished:
        ebay = 3000
    return {
        "ebay": _ebay(ebay),
        "backmarket": {"id": None, "name": backmarket} if backmarket else None,
        "google_shopping": {"id": google, "name": GOOGLE_SHOPPING[google]} if google else None,
    }


def condition_label(condition) -> str:
    """A channel condition for people: "Seller refurbished (2500)"; a grade recorded before conditions carried ids
    (policy 2026.11-1) was stored as the name alone."""
    if not condition:
        return ""
    if isinstance(condition, str):
        return condition
    shown = condition.get("id") is not None and str(condition["id"]).lower() != condition["name"].lower()
    return f"{condition['name']} ({condition['id']})" if shown else condition["name"]
