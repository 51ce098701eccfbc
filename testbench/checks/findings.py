"""Findings: what a check found, as a stable code from one registry, with the measured value, the threshold it was
held to and where that threshold is defined, and the sentence for people.

The grader decides grades from the codes alone (grading/policy.py maps each code to a grade effect); the sentences
are for people and may be reworded freely. A code, once published, keeps its meaning: certificates carry them.
docs/findings.md lists every code; tests/testbench/test_findings.py holds the registry, the docs and the fault
profiles to each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

FAIL, WARN = "fail", "warn"


@dataclass(frozen=True)
class FindingKind:
    code: str
    meaning: str
    # As often the bench's fault (the slot, the riser, a dirty connector) as the card's: another slot must confirm
    # it before it counts against the card, and a slot where several cards show it is flagged.
    may_be_the_bench: bool = False


# Findings that may be the bench's fault (FindingKind.may_be_the_bench).
MAY_BE_THE_BENCH = frozenset({"pcie.link_degraded", "pcie.transfer_slow", "health.link_degraded_under_load"})


def _kinds(*entries: tuple[str, str]) -> dict[str, FindingKind]:
    return {code: FindingKind(code, meaning, code in MAY_BE_THE_BENCH) for code, meaning in entries}


CODES: dict[str, FindingKind] = _kinds(
    ("device.lost", "the card stopped answering during a check (fell off the bus, a CUDA error mid-kernel)"),
    ("check.error", "a check could not start or finish for a reason other than a lost card"),
    ("identity.model_mismatch", "the card names itself as another model than the one declared"),
    ("identity.pci_id_mismatch", "the card's PCI id is not one the declared model ships with"),
    ("identity.memory_size_mismatch", "the card has another amount of memory than the declared model"),
    ("identity.not_in_catalog", "the card's model is not in the catalog: tested without datasheet figures"),
    ("identity.non_stock_vbios", "the VBIOS is not a stock version of the declared model (mining firmware)"),
    ("identity.mining_power_limit", "the power limit was left far below the default (a miner's setting)"),
    ("identity.mining_clock_offsets", "core or memory clock offsets were left set (a miner's overclock)"),
    ("vram.bad_cell", "one memory cell holds a wrong bit"),
    ("vram.stuck_data_line", "one data bit is wrong at many addresses: a data line or its pin"),
    ("vram.address_fault", "many bits wrong per word: words land at the wrong address (address line, bank)"),
    ("vram.weak_cells", "cells lose their charge when left idle (bit fade), seen only by the retention phase"),
    ("vram.scattered_errors", "bit errors at several addresses that fit none of the patterns above"),
    ("vram.bad_reads", "words read wrong once and right on the re-read: the cells hold, a read went wrong"),
    ("vram.coverage_short", "less of the free memory could be tested than the plan asks"),
    ("compute.sdc", "matrix products gave wrong results (silent data corruption)"),
    ("ai.nonfinite", "a training run went to NaN or infinity (the loss or a gradient)"),
    ("ai.training_divergence", "mixed-precision training parted from the same steps in FP32 beyond the tolerance"),
    ("ai.nondeterministic", "two training runs of the same seeded steps gave different results"),
    ("performance.no_reference", "no reference for the model yet (not in the catalog, too few cards tested): "
                                 "measured and recorded without a verdict"),
    ("performance.below_expected", "memory bandwidth or a GEMM rate below what a good card of the model shows"),
    ("pcie.corrupted_transfer", "words came back different after a round trip over the link"),
    ("pcie.transfer_slow", "host transfers carry less than the link they trained at should"),
    ("pcie.link_degraded", "the link trained narrower or slower than the card is built for: the slot, the riser or "
                           "the card's edge connector, so another slot must confirm it before it counts"),
    ("thermal.gpu_hot", "the GPU core reached a high temperature under load"),
    ("thermal.repaste_needed", "the hotspot runs far above the core average: paste pumped out or pads dried"),
    ("thermal.memory_hot", "the memory junction reached a high temperature under load"),
    ("thermal.hardware_protection", "the card's own thermal protection engaged (hardware slowdown)"),
    ("thermal.throttling", "the driver pulled clocks to hold the temperature target"),
    ("thermal.fan_not_spinning", "a fan stays still while the card asks for air"),
    ("thermal.fan_blocked", "a fan turns at a crawl (its tachometer's RPM) while the card asks for air: jammed"),
    ("thermal.clock_unsteady", "the SM clock wandered under steady load"),
    ("thermal.no_plateau", "the temperature still climbed at the end of the soak"),
    ("health.ecc_uncorrected", "uncorrectable ECC errors"),
    ("health.ecc_corrected", "corrected ECC errors during the run"),
    ("health.retired_pages", "memory pages retired by the driver"),
    ("health.retirement_pending", "a page retirement waits for a reset"),
    ("health.row_remap_failed", "row remapping failed: no spare rows left"),
    ("health.row_remap_pending", "a row remap waits for a reset"),
    ("health.pcie_replays", "many PCIe replays during the run (link errors)"),
    ("health.hardware_throttle", "hardware slowdown, thermal or power-brake throttling during the run"),
    ("health.thermal_throttle", "the driver's thermal throttling during the run"),
    ("health.link_degraded_under_load", "the PCIe link ran narrower or slower under load than it trained at"),
)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # FAIL or WARN: what the check made of it (the grader decides the grade from the code)
    sentence: str
    measured: Any = None
    threshold: Any = None
    source: str = ""  # where the threshold is defined, e.g. "testbench.limits:THERMAL.gpu_temp_c"

    def __post_init__(self):
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}")
        if self.severity not in (FAIL, WARN):
            raise ValueError(f"severity must be {FAIL!r} or {WARN!r}, not {self.severity!r}")

    def as_dict(self) -> dict:
        return asdict(self)


class Findings(list):
    """A check's findings as it goes: `fail(...)` and `warn(...)` add one; `summary()` joins their sentences, fails
    first, as the check's one-line summary."""

    def fail(self, code: str, sentence: str, **fields) -> None:
        self.append(Finding(code, FAIL, sentence, **fields))

    def warn(self, code: str, sentence: str, **fields) -> None:
        self.append(Finding(code, WARN, sentence, **fields))

    @property
    def failed(self) -> bool:
        return any(f.severity == FAIL for f in self)

    def summary(self) -> str:
        return "; ".join([f.sentence for f in self if f.severity == FAIL] + [f.sentence for f in self
                                                                             if f.severity == WARN])
