"""Grading a card from its stored run: the grade is recorded with its reasons and policy version, and the card
moves to graded, repair or failed through the lifecycle, with an event that says why."""

import pytest

from core.errors import InvalidInput
from grading.models import Grade
from grading.services import unit_grade
from inventory.choices import UnitState
from inventory.models import UnitEvent

from .conftest import make_tested_unit


@pytest.mark.django_db
@pytest.mark.parametrize(("profile", "functional", "state", "code"), [
    ("healthy", "F-A", UnitState.GRADED, None),
    ("pcie_degraded", "F-C", UnitState.QUEUED, "pcie.link_degraded"),  # retest in another slot
    ("thermal_runaway", "FAIL", UnitState.REPAIR, "thermal.repaste_needed"),
    ("vram_stuck_bit", "FAIL", UnitState.FAILED, "vram.bad_cell"),
])
def test_grading_records_the_grade_and_moves_the_card(make_units, reports, profile, functional, state, code):
    unit = make_tested_unit(make_units, reports[profile])
    grade = unit_grade(unit=unit, actor_label="test")
    unit.refresh_from_db()
    assert (grade.functional, grade.cosmetic, unit.state) == (functional, "A", state)
    assert grade.policy_version and grade.run == unit.test_runs.get()
    assert [r["code"] for r in grade.reasons][:1] == ([code] if code else [])
    if functional != "FAIL":
        assert grade.ai["largest_model_billions"]["int4"] > 10
        assert grade.marketplace["ebay"]["id"] == (2500 if functional in ("F-A", "F-B") else 3000)
    event = UnitEvent.objects.filter(unit=unit).latest("id")
    if state != UnitState.FAILED:  # a failed card stays failed: no move, no event
        assert event.to_state == state and event.payload["grade"] == grade.pk
        assert event.reason.startswith(f"graded {functional}/A (policy " if state != UnitState.QUEUED
                                       else "retest in another slot")


@pytest.mark.django_db
def test_a_card_never_inspected_is_graded_for_parts_only(make_units, reports):
    unit = make_tested_unit(make_units, reports["healthy"], cosmetic="")
    grade = unit_grade(unit=unit)
    assert grade.functional == "F-A" and grade.cosmetic == ""
    assert grade.marketplace["ebay"] == {"id": 7000, "name": "For parts or not working",
                                         "enum": "FOR_PARTS_OR_NOT_WORKING"}


@pytest.mark.django_db
def test_only_a_card_with_a_finished_run_is_graded(make_units):
    (unit,) = make_units(1)
    with pytest.raises(InvalidInput, match="is received; a card is graded once its test run has finished"):
        unit_grade(unit=unit)
    assert not Grade.objects.exists()


@pytest.mark.django_db
def test_the_grade_command(make_units, reports):
    from io import StringIO

    from django.core.management import CommandError, call_command

    good = make_tested_unit(make_units, reports["healthy"], lot="C1")
    bad = make_tested_unit(make_units, reports["vram_stuck_bit"], lot="C2")
    riser = make_tested_unit(make_units, reports["pcie_degraded"], lot="C3")
    out = StringIO()
    call_command("grade", "--all-tested", stdout=out)
    text = out.getvalue()
    assert f"{good.asset_tag:<13} F-A  /A  → graded" in text and f"{bad.asset_tag:<13} FAIL /A  → failed" in text
    assert f"{riser.asset_tag:<13} F-C  /A  → retest  eBay — (retest first)" in text
    assert "VRAM: " in text and text.strip().endswith("3 graded")
    errors = StringIO()
    with pytest.raises(CommandError, match="1 card\\(s\\) could not be graded") as caught:
        call_command("grade", good.asset_tag, stdout=StringIO(), stderr=errors)  # graded already
    assert caught.value.returncode == 1 and "is graded; a card is graded once" in errors.getvalue()
    with pytest.raises(CommandError, match="no unit with asset tag RF-NOPE") as caught:
        call_command("grade", "RF-NOPE", stdout=StringIO())
    assert caught.value.returncode == 2
    with pytest.raises(CommandError, match="one or the other"):
        call_command("grade", stdout=StringIO())


@pytest.mark.django_db
def test_ebays_refurbished_conditions_follow_the_sellers_standing(make_units, reports, settings):
    settings.REFURB_EBAY_REFURBISHED_PROGRAMME = True
    approved = unit_grade(unit=make_tested_unit(make_units, reports["healthy"], lot="EBAY1"))
    assert approved.marketplace["ebay"] == {"id": 2010, "name": "Excellent - Refurbished",
                                            "enum": "EXCELLENT_REFURBISHED"}
    settings.REFURB_EBAY_REFURBISHED_PROGRAMME = False
    settings.REFURB_EBAY_SELLER_REFURBISHED = False
    plain = unit_grade(unit=make_tested_unit(make_units, reports["healthy"], lot="EBAY2"))
    assert plain.marketplace["ebay"]["id"] == 3000


@pytest.mark.django_db
def test_grading_a_card_that_stays_failed_still_records_the_decision(make_units, walk):
    from inventory.choices import EventKind

    unit = walk(make_units(1, lot="STAYS")[0], "failed")
    events = unit.events.count()
    grade = unit_grade(unit=unit)
    unit.refresh_from_db()
    assert grade.functional == "FAIL" and unit.state == "failed"
    assert unit.events.count() == events + 1
    event = unit.events.order_by("-id").first()
    assert (event.kind, event.from_state, event.to_state, event.via) == (EventKind.GRADE_RECORDED, "failed",
                                                                          "failed", "grading")
    assert event.payload["grade"] == grade.pk and event.payload["codes"] == [r["code"] for r in grade.reasons]
