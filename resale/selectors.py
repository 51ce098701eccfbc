"""Reads for resale: what is known of a card for sale (grade, certificate, measured figures), in a fixed number of
queries however many cards are asked about."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from grading.models import Certificate, CertificateStatus, Grade
from inventory.models import GpuModel, Unit
from testbench.models import CheckResultRecord

# The figures a matched set is matched on, and the measured figures a listing quotes (the performance check's).
MATCHED_FIGURES = ("memory_bandwidth_gbs", "fp16_tflops")
QUOTED_CHECKS = ("vram", "performance", "thermal")


@dataclass(frozen=True)
class CardFacts:
    unit_id: int
    asset_tag: str
    serial: str
    gpu_model: GpuModel
    board_vendor: str
    board_part_number: str
    lot_id: int
    currency: str  # the lot's, which the cost basis is in
    state: str
    cost_basis: Decimal | None
    functional: str = ""
    cosmetic: str = ""
    marketplace: dict = field(default_factory=dict)
    ai: dict = field(default_factory=dict)
    certificate_id: str = ""  # the valid certificate's public id; "" without one
    vram_passed: bool = False
    figures: dict = field(default_factory=dict)  # performance metrics: memory_bandwidth_gbs, fp16_tflops, …
    peak_gpu_temp_c: float | None = None

    @property
    def matched_figures(self) -> dict[str, float] | None:
        """The figures a set is matched on, or None when either is missing."""
        values = {name: self.figures.get(name) for name in MATCHED_FIGURES}
        return values if all(isinstance(v, (int, float)) and v > 0 for v in values.values()) else None


def cards_facts(unit_ids) -> dict[int, CardFacts]:
    """Facts of each card, by unit id: four queries for any number of cards."""
    ids = list(unit_ids)
    units = Unit.objects.filter(pk__in=ids).select_related("gpu_model", "lot")
    grades = {grade.unit_id: grade for grade in Grade.objects.filter(unit_id__in=ids, is_current=True)}
    certificates = dict(Certificate.objects.filter(unit_id__in=ids, status=CertificateStatus.VALID)
                        .values_list("unit_id", "public_id"))
    results: dict[int, dict[str, tuple[str, dict]]] = {}
    for run_id, name, status, metrics in (CheckResultRecord.objects
                                          .filter(run_id__in=[g.run_id for g in grades.values()],
                                                  name__in=QUOTED_CHECKS)
                                          .values_list("run_id", "name", "status", "metrics")):
        results.setdefault(run_id, {})[name] = (status, metrics or {})
    facts = {}
    for unit in units:
        grade = grades.get(unit.pk)
        checks = results.get(grade.run_id, {}) if grade else {}
        performance = checks.get("performance", ("", {}))[1]
        facts[unit.pk] = CardFacts(
            unit_id=unit.pk, asset_tag=unit.asset_tag, serial=unit.serial, gpu_model=unit.gpu_model,
            board_vendor=unit.board_vendor, board_part_number=unit.board_part_number,
            lot_id=unit.lot_id, currency=unit.lot.currency, state=unit.state, cost_basis=unit.cost_basis,
            functional=grade.functional if grade else "", cosmetic=grade.cosmetic if grade else "",
            marketplace=grade.marketplace if grade else {}, ai=grade.ai if grade else {},
            certificate_id=certificates.get(unit.pk, ""),
            vram_passed=checks.get("vram", ("", {}))[0] == "pass",
            figures={k: v for k, v in performance.items() if k.endswith(("_gbs", "_tflops"))},
            peak_gpu_temp_c=checks.get("thermal", ("", {}))[1].get("peak_gpu_temp_c"),
        )
    return facts
