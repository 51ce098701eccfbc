"""What a grade's reasons say to a buyer: what was found, in the past tense and the buyer's terms, rather than the
bench's sentence (written for a technician, sometimes an instruction). Keyed by finding code (docs/findings.md); a
code without buyer words shows the bench's sentence. Only facts the signed reason holds are used."""

from __future__ import annotations

from numbers import Number

from testbench.checks.limits import POWER_LIMIT_LEFTOVER


def _number(value) -> str:
    return f"{value:.0f}" if isinstance(value, Number) else str(value)


def _power_limit(reason: dict) -> str:
    found, threshold = reason.get("measured"), reason.get("threshold")
    default = f" of its {threshold / POWER_LIMIT_LEFTOVER:.0f} W default" if isinstance(threshold, Number) else ""
    restored = "reset to default" in (reason.get("sentence") or "")
    return (f"Its power limit had been lowered to {_number(found)} W{default} for mining; "
            + ("the bench restored the default before testing." if restored else
               "it was tested as it came, with the lower limit."))


BUYER_WORDS = {
    "identity.non_stock_vbios": "It came with non-stock firmware (a mining VBIOS); the tests ran on it as it is.",
    "identity.mining_power_limit": _power_limit,
    "identity.mining_clock_offsets": "Clock offsets left from mining were found set on it.",
    "vram.coverage_short": "A little less of its memory than our plan asks could be tested.",
    "performance.below_reference": "It measured slightly below a new card of its model (within 5 %).",
    "performance.reduced": "It measured below a new card of its model (within 10 %).",
    "pcie.link_degraded": "Its PCIe link trained narrower or slower than the card is built for, in our test slot.",
    "pcie.transfer_slow": "Transfers over its PCIe link were slower than the link should carry.",
    "thermal.gpu_hot": "Its GPU ran warm under a long full load ({measured} °C).",
    "thermal.memory_hot": "Its memory ran warm under a long full load ({measured} °C).",
    "thermal.repaste_needed": "Its hotspot ran well above the core average under load (by {measured} °C).",
    "thermal.throttling": "The driver held its clocks down to keep its temperature target during the long load.",
    "thermal.clock_unsteady": "Its clock wandered more than usual under a steady load.",
    "thermal.no_plateau": "Its temperature was still rising when the load test ended.",
    "health.ecc_corrected": "Its memory corrected a few errors itself during the test (ECC).",
    "health.retired_pages": "The driver had retired {measured} memory pages (spare pages took their place).",
    "health.retirement_pending": "A memory page retirement was waiting for a restart.",
    "health.thermal_throttle": "The driver throttled it for temperature during the test.",
    "health.link_degraded_under_load": "Its PCIe link ran narrower or slower under load than the card is built for.",
}


def buyer_sentence(reason: dict) -> str:
    words = BUYER_WORDS.get(reason.get("code") or "")
    if words is None:
        return reason.get("sentence") or ""
    if callable(words):
        return words(reason)
    return words.format(measured=_number(reason.get("measured")))
