"""A degraded PCIe link is as often the riser, the slot or a dirty connector as the card: the first time, the card
goes back to the queue to be seated in another slot, and the slot gets a strike; only a second slot's confirmation
counts against the card."""

import pytest

from grading.grader import grade_results
from grading.services import unit_grade
from inventory.choices import UnitState
from inventory.models import UnitEvent
from inventory.services import inspection_record
from testbench.models import Bench, BenchSlot
from testbench.reference import catalog_references
from testbench.selectors import SLOT_FLAG_CARDS, slot_strikes
from testbench.services import run_create, run_finish, run_start, slot_seat

RTX_3080 = catalog_references()["geforce-rtx-3080"]


@pytest.fixture
def slots(db):
    bench = Bench.objects.create(name="retest-bench", simulated=True)
    return [BenchSlot.objects.create(bench=bench, index=i, name=f"slot {i}") for i in range(3)]


def seat_and_test(slot, unit, report):
    slot_seat(slot=slot, unit=unit)
    run = run_start(run=run_create(unit=unit, plan="quick", slot=slot), identity=report.identity, software={})
    run_finish(run=run, report=report)
    unit.refresh_from_db()
    return unit


def a_card(make_units, lot="RS1"):
    (unit,) = make_units(1, lot=lot)
    inspection_record(unit=unit, cosmetic_grade="A", fan_condition="ok")
    return unit


@pytest.mark.django_db
def test_the_first_degraded_link_sends_the_card_to_another_slot(make_units, reports, slots):
    unit = seat_and_test(slots[0], a_card(make_units), reports["pcie_degraded"])
    grade = unit_grade(unit=unit, actor_label="test")
    unit.refresh_from_db()
    slots[0].refresh_from_db()
    assert grade.disposition == "retest" and unit.state == UnitState.QUEUED
    assert slots[0].unit_id is None  # out of the suspect slot: a technician seats it elsewhere
    event = UnitEvent.objects.filter(unit=unit).latest("id")
    assert event.to_state == UnitState.QUEUED and event.reason.startswith("retest in another slot (slot ")
    assert "link gen1 x1 where the card is built for gen4 x16" in event.reason
    assert event.payload["slot"] == slots[0].pk and "pcie.link_degraded" in event.payload["codes"]
    assert slot_strikes([s.pk for s in slots]) == {slots[0].pk: 1}


@pytest.mark.django_db
def test_a_second_slot_confirms_it_and_the_card_is_graded_with_the_limitation(make_units, reports, slots):
    unit = seat_and_test(slots[0], a_card(make_units), reports["pcie_degraded"])
    assert unit_grade(unit=unit).disposition == "retest"
    unit = seat_and_test(slots[1], unit, reports["pcie_degraded"])
    grade = unit_grade(unit=unit)
    unit.refresh_from_db()
    assert (grade.functional, grade.disposition, unit.state) == ("F-C", "graded", UnitState.GRADED)
    assert grade.reasons[0]["code"] == "pcie.link_degraded"
    assert "retest in another slot" not in grade.reasons[0]["sentence"]


@pytest.mark.django_db
def test_the_same_slot_confirms_nothing(make_units, reports, slots):
    unit = seat_and_test(slots[0], a_card(make_units), reports["pcie_degraded"])
    assert unit_grade(unit=unit).disposition == "retest"
    unit = seat_and_test(slots[0], unit, reports["pcie_degraded"])
    assert unit_grade(unit=unit).disposition == "retest"


@pytest.mark.django_db
def test_a_good_link_in_another_slot_clears_the_card(make_units, reports, slots):
    unit = seat_and_test(slots[0], a_card(make_units), reports["pcie_degraded"])
    unit_grade(unit=unit)
    unit = seat_and_test(slots[1], unit, reports["healthy"])
    grade = unit_grade(unit=unit)
    assert (grade.functional, grade.disposition) == ("F-A", "graded")


@pytest.mark.django_db
def test_a_slot_where_several_cards_show_it_is_flagged(make_units, reports, slots):
    for lot in ("RS1", "RS2"):
        unit = seat_and_test(slots[2], a_card(make_units, lot=lot), reports["pcie_degraded"])
        unit_grade(unit=unit)
    strikes = slot_strikes([s.pk for s in slots])
    assert strikes == {slots[2].pk: 2} and strikes[slots[2].pk] >= SLOT_FLAG_CARDS


def test_what_the_bench_cannot_explain_is_not_retested(reports):
    # A card with bad memory fails wherever it is seated; the link is noted, not a reason to retest.
    results = [c.as_dict() for c in reports["vram_stuck_bit"].checks]
    pcie = next(r for r in results if r["name"] == "pcie")
    pcie["status"] = "warn"
    pcie["findings"] = [{"code": "pcie.link_degraded", "severity": "warn", "sentence": "link gen1 x1",
                         "measured": "gen1 x1", "threshold": "gen4 x16"}]
    grade = grade_results(results, reference=RTX_3080, cosmetic="A")
    assert (grade.functional, grade.disposition) == ("FAIL", "failed")


def test_a_finding_confirmed_elsewhere_counts_against_the_card(reports):
    results = [c.as_dict() for c in reports["pcie_degraded"].checks]
    first = grade_results(results, reference=RTX_3080, cosmetic="A")
    assert first.disposition == "retest" and "pcie.link_degraded" in first.awaiting_another_slot
    confirmed = grade_results(results, reference=RTX_3080, cosmetic="A",
                              confirmed_in_another_slot=frozenset({"pcie.link_degraded",
                                                                   "health.link_degraded_under_load"}))
    assert (confirmed.functional, confirmed.disposition, confirmed.awaiting_another_slot) == ("F-C", "graded", [])
